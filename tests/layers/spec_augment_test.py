import numpy as np
import pytest

from keras_maskspec.layers import SpecAugment
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def reference_time_masks(frames, draws, grid=1000, param=192, seed=0):
    """The authors' rule in numpy: torchaudio's `TimeMasking(192)` on the
    clip zero-padded to 10 s (1000 frames), then cropped to `frames`.
    Returns the masked fraction of the clip's frames, one per draw."""
    rng = np.random.default_rng(seed)
    value = rng.uniform(size=draws) * param
    start = np.floor(rng.uniform(size=draws) * (grid - value))
    end = start + np.floor(value)
    inside = np.clip(end, 0, frames) - np.clip(start, 0, frames)
    return inside / frames


def test_identity_at_inference():
    x = np.ones((2, 50, 32), "float32")
    out = run_layer_test(SpecAugment(10, 20, seed=0), x)
    np.testing.assert_array_equal(to_numpy(out), x)


def test_reference_oracle_gives_the_published_fractions():
    # The colleague's Monte Carlo figures for the token-grid frames (96 of
    # a 1 s clip, 496 of a 5 s one, 992 of a 10 s one).
    for kept, expected in ((96, 0.0453), (496, 0.0956), (992, 0.0962)):
        frac = reference_time_masks(kept, 400_000)
        assert frac.mean() == pytest.approx(expected, abs=1.5e-3)
    assert (reference_time_masks(96, 400_000) == 0).mean() == pytest.approx(
        0.894, abs=3e-3
    )


@pytest.mark.parametrize("seconds", [1, 5, 10])
def test_masked_frame_fraction_follows_the_10_second_grid(seconds):
    frames = 100 * seconds
    draws = 6000
    layer = SpecAugment(
        freq_mask_param=0, masks="example", mask_value=-7.0, seed=0
    )
    x = np.ones((draws, frames, 1), "float32")
    out = to_numpy(layer(x, training=True))[..., 0]
    masked = out == -7.0
    # One contiguous span per clip, inside the clip.
    for row in masked[:200]:
        idx = np.flatnonzero(row)
        if len(idx):
            assert idx[-1] - idx[0] + 1 == len(idx) <= 191
    ours = masked.mean(axis=1)
    oracle = reference_time_masks(frames, 400_000)
    # Standard error of our mean is below 0.003 for every length.
    assert ours.mean() == pytest.approx(oracle.mean(), abs=0.006)
    assert (ours == 0).mean() == pytest.approx((oracle == 0).mean(), abs=0.02)
    if seconds == 1:
        assert 0.035 < ours.mean() < 0.056  # not ~0.75 (own-frames rule)


def test_own_frames_grid_reproduces_the_unpadded_rule():
    layer = SpecAugment(
        freq_mask_param=0, grid_frames=None, masks="example", seed=0
    )
    x = np.ones((6000, 100, 1), "float32")
    ours = (to_numpy(layer(x, training=True))[..., 0] == 0).mean(axis=1)
    oracle = reference_time_masks(100, 400_000, grid=100)
    assert ours.mean() == pytest.approx(oracle.mean(), abs=0.01)


def test_frequency_mask_width_and_start_follow_torchaudio():
    layer = SpecAugment(
        freq_mask_param=48, time_mask_param=0, masks="example", seed=1
    )
    x = np.ones((6000, 1, 128), "float32")
    bands = to_numpy(layer(x, training=True))[:, 0, :] == 0
    widths = bands.sum(axis=1)
    assert widths.max() <= 47
    # E[floor(U * 48)] = 23.5; sd of the mean ~0.18.
    assert widths.mean() == pytest.approx(23.5, abs=0.6)
    # Mean masked fraction of bins (numpy Monte Carlo: 0.1835).
    assert bands.mean() == pytest.approx(0.1835, abs=0.006)


def test_batch_mode_shares_one_mask_per_batch():
    layer = SpecAugment(16, 30, grid_frames=None, seed=0)
    assert layer.masks == "batch"
    x = np.ones((8, 100, 64), "float32")
    seen = set()
    for _ in range(5):
        masked = to_numpy(layer(x, training=True)) == 0
        assert (masked == masked[:1]).all()
        seen.add(masked[0].tobytes())
    assert len(seen) > 1  # a new mask every call


def test_per_bin_mask_value():
    fill = np.linspace(-1.0, 1.0, 8).astype("float32")
    layer = SpecAugment(
        8, 0, grid_frames=None, mask_value=fill.tolist(), seed=3
    )
    x = np.full((4, 20, 8), 100.0, "float32")
    for _ in range(20):  # until a draw has a non-empty band
        out = to_numpy(layer(x, training=True))
        masked_bins = out[0, 0] != 100.0
        if masked_bins.any():
            break
    assert masked_bins.any()
    np.testing.assert_allclose(out[:, :, masked_bins][0, 0], fill[masked_bins])


def test_masks_are_contiguous_bounded_and_per_example():
    x = np.ones((64, 100, 64), "float32")
    layer = SpecAugment(16, 30, grid_frames=None, masks="example", seed=0)
    out = to_numpy(layer(x, training=True))
    zero_frames = (out == 0).all(axis=2)  # whole frames masked
    zero_bins = (out == 0).all(axis=1)  # whole bins masked
    for b in range(64):
        for row, limit in ((zero_frames[b], 30), (zero_bins[b], 16)):
            idx = np.flatnonzero(row)
            assert len(idx) < limit
            if len(idx):
                assert idx[-1] - idx[0] + 1 == len(idx)
    assert len({tuple(r) for r in zero_frames}) > 32


def test_bad_arguments():
    with pytest.raises(ValueError, match="masks"):
        SpecAugment(masks="clip")
    with pytest.raises(ValueError, match="grid_frames"):
        SpecAugment(grid_frames=0)


def test_serialization_and_symbolic_call():
    layer = SpecAugment(10, 20, mask_value=[0.5] * 32, seed=0)
    run_serialization_test(layer)
    run_symbolic_test(layer, (None, 50, 32), (None, 50, 32))
    run_symbolic_test(layer, (None, None, 32), (None, None, 32))
