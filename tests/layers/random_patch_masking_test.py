import keras
import numpy as np
import pytest

from keras_maskspec.layers import MaskTokenRestore
from keras_maskspec.layers import RandomPatchMasking
from keras_maskspec.layers.random_patch_masking import STRATEGIES
from keras_maskspec.layers.random_patch_masking import _block_cover_order
from tests.test_case import assert_config_complete
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def tokens(batch=4, num=40, dim=6):
    x = np.arange(batch * num * dim, dtype="float32")
    return x.reshape(batch, num, dim)


def test_exact_visible_count_and_mask_convention():
    layer = RandomPatchMasking(0.75, seed=0)
    visible, mask, restore = layer(tokens(), training=True)
    visible, mask = to_numpy(visible), to_numpy(mask)
    assert visible.shape == (4, 10, 6)
    np.testing.assert_array_equal(mask.sum(1), [30] * 4)
    # Visible tokens are exactly the unmasked ones.
    x = tokens()
    for b in range(4):
        kept = sorted(visible[b, :, 0].tolist())
        assert kept == sorted(x[b, mask[b] == 0, 0].tolist())


def test_masks_differ_per_example_and_repeat_with_seed():
    x = np.zeros((8, 40, 2), "float32")
    m1 = to_numpy(RandomPatchMasking(0.5, seed=7)(x, training=True)[1])
    m2 = to_numpy(RandomPatchMasking(0.5, seed=7)(x, training=True)[1])
    np.testing.assert_array_equal(m1, m2)
    assert len({tuple(row) for row in m1}) == 8


def test_identity_at_inference_unless_asked():
    x = tokens()
    visible, mask, restore = RandomPatchMasking(0.75)(x, training=False)
    np.testing.assert_array_equal(to_numpy(visible), x)
    assert to_numpy(mask).sum() == 0
    visible, mask, _ = RandomPatchMasking(0.75, apply_at_inference=True)(x)
    assert tuple(visible.shape) == (4, 10, 6)


def test_restore_puts_tokens_back_in_order():
    x = tokens()
    visible, mask, restore = RandomPatchMasking(0.75, seed=1)(x, training=True)
    layer = MaskTokenRestore()
    full = to_numpy(layer(visible, restore))
    mask = to_numpy(mask)
    np.testing.assert_array_equal(full[mask == 0], x[mask == 0])
    token = to_numpy(layer.mask_token)[0, 0]
    np.testing.assert_allclose(full[mask == 1], np.tile(token, (120, 1)))


def test_patchout_mode_drops_a_fixed_number():
    layer = RandomPatchMasking(num_masked=25, seed=0)
    visible, mask, _ = layer(tokens(), training=True)
    assert tuple(visible.shape) == (4, 15, 6)
    assert layer.num_visible(10) == 1  # never empty
    assert_config_complete(layer)
    clone = RandomPatchMasking.from_config(layer.get_config())
    assert clone.num_masked == 25


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mask_ratio": 1.0},
        {"num_masked": -1},
        {"mask_ratio": 0.5, "num_masked": 3},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        RandomPatchMasking(**kwargs)


def test_serialization_and_symbolic_call():
    layer = RandomPatchMasking(0.75, apply_at_inference=True, seed=2)
    run_serialization_test(layer)
    visible, mask, restore = run_symbolic_test(
        layer, (None, 40, 6), (None, 10, 6)
    )
    assert tuple(mask.shape) == (None, 40)
    assert tuple(restore.shape) == (None, 40)
    run_serialization_test(MaskTokenRestore())


# --- Masking strategies -----------------------------------------------------

GT, GF = 16, 8  # a (time, frequency) patch grid, tokens time-major


def grid_mask(strategy, ratio=0.75, batch=32, seed=3, **kwargs):
    layer = RandomPatchMasking(
        ratio, strategy=strategy, frequency_patches=GF, seed=seed, **kwargs
    )
    x = np.arange(batch * GT * GF, dtype="float32").reshape(batch, -1, 1)
    visible, mask, restore = layer(x, training=True)
    return layer, x, to_numpy(visible), to_numpy(mask), to_numpy(restore)


def same_neighbours(mask, value):
    """Mean number of 4-neighbours equal to `value` around such patches."""
    grid = mask.reshape(-1, GT, GF) == value
    padded = np.pad(grid, ((0, 0), (1, 1), (1, 1)))
    around = (
        padded[:, :-2, 1:-1].astype(int)
        + padded[:, 2:, 1:-1]
        + padded[:, 1:-1, :-2]
        + padded[:, 1:-1, 2:]
    )
    return around[grid].mean()


