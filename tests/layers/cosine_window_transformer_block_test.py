import numpy as np
import pytest

from keras_maskspec.layers import CosineWindowTransformerBlock
from keras_maskspec.layers.cosine_window_transformer_block import (
    log_relative_coordinates,
)
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy

torch = pytest.importorskip("torch")

from tests.convert import torch_reference as ref  # noqa: E402


def _copy_weights(theirs, ours):
    """Audio-MAE SwinTransformerBlock state -> our block (timm names)."""
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}

    def dense(layer, prefix):
        layer.kernel.assign(state[f"{prefix}.weight"].T)
        layer.bias.assign(state[f"{prefix}.bias"])

    def norm(layer, prefix):
        layer.gamma.assign(state[f"{prefix}.weight"])
        layer.beta.assign(state[f"{prefix}.bias"])

    norm(ours.norm1, "norm1")
    norm(ours.norm2, "norm2")
    dense(ours.qkv, "attn.qkv")
    dense(ours.proj, "attn.proj")
    dense(ours.fc1, "mlp.fc1")
    dense(ours.fc2, "mlp.fc2")
    dense(ours.meta_fc1, "attn.meta_mlp.fc1")
    dense(ours.meta_fc2, "attn.meta_mlp.fc2")
    ours.tau.assign(state["attn.tau"])


def _their_block(dim, heads, grid, window, shift, tau, seed=0):
    torch.manual_seed(seed)
    block = ref.SwinTransformerBlock(dim, heads, grid, window, shift)
    ref.randomize_norms(block, torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        block.attn.tau.copy_(torch.as_tensor(tau, dtype=torch.float32))
        # Larger queries/keys than nn.Linear's default: sharper attention.
        block.attn.qkv.weight.mul_(3.0)
    return block.eval()


@pytest.mark.parametrize(
    "grid, window, shift, tau",
    [
        ((8, 8), (4, 4), (0, 0), [1.0, 0.5]),
        ((8, 8), (4, 4), (2, 0), [0.7, 0.004]),  # Audio-MAE; tau clamped
        ((8, 4), (4, 4), (2, 2), [0.05, 2.0]),  # shift on both axes
        ((4, 2), (4, 4), (2, 2), [1.0, 0.2]),  # window clipped to the grid
    ],
)
def test_matches_audiomae_swin_block(grid, window, shift, tau):
    dim, heads = 16, 2
    theirs = _their_block(dim, heads, grid, window, shift, tau)
    ours = CosineWindowTransformerBlock(
        dim,
        heads,
        4 * dim,
        frequency_patches=grid[1],
        window_size=window,
        shift_size=shift,
        layer_norm_epsilon=1e-6,
    )
    x = np.random.default_rng(0).normal(size=(2, grid[0] * grid[1], dim))
    x = x.astype("float32")
    ours(x)
    _copy_weights(theirs, ours)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    got = to_numpy(ours(x))
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)


def test_relative_coordinates_match_timm():
    window = (4, 3)
    theirs = ref.WindowMultiHeadAttention(8, 2, window)
    np.testing.assert_allclose(
        log_relative_coordinates(window),
        theirs.relative_coordinates_log.numpy(),
        atol=1e-7,
    )


def test_padded_grid_never_attends_to_padding():
    # 6 time rows in 4-row windows shifted by 2: padded to 8 rows, and the
    # cyclic shift puts rows 0-1 in a window with the 2 padded rows only.
    # Padded keys are excluded outright (Audio-MAE has no padding), so rows
    # 0-1 see nothing of rows 2-5, not even at the -100 region penalty.
    block = CosineWindowTransformerBlock(
        16, 2, 32, frequency_patches=4, window_size=(4, 4), shift_size=(2, 0)
    )
    x = np.random.default_rng(1).normal(size=(1, 6 * 4, 16)).astype("float32")
    y = to_numpy(block(x))
    assert np.isfinite(y).all()
    # Each time row only sees rows of its own (shifted) window: rows 0-1
    # (the first shifted window) cannot see rows 2-5.
    x2 = x.copy()
    x2[:, 2 * 4 :] += 5.0
    y2 = to_numpy(block(x2))
    np.testing.assert_allclose(y2[:, : 2 * 4], y[:, : 2 * 4], atol=1e-5)


def test_meta_dropout_only_in_training():
    block = CosineWindowTransformerBlock(
        16, 2, 32, frequency_patches=4, window_size=(2, 2), seed=3
    )
    x = np.random.default_rng(2).normal(size=(1, 4 * 4, 16)).astype("float32")
    a, b = to_numpy(block(x)), to_numpy(block(x))
    np.testing.assert_array_equal(a, b)
    c = to_numpy(block(x, training=True))
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    "kwargs",
    [{"meta_hidden_dim": 0}, {"meta_dropout": 1.0}, {"shift_size": (4, 0)}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        CosineWindowTransformerBlock(
            16, 2, 32, frequency_patches=4, window_size=(4, 4), **kwargs
        )


def test_layer_serialization_and_symbolic_call():
    block = CosineWindowTransformerBlock(
        16,
        2,
        32,
        frequency_patches=4,
        window_size=(2, 4),
        shift_size=(1, 0),
        meta_hidden_dim=24,
        dropout=0.1,
        seed=1,
    )
    x = np.zeros((2, 6 * 4, 16), "float32")
    run_layer_test(block, x, expected_shape=(2, 6 * 4, 16))
    run_serialization_test(block)
    run_symbolic_test(block, (None, None, 16), (None, None, 16))
