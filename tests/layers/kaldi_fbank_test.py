"""KaldiFbank against a numpy Kaldi fbank written from Kaldi's docs.

torchaudio (whose `compliance.kaldi.fbank` Audio-MAE calls) cannot be
installed beside torch 2.13: its compiled extension does not load. The
oracle is therefore `kaldi_reference.kaldi_fbank`, a frame-by-frame float64
implementation of Kaldi's feature-window.cc / mel-computations.cc.
"""

import numpy as np
import pytest

from keras_maskspec.layers.kaldi_fbank import KaldiFbank
from tests.layers.kaldi_reference import kaldi_fbank
from tests.test_case import run_layer_test
from tests.test_case import to_numpy


def _audio(batch=2, seconds=1.0, rate=16000):
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 1000 * t)[None] + 0.05
    return (x + 0.1 * rng.normal(size=(batch, t.size))).astype("float32")


@pytest.mark.parametrize("window", ["hanning", "povey", "hamming"])
def test_matches_kaldi_reference(window):
    x = _audio()
    layer = KaldiFbank(window_type=window, mean=0.0, std=1.0, std_scale=1.0)
    out = to_numpy(layer(x))
    assert out.shape == (2, 98, 128)
    for i in range(2):
        expected = kaldi_fbank(x[i], window_type=window)
        # float32 vs float64 log energies: ~2e-4 at the quietest bands.
        np.testing.assert_allclose(out[i], expected, atol=1e-3)
        assert np.abs(out[i] - expected).mean() < 1e-5


def test_normalisation_and_target_length():
    x = _audio(batch=1)
    raw = to_numpy(KaldiFbank(mean=0.0, std=1.0, std_scale=1.0)(x))
    out = to_numpy(KaldiFbank(target_length=112)(x))
    assert out.shape == (1, 112, 128)
    norm = (raw - (-4.2677393)) / (4.5689974 * 2)
    np.testing.assert_allclose(out[:, :98], norm, atol=1e-5)
    # AST / Audio-MAE pad the log fbank with zeros before normalising.
    np.testing.assert_allclose(out[:, 98:], 4.2677393 / 9.1379948, atol=1e-6)
    cropped = to_numpy(KaldiFbank(target_length=50)(x))
    np.testing.assert_allclose(cropped, out[:, :50], atol=1e-6)


def test_layer_config_and_frames():
    layer = KaldiFbank(num_mel_bins=64, low_freq=50.0, high_freq=-400.0)
    run_layer_test(layer, _audio(), expected_shape=(2, 98, 64))
    assert layer.num_frames(160000) == 998
    assert layer.fft_length == 512 and layer.hop_length == 160


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="window_type"):
        KaldiFbank(window_type="blackman-ish")
    with pytest.raises(ValueError, match="target_length"):
        KaldiFbank(target_length=0)
    with pytest.raises(ValueError, match="low_freq"):
        KaldiFbank(low_freq=9000.0)