@pytest.mark.parametrize(
    "strategy, ratio",
    [
        ("random", 0.7),
        ("time", 0.7),
        ("frequency", 0.7),
        ("time_frequency", (0.5, 0.25)),
        ("time_frequency", 0.75),
        ("block", 0.7),
        ("inverse_block", 0.7),
    ],
)
def test_every_strategy_hides_the_exact_count(strategy, ratio):
    layer, x, visible, mask, restore = grid_mask(strategy, ratio)
    keep = layer.num_visible(GT * GF)
    assert isinstance(keep, int)
    assert visible.shape == (32, keep, 1)
    np.testing.assert_array_equal(mask.sum(1), [GT * GF - keep] * 32)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    for b in range(32):
        kept = sorted(visible[b, :, 0].tolist())
        assert kept == sorted(x[b, mask[b] == 0, 0].tolist())
    # The restore indices undo the (visible, hidden) shuffle.
    np.testing.assert_array_equal(np.sort(restore, axis=1)[0], np.arange(128))
    full = np.concatenate(
        [visible, np.full((32, GT * GF - keep, 1), -1.0, "float32")], axis=1
    )
    restored = np.take_along_axis(full, restore[..., None], axis=1)
    np.testing.assert_array_equal(restored[mask == 0], x[mask == 0])
    assert (restored[mask == 1] == -1).all()
    # Different per example.
    assert len({tuple(row) for row in mask}) > 16


def test_time_masks_whole_columns_frequency_whole_rows():
    # 0.75 * 128 = 96 hidden = 12 columns of 8 or 6 rows of 16.
    _, _, _, mask, _ = grid_mask("time", 0.75)
    per_column = mask.reshape(-1, GT, GF).sum(2)
    assert set(np.unique(per_column)) == {0.0, GF}
    np.testing.assert_array_equal((per_column == GF).sum(1), [12] * 32)
    _, _, _, mask, _ = grid_mask("frequency", 0.75)
    per_row = mask.reshape(-1, GT, GF).sum(1)
    assert set(np.unique(per_row)) == {0.0, GT}
    # Not a multiple: whole columns plus exactly one partial column.
    _, _, _, mask, _ = grid_mask("time", 0.7)  # 90 = 11 * 8 + 2
    per_column = mask.reshape(-1, GT, GF).sum(2)
    np.testing.assert_array_equal((per_column == GF).sum(1), [11] * 32)
    np.testing.assert_array_equal((per_column == 2).sum(1), [1] * 32)
    # Every column is hidden about equally often.
    _, _, _, mask, _ = grid_mask("time", 0.5, batch=256)
    rate = mask.reshape(-1, GT, GF)[:, :, 0].mean(0)
    assert np.abs(rate - 0.5).max() < 0.15


def test_time_frequency_is_a_union_of_columns_and_rows():
    _, _, _, mask, _ = grid_mask("time_frequency", (0.5, 0.25))
    grid = mask.reshape(-1, GT, GF).astype(bool)
    columns = grid.all(axis=2)  # (batch, GT)
    rows = grid.all(axis=1)  # (batch, GF)
    np.testing.assert_array_equal(columns.sum(1), [8] * 32)
    np.testing.assert_array_equal(rows.sum(1), [2] * 32)
    union = columns[:, :, None] | rows[:, None, :]
    np.testing.assert_array_equal(grid, union)
    # A single ratio r splits into equal axis ratios hiding about r.
    layer = RandomPatchMasking(
        0.75, strategy="time_frequency", frequency_patches=GF
    )
    assert layer.num_visible(GT * GF) == 8 * 4


def test_block_masks_are_contiguous():
    random = same_neighbours(grid_mask("random", 0.5)[3], 1.0)
    block = same_neighbours(grid_mask("block", 0.5)[3], 1.0)
    # Random: about 0.5 x (mean degree ~3.6); 3-5 patch squares: far more.
    assert random < 2.2
    assert block > random + 0.8
    # EAT's inverse blocks: the kept patches cluster, the hidden do not.
    random = same_neighbours(grid_mask("random", 0.8)[3], 0.0)
    inverse = same_neighbours(grid_mask("inverse_block", 0.8)[3], 0.0)
    assert random < 1.0
    assert inverse > random + 1.0


def test_block_size_is_respected():
    # One 2x2 block per 4 hidden patches: with a fixed side of 2 and 4
    # patches hidden on an empty grid, the hidden set is a 2x2 square
    # (possibly clipped at the edge, then topped up from the next block).
    _, _, _, mask, _ = grid_mask("block", 4 / 128, block_size=2, batch=64)
    grid = mask.reshape(-1, GT, GF)
    squares = 0
    for g in grid:
        t, f = np.nonzero(g)
        squares += (np.ptp(t) == 1) and (np.ptp(f) == 1)
    assert squares > 32


def block_oracle(ranks, side, gt, gf):
    """First block (in rank order) covering each patch, by enumeration."""
    high = ranks.shape[0] - gt + 1
    order = np.full((gt, gf), np.inf)
    corners = sorted(
        (ranks[i, j], i - (high - 1), j - (high - 1))
        for i in range(ranks.shape[0])
        for j in range(ranks.shape[1])
    )
    for rank, t0, f0 in corners:
        for t in range(max(t0, 0), min(t0 + side, gt)):
            for f in range(max(f0, 0), min(f0 + side, gf)):
                order[t, f] = min(order[t, f], rank)
    return order


