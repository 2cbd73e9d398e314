"""The OpenMIC loss of the MaskSpec authors (docs/parity.md, row O "loss")."""

import numpy as np
import pytest

from keras_maskspec.models.losses import MaskedBinaryCrossentropy


def _bce(t, z):
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


def test_openmic_loss_averages_over_all_entries():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (4, 20)).astype("float32")
    mask = rng.random((4, 20)) < 0.3
    y_ours = np.where(mask, y, -1.0).astype("float32")  # -1 = unlabelled
    z = rng.normal(size=(4, 20)).astype("float32")
    # The authors: mean over all B x 20 entries of mask * bce.
    want = np.mean(mask * _bce(y, z))
    got = MaskedBinaryCrossentropy(normalize="all")(y_ours, z)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    per_labelled = np.mean(
        (mask * _bce(y, z)).sum(-1) / np.maximum(mask.sum(-1), 1)
    )
    got = MaskedBinaryCrossentropy()(y_ours, z)
    np.testing.assert_allclose(float(got), per_labelled, rtol=1e-5)
    loss = MaskedBinaryCrossentropy(normalize="all")
    assert loss.get_config()["normalize"] == "all"
    with pytest.raises(ValueError, match="normalize='mean'"):
        MaskedBinaryCrossentropy(normalize="mean")


def test_patch_targets_use_the_unbiased_variance():
    from keras_maskspec.models.losses import MaskedPatchMSE

    rng = np.random.default_rng(1)
    t = rng.normal(size=(2, 5, 256)).astype("float32") * 3 + 1
    pred = rng.normal(size=(2, 5, 256)).astype("float32")
    mask = (rng.random((2, 5)) < 0.6).astype("float32")
    # MAE: (t - mean) / sqrt(var(ddof=1) + 1e-6), MSE over hidden patches.
    norm = (t - t.mean(-1, keepdims=True)) / np.sqrt(
        t.var(-1, ddof=1, keepdims=True) + 1e-6
    )
    per_patch = ((pred - norm) ** 2).mean(-1)
    want = (per_patch * mask).sum() / mask.sum()
    got = float(MaskedPatchMSE()(t, pred, sample_weight=mask))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    biased = float(MaskedPatchMSE(variance_ddof=0)(t, pred, sample_weight=mask))
    assert abs(biased - want) > 1e-4
