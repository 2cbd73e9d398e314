import numpy as np
import pytest

from keras_maskspec.layers import PatchEmbedding
from keras_maskspec.layers import Patchify
from keras_maskspec.layers import SinCosPositionEmbedding
from keras_maskspec.layers import patchify
from keras_maskspec.layers import sincos_position_embedding
from keras_maskspec.layers import unpatchify
from tests.test_case import run_dtype_policy_test
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def mae_1d_sincos(dim, positions):
    """MAE's `get_1d_sincos_pos_embed_from_grid` (models/pos_embed.py)."""
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", positions.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def test_patchify_round_trip_and_layout():
    x = np.random.default_rng(0).normal(size=(2, 40, 32)).astype("float32")
    p = to_numpy(patchify(x, (16, 8)))
    assert p.shape == (2, 2 * 4, 128)
    # Patch (t=1, f=2) is rows 16..31, bins 16..23, flattened row-major.
    np.testing.assert_array_equal(p[0, 1 * 4 + 2], x[0, 16:32, 16:24].ravel())
    back = to_numpy(unpatchify(p, 4, (16, 8)))
    np.testing.assert_array_equal(back, x[:, :32])


def test_patchify_layer_matches_function():
    x = np.random.default_rng(1).normal(size=(2, 100, 128)).astype("float32")
    run_layer_test(Patchify((16, 16)), x, expected_shape=(2, 48, 256))


def test_sincos_matches_mae_formula():
    table = to_numpy(sincos_position_embedding(62, 8, 64))
    t, f = np.meshgrid(np.arange(62), np.arange(8), indexing="ij")
    expected = np.concatenate(
        [mae_1d_sincos(32, t.ravel()), mae_1d_sincos(32, f.ravel())], axis=1
    )
    np.testing.assert_allclose(table, expected, atol=1e-5)


def test_position_codes_are_consistent_across_lengths():
    short = to_numpy(sincos_position_embedding(6, 8, 32))
    long = to_numpy(sincos_position_embedding(62, 8, 32))
    np.testing.assert_allclose(short, long[: 6 * 8], atol=1e-6)


def test_position_layer_any_length():
    layer = SinCosPositionEmbedding()
    for frames in (6, 31, 62):
        grid = np.zeros((2, frames, 8, 32), "float32")
        out = to_numpy(layer(grid))
        assert out.shape == (2, frames * 8, 32)


def test_patch_embedding_is_linear_map_of_patches():
    x = np.random.default_rng(2).normal(size=(2, 48, 32)).astype("float32")
    layer = PatchEmbedding(8, patch_size=(16, 8))
    out = to_numpy(run_layer_test(layer, x, expected_shape=(2, 3, 4, 8)))
    kernel, bias = [to_numpy(w) for w in layer.weights]
    flat = to_numpy(patchify(x, (16, 8)))
    expected = flat @ kernel.reshape(128, 8) + bias
    np.testing.assert_allclose(out.reshape(2, 12, 8), expected, atol=1e-4)


def test_overlapping_patches():
    layer = PatchEmbedding(8, patch_size=16, patch_stride=(10, 16))
    out = layer(np.zeros((1, 100, 128), "float32"))
    assert tuple(out.shape) == (1, 9, 8, 8)
    assert layer.grid_shape(100, 128) == (9, 8)


def test_patch_embedding_serialization_symbolic_call_and_dtype():
    layer = PatchEmbedding(8, patch_size=16, patch_stride=(10, 16))
    run_serialization_test(layer)
    run_symbolic_test(layer, (None, 100, 128), (None, 9, 8, 8))
    run_dtype_policy_test(
        lambda dtype: PatchEmbedding(8, patch_size=16, dtype=dtype),
        np.zeros((1, 32, 128), "float32"),
    )
    run_serialization_test(SinCosPositionEmbedding())


@pytest.mark.parametrize("hidden_dim", [192, 384, 768])
def test_patch_embedding_init_is_maes_xavier_of_the_flat_kernel(hidden_dim):
    # MAE: xavier_uniform_ on the weight viewed as (D, 16 * 16), so
    # Var = 2 / (256 + D); torch's Conv2d bias default U(-1/16, 1/16).
    layer = PatchEmbedding(hidden_dim)
    layer.build((None, 100, 128))
    kernel = to_numpy(layer.projection.kernel)
    bias = to_numpy(layer.projection.bias)
    expected = 2.0 / (256 + hidden_dim)
    assert kernel.var() == pytest.approx(expected, rel=0.02)
    assert np.abs(kernel).max() <= np.sqrt(3 * expected) + 1e-7
    assert np.abs(bias).max() <= 1 / 16
    assert bias.var() == pytest.approx((1 / 16) ** 2 / 3, rel=0.25)
    run_serialization_test(layer)
