import numpy as np
import pytest

from keras_maskspec.layers import MaskTokenRestore
from keras_maskspec.layers import RandomPatchMasking
from tests.test_case import assert_config_complete
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
