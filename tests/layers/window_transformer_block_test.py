import keras
import numpy as np
import pytest

from keras_maskspec.layers import TransformerBlock
from keras_maskspec.layers import WindowTransformerBlock
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def windowed_attention_oracle(x, block, gt, gf):
    """Local attention written from its definition, in numpy float64:
    query (t, f) sees key (t', f') iff both fall in the same window of the
    shifted window grid, i.e. (t - s) // w agrees on both axes."""
    (wt, wf), (st, sf) = block.window_size, block.shift_size
    if wf >= gf:
        wf, sf = gf, 0
    if wt >= gt:
        wt, st = gt, 0
    heads, dim = block.num_heads, block.hidden_dim
    head_dim = dim // heads
    kernel, bias = [w.astype("float64") for w in block.qkv.get_weights()]
    qkv = (x.astype("float64") @ kernel + bias).reshape(
        x.shape[0], gt * gf, 3, heads, head_dim
    )
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    t, f = np.divmod(np.arange(gt * gf), gf)
    win_t, win_f = (t - st) // wt, (f - sf) // wf
    allowed = (win_t[:, None] == win_t[None]) & (win_f[:, None] == win_f[None])
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(head_dim)
    scores = np.where(allowed, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(x.shape[0], -1, dim)
    kernel, bias = [w.astype("float64") for w in block.proj.get_weights()]
    return out @ kernel + bias


@pytest.mark.parametrize(
    "gt, gf, window, shift",
    [
        (8, 8, (4, 4), (0, 0)),
        (8, 8, (4, 4), (2, 0)),  # Audio-MAE's shifted layers
        (8, 8, (4, 4), (2, 2)),
        (7, 6, (4, 4), (1, 3)),  # padded on both axes
        (6, 4, (3, 8), (2, 5)),  # window wider than the frequency axis
        (5, 8, 2, 1),
        (4, 8, (4, 4), (2, 0)),  # one window along time: no time shift
    ],
)
def test_matches_numpy_windowed_attention(gt, gf, window, shift):
    block = WindowTransformerBlock(
        16, 4, 32, frequency_patches=gf, window_size=window, shift_size=shift
    )
    x = np.random.default_rng(0).normal(size=(2, gt * gf, 16))
    x = x.astype("float32")
    block(x)
    got = to_numpy(block._attention(x, training=False))
    expected = windowed_attention_oracle(x, block, gt, gf)
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)


def test_shift_changes_the_neighbourhood():
    x = np.random.default_rng(1).normal(size=(1, 64, 16)).astype("float32")
    plain = WindowTransformerBlock(16, 4, 32, 8, (4, 4), (0, 0))
    shifted = WindowTransformerBlock(16, 4, 32, 8, (4, 4), (2, 0))
    plain(x)
    shifted(x)
    shifted.set_weights(plain.get_weights())
    a = to_numpy(plain._attention(x, False))
    b = to_numpy(shifted._attention(x, False))
    assert np.abs(a - b).max() > 1e-3
    # A patch's output depends only on its window: change a patch outside
    # the first window and the first window's outputs stay put.
    y = x.copy()
    y[0, 5 * 8 + 6] += 10.0  # time 5, frequency 6
    c = to_numpy(plain._attention(y, False))
    first = [t * 8 + f for t in range(4) for f in range(4)]
    np.testing.assert_allclose(a[0, first], c[0, first], atol=1e-5)


def test_one_window_over_the_grid_is_global_attention():
    x = np.random.default_rng(2).normal(size=(2, 24, 16)).astype("float32")
    local = WindowTransformerBlock(16, 4, 32, 4, (6, 4), (0, 0))
    glob = TransformerBlock(16, 4, 32)
    local(x)
    glob(x)
    glob.set_weights(local.get_weights())
    np.testing.assert_allclose(to_numpy(local(x)), to_numpy(glob(x)), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frequency_patches": 0},
        {"frequency_patches": 8, "window_size": (4, 4, 4)},
        {"frequency_patches": 8, "window_size": 0},
        {"frequency_patches": 8, "shift_size": (4, 0)},
        {"frequency_patches": 8, "shift_size": (-1, 0)},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        WindowTransformerBlock(16, 4, 32, **kwargs)


def test_layer_serialization_and_symbolic_call():
    block = WindowTransformerBlock(
        16, 4, 32, frequency_patches=8, shift_size=(2, 0), dropout=0.1, seed=1
    )
    x = np.zeros((2, 48, 16), "float32")
    run_layer_test(block, x, expected_shape=(2, 48, 16))
    run_serialization_test(block)
    run_symbolic_test(block, (None, None, 16), (None, None, 16))


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TF graph shapes"
)
def test_unknown_time_length_in_a_tf_graph():
    import tensorflow as tf

    block = WindowTransformerBlock(16, 4, 32, 8, (4, 4), (2, 0))
    x = np.random.default_rng(3).normal(size=(2, 7 * 8, 16)).astype("float32")
    eager = to_numpy(block(x))
    call = tf.function(block, input_signature=[tf.TensorSpec((None, None, 16))])
    np.testing.assert_allclose(call(x).numpy(), eager, atol=1e-5)