@pytest.mark.parametrize("size, draw", [((3, 3), 0.0), ((2, 4), 0.5)])
def test_block_cover_order_matches_sequential_blocks(size, draw):
    gt, gf, high = 5, 4, size[1]
    rng = np.random.default_rng(0)
    starts = rng.uniform(size=(1, (gt + high - 1) * (gf + high - 1)))
    cover = to_numpy(
        _block_cover_order(
            starts.astype("float32"),
            np.array([draw], "float32"),
            gt,
            gf,
            size,
        )
    )[0]
    ranks = np.argsort(np.argsort(starts[0])).reshape(gt + high - 1, -1)
    side = size[0] + int(draw * (size[1] - size[0] + 1))
    np.testing.assert_array_equal(cover, block_oracle(ranks, side, gt, gf))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategies_repeat_with_a_seed(strategy):
    m1 = grid_mask(strategy, seed=11)[3]
    m2 = grid_mask(strategy, seed=11)[3]
    m3 = grid_mask(strategy, seed=12)[3]
    np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(m1, m3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "spiral", "frequency_patches": 8},
        {"strategy": "time"},
        {"strategy": "time", "frequency_patches": 0},
        {"mask_ratio": (0.5, 0.5), "strategy": "time", "frequency_patches": 8},
        {
            "mask_ratio": (0.5, 1.0),
            "strategy": "time_frequency",
            "frequency_patches": 8,
        },
        {"num_masked": 3, "strategy": "time_frequency", "frequency_patches": 8},
        {"block_size": 3, "strategy": "time", "frequency_patches": 8},
        {"block_size": (4, 2), "strategy": "block", "frequency_patches": 8},
    ],
)
def test_bad_strategy_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        RandomPatchMasking(**kwargs)


def test_tokens_must_form_the_grid():
    layer = RandomPatchMasking(0.5, strategy="time", frequency_patches=7)
    with pytest.raises(ValueError, match="Received: inputs.shape"):
        layer(np.zeros((1, 40, 2), "float32"), training=True)


@pytest.mark.parametrize(
    "strategy, ratio",
    [("block", 0.6), ("time_frequency", (0.5, 0.25)), ("time", 0.5)],
)
def test_strategy_serialization_and_symbolic_call(strategy, ratio):
    layer = RandomPatchMasking(
        ratio, strategy=strategy, frequency_patches=GF, seed=4
    )
    clone = run_serialization_test(layer)
    assert clone.mask_ratio == layer.mask_ratio
    keep = layer.num_visible(GT * GF)
    run_symbolic_test(layer, (None, GT * GF, 3), (None, keep, 3))


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TF graph shapes"
)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unknown_token_count_in_a_tf_graph(strategy):
    import tensorflow as tf

    layer = RandomPatchMasking(
        (0.5, 0.25) if strategy == "time_frequency" else 0.5,
        strategy=strategy,
        frequency_patches=GF,
        seed=0,
    )
    call = tf.function(
        lambda x: layer(x, training=True),
        input_signature=[tf.TensorSpec((None, None, 3))],
    )
    visible, mask, _ = call(tf.zeros((2, GT * GF, 3)))
    expected = layer.num_visible(GT * GF)
    assert visible.shape[1] == expected
    np.testing.assert_array_equal(mask.numpy().sum(1), [GT * GF - expected] * 2)


@pytest.mark.parametrize(
    "ratio, kept",
    # MAE's `int(L * (1 - r))` at N = 496 (the reference's sweep ratios).
    [
        (0.75, 124),
        (0.15, 421),
        (0.2, 396),
        (0.4, 297),
        (0.45, 272),
        (0.65, 173),
        (0.7, 148),
        (0.9, 49),
        (0.95, 24),
    ],
)
def test_visible_count_is_floored_as_mae(ratio, kept):
    assert kept == int(496 * (1 - ratio))
    assert RandomPatchMasking(ratio).num_visible(496) == kept
    visible, _, _ = RandomPatchMasking(ratio, seed=0)(
        np.zeros((1, 496, 2), "float32"), training=True
    )
    assert visible.shape[1] == kept


def test_shared_patchout_keeps_one_token_set_per_batch():
    layer = RandomPatchMasking(num_masked=200, shared=True, seed=0)
    x = np.zeros((8, 496, 2), "float32")
    sets = []
    for _ in range(3):
        mask = to_numpy(layer(x, training=True)[1])
        assert (mask == mask[:1]).all()
        assert mask.sum(1).tolist() == [200.0] * 8
        sets.append(mask[0].tobytes())
    assert len(set(sets)) == 3
    assert RandomPatchMasking.from_config(layer.get_config()).shared
