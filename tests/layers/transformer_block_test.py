import keras
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


def test_accelerators_take_the_fused_call(monkeypatch):
    # Off CPU (here: the device list says GPU) every backend, JAX included,
    # calls `ops.dot_product_attention`, which Keras routes to cuDNN's flash
    # attention under JAX; the numbers are those of the CPU forms.
    x = np.random.default_rng(3).normal(size=(2, 300, 16)).astype("float32")
    block = TransformerBlock(16, 4, 32)
    on_cpu = to_numpy(block(x))
    calls = []
    fused = keras.ops.dot_product_attention

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return fused(*args, **kwargs)

    monkeypatch.setattr(keras.ops, "dot_product_attention", spy)
    monkeypatch.setattr(keras.distribution, "list_devices", lambda: ["gpu:0"])
    on_gpu = to_numpy(block(x))
    assert calls == [(2, 300, 4, 4)]
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-5, rtol=1e-5)


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


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="JAX's recomputed attention"
)
@pytest.mark.parametrize("heads", [8, 3])
def test_recomputed_attention_matches_torch_sdpa_values_and_gradients(heads):
    # Under JAX, long sequences take `_recomputed_attention` and its
    # hand-written gradient. Oracle: PyTorch's scaled_dot_product_attention
    # and autograd. 8 heads: groups of 4 (batch x heads) slices; 3 heads:
    # groups of one; 300 tokens: a ragged count.
    import jax
    import jax.numpy as jnp

    torch = pytest.importorskip("torch")
    from keras_maskspec.layers.transformer_block import _recomputed_attention

    rng = np.random.default_rng(0)
    q, k, v, up = (
        rng.normal(size=(2, heads, 300, 16)).astype("float32") for _ in range(4)
    )
    q *= 3.0  # peaked weights, so the log-sum-exp matters

    def loss(q, k, v):
        out = _recomputed_attention(q * 16**-0.5, k, v)
        return jnp.sum(out * up), out

    (_, out), grads = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(
        q, k, v
    )
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)
    (expected * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(
        np.asarray(out), expected.detach().numpy(), atol=2e-5, rtol=1e-4
    )
    for got, want in zip(grads, (tq.grad, tk.grad, tv.grad)):
        np.testing.assert_allclose(
            np.asarray(got), want.numpy(), atol=1e-4, rtol=1e-4
        )


def test_long_sequences_train_to_the_same_gradients_on_every_path():
    # At 300 tokens the block's default path is, under JAX, the recomputed
    # attention with its hand-written gradient (TF, PyTorch: the fused
    # call); with attention dropout on (the dropout itself switched off)
    # every backend takes the explicit form, differentiated by autodiff.
    # One SGD step with learning rate 1 moves each weight by its gradient:
    # the two paths must move them alike.
    x = np.random.default_rng(4).normal(size=(2, 300, 16)).astype("float32")
    y = np.random.default_rng(5).normal(size=(2, 300, 16)).astype("float32")

    def update(attention_dropout):
        block = TransformerBlock(
            16, 4, 32, attention_dropout=attention_dropout, seed=0
        )
        block._dropout = lambda values, rate, training: values
        model = keras.Sequential([keras.Input((300, 16)), block])
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        for i, v in enumerate(block.weights):
            value = np.random.default_rng(i).normal(size=v.shape) * 0.3
            v.assign(value.astype("float32"))
        before = [to_numpy(v) for v in block.weights]
        model.train_on_batch(x, y)
        return [b - to_numpy(v) for b, v in zip(before, block.weights)]

    for got, want in zip(update(0.0), update(0.5)):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_mixed_bfloat16_long_sequences_follow_float32():
    # 300 tokens under mixed_bfloat16: under JAX the recomputed attention
    # in bfloat16 with float32 row sums and log-sum-exp. Same weights, so
    # the output follows the float32 block to bfloat16 precision, and a
    # training step (its gradient) gives a finite loss.
    x = np.random.default_rng(6).normal(size=(2, 300, 16)).astype("float32")
    exact = TransformerBlock(16, 4, 32)
    exact.build(x.shape)
    half = TransformerBlock(16, 4, 32, dtype="mixed_bfloat16")
    half.build(x.shape)
    for i, (a, b) in enumerate(zip(exact.weights, half.weights)):
        value = np.random.default_rng(i).normal(size=a.shape) * 0.3
        a.assign(value.astype("float32"))
        b.assign(value.astype("float32"))
    out = run_dtype_policy_test(lambda dtype: half, x)
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(out, "float32")),
        to_numpy(exact(x)),
        atol=0.15,
        rtol=0.05,
    )
    model = keras.Sequential([keras.Input((300, 16)), half])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.train_on_batch(x, np.zeros_like(x))
    assert np.isfinite(float(np.asarray(loss).ravel()[0]))
