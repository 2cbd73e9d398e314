import numpy as np
import pytest
from scipy.special import erf
from scipy.special import softmax

from keras_maskspec.layers import DropPath
from keras_maskspec.layers import TransformerBlock
from tests.test_case import run_dtype_policy_test
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def layer_norm(x, gamma, beta, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def reference_block(x, w, heads):
    """timm `Block.forward` written out in numpy."""
    b, n, d = x.shape
    h = layer_norm(x, w["norm1/gamma"], w["norm1/beta"])
    qkv = (h @ w["qkv/kernel"] + w["qkv/bias"]).reshape(b, n, 3, heads, -1)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    att = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads), -1)
    out = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
    x = x + out @ w["proj/kernel"] + w["proj/bias"]
    h = layer_norm(x, w["norm2/gamma"], w["norm2/beta"])
    h = h @ w["fc1/kernel"] + w["fc1/bias"]
    h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
    return x + h @ w["fc2/kernel"] + w["fc2/bias"]


# 300 tokens: three query blocks of the explicit attention, the last one
# ragged (`_QUERY_CHUNK` = 128), under JAX and with attention dropout.
@pytest.mark.parametrize("tokens", [7, 300])
def test_matches_numpy_reference(tokens):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, tokens, 16)).astype("float32")
    block = TransformerBlock(16, 4, 32)
    out = to_numpy(run_layer_test(block, x, expected_shape=(2, tokens, 16)))
    weights = {}
    for v in block.weights:
        # Randomise norms too, so the reference checks them.
        value = rng.normal(size=v.shape).astype("float32") * 0.3
        v.assign(value)
        weights["/".join(v.path.split("/")[-2:])] = value.astype("float64")
    out = to_numpy(block(x))
    expected = reference_block(x.astype("float64"), weights, 4)
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=1e-4)


def test_explicit_blocked_attention_matches_the_fused_call():
    # With attention dropout on while training, every backend takes the
    # explicit attention in query blocks. With the dropout itself switched
    # off on this instance it must match the inference call (TF and
    # PyTorch: the fused `ops.dot_product_attention`).
    x = np.random.default_rng(2).normal(size=(2, 300, 16)).astype("float32")
    block = TransformerBlock(16, 4, 32, attention_dropout=0.5, seed=0)
    fused = to_numpy(block(x))
    block._dropout = lambda values, rate, training: values
    explicit = to_numpy(block(x, training=True))
    np.testing.assert_allclose(explicit, fused, atol=1e-5, rtol=1e-5)


def test_dropout_and_drop_path_only_while_training():
    x = np.random.default_rng(1).normal(size=(4, 5, 16)).astype("float32")
    block = TransformerBlock(16, 2, 32, dropout=0.5, drop_path=0.5, seed=1)
    a, b = to_numpy(block(x)), to_numpy(block(x))
    np.testing.assert_allclose(a, b)
    assert not np.allclose(to_numpy(block(x, training=True)), a)


def test_drop_path_drops_whole_examples():
    layer = DropPath(0.5, seed=0)
    out = to_numpy(layer(np.ones((64, 3, 2), "float32"), training=True))
    per_example = out.reshape(64, -1)
    assert set(np.unique(per_example)) <= {0.0, 2.0}
    assert (per_example.min(1) == per_example.max(1)).all()
    assert 10 < (per_example[:, 0] == 0).sum() < 54


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerBlock(10, 3, 20)


def test_serialization_symbolic_call_and_dtype_policy():
    block = TransformerBlock(16, 2, 32, dropout=0.1, drop_path=0.1, seed=3)
    run_serialization_test(block)
    run_serialization_test(DropPath(0.2, seed=1))
    run_symbolic_test(block, (None, 7, 16), (None, 7, 16))
    run_dtype_policy_test(
        lambda dtype: TransformerBlock(16, 2, 32, dtype=dtype),
        np.zeros((2, 7, 16), "float32"),
    )


def test_random_draws_are_independent_and_repeat_with_seed():
    x = np.ones((64, 4, 16), "float32")

    def branch_masks(seed):
        # Identity weights on the residual branches' inputs: with the
        # branches zeroed, the output shows which examples drop-path kept.
        block = TransformerBlock(16, 2, 32, drop_path=0.5, seed=seed)
        block.build(x.shape)
        for v in block.weights:
            v.assign(np.zeros(v.shape, "float32"))
        block.fc2.bias.assign(np.ones(16, "float32"))
        block.proj.bias.assign(np.ones(16, "float32"))
        out = to_numpy(block(x, training=True))[:, 0, 0]
        return np.round(out - 1.0, 3)  # 0, 2 or 4 per example

    a, b = branch_masks(5), branch_masks(5)
    np.testing.assert_array_equal(a, b)
    # The two drop-path draws of one call are not the same draw: some
    # examples keep exactly one branch (value 2).
    assert (a == 2).any()


def test_init_is_maes_xavier_uniform_zero_bias_and_unit_norms():
    # MAE `_init_weights`: every nn.Linear xavier_uniform_ (bound
    # sqrt(6 / (fan_in + fan_out)), qkv as one (D, 3D) matrix), bias 0;
    # LayerNorm weight 1, bias 0, eps 1e-6. Oracle: scipy's uniform law.
    from scipy import stats

    dim, hidden = 96, 384
    block = TransformerBlock(dim, 4, hidden, seed=0)
    block.build((None, 8, dim))
    shapes = {"qkv": (dim, 3 * dim), "proj": (dim, dim)}
    shapes.update({"fc1": (dim, hidden), "fc2": (hidden, dim)})
    for name, (fan_in, fan_out) in shapes.items():
        dense = getattr(block, name)
        kernel = to_numpy(dense.kernel).ravel()
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= bound
        uniform = stats.uniform(loc=-bound, scale=2 * bound)
        assert stats.kstest(kernel, uniform.cdf).pvalue > 1e-3, name
        np.testing.assert_array_equal(to_numpy(dense.bias), 0.0)
    for norm in (block.norm1, block.norm2):
        assert norm.epsilon == 1e-6
        np.testing.assert_array_equal(to_numpy(norm.gamma), 1.0)
        np.testing.assert_array_equal(to_numpy(norm.beta), 0.0)
