import numpy as np
import pytest

from keras_maskspec.layers import SpectrogramMixup
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy


def folded_beta(alpha, draws=400_000, seed=0):
    """The authors' weights in numpy: Beta(a, a), then max(lam, 1 - lam)."""
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=draws)
    return np.maximum(lam, 1.0 - lam)


def test_identity_at_inference_and_when_off():
    x = np.random.default_rng(0).normal(size=(4, 10, 3)).astype("float32")
    out = run_layer_test(SpectrogramMixup(0.3, seed=0), x)
    np.testing.assert_array_equal(to_numpy(out), x)
    off = SpectrogramMixup(0.0, seed=0)
    np.testing.assert_array_equal(to_numpy(off(x, training=True)), x)


@pytest.mark.parametrize(
    "alpha, mean, sd, above_09",
    # The colleague's 2e6-draw figures for the folded Beta.
    [(0.3, 0.8660, 0.1494, 0.566), (0.2, 0.8988, 0.1397, 0.673)],
)
def test_lambda_follows_the_folded_beta(alpha, mean, sd, above_09):
    oracle = folded_beta(alpha)
    assert oracle.mean() == pytest.approx(mean, abs=2e-3)
    assert oracle.std() == pytest.approx(sd, abs=2e-3)
    layer = SpectrogramMixup(alpha, seed=0)
    lam, perm = layer.draw(50_000, layer.seed_generator)
    lam = to_numpy(lam)
    assert lam.min() >= 0.5 and lam.max() <= 1.0
    # Standard error of the mean ~7e-4.
    assert lam.mean() == pytest.approx(oracle.mean(), abs=4e-3)
    assert lam.std() == pytest.approx(oracle.std(), abs=4e-3)
    assert (lam > 0.9).mean() == pytest.approx((oracle > 0.9).mean(), abs=0.01)
    assert sorted(to_numpy(perm).tolist()) == list(range(50_000))


def test_inputs_and_labels_are_mixed_with_the_same_draw():
    batch = 16
    layer = SpectrogramMixup(0.3, seed=1)
    # Each example's input is its own one-hot code, so the mixed input
    # reveals (lam, perm) and must equal the mixed labels.
    x = np.eye(batch, dtype="float32")[:, None, :]
    for _ in range(3):
        mixed = to_numpy(layer(x, training=True))[:, 0, :]
        labels = to_numpy(layer.mix_labels(np.arange(batch), batch))
        np.testing.assert_allclose(mixed, labels, atol=1e-6)
        np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-6)
        # Each row: its own class with weight lam >= 0.5, one partner.
        own = labels[np.arange(batch), np.arange(batch)]
        assert (own >= 0.5 - 1e-6).all()
        assert ((labels > 1e-6).sum(1) <= 2).all()
    # Dense (batch, classes) targets give the same as ids.
    dense = to_numpy(layer.mix_labels(np.eye(batch, dtype="float32")))
    np.testing.assert_allclose(dense, labels, atol=1e-6)


def test_unknown_multi_label_entries_stay_unknown():
    layer = SpectrogramMixup(0.3, seed=2)
    y = np.array([[1, -1], [0, 1], [-1, 0], [1, 1]], "float32")
    layer(np.zeros((4, 2), "float32"), training=True)
    mixed = to_numpy(layer.mix_labels(y))
    lam, perm = layer.draw(4, layer.replay_generator)
    lam, perm = to_numpy(lam), to_numpy(perm)
    partner = y[perm]
    expected = lam[:, None] * y + (1 - lam[:, None]) * partner
    expected = np.where((y < 0) | (partner < 0), -1.0, expected)
    np.testing.assert_allclose(mixed, expected, atol=1e-6)


def test_bad_arguments_and_serialization():
    with pytest.raises(ValueError, match="alpha"):
        SpectrogramMixup(-1.0)
    with pytest.raises(ValueError, match="num_classes"):
        SpectrogramMixup(0.3).mix_labels(np.arange(3))
    layer = SpectrogramMixup(0.2, seed=3)
    run_serialization_test(layer)
    run_symbolic_test(layer, (None, 50, 8), (None, 50, 8))
