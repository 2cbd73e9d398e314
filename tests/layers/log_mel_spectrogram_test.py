import librosa
import numpy as np
import pytest
import scipy.signal

from keras_maskspec.layers import LogMelSpectrogram
from keras_maskspec.layers import mel_filterbank
from tests.test_case import run_layer_test
from tests.test_case import to_numpy


def kaldi_banks(num_bins, fft_length, sample_rate, low, high):
    """Kaldi's `MelBanks` (mel-banks.cc) as written in its documentation."""

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    num_fft_bins = fft_length // 2
    delta = (mel(high) - mel(low)) / (num_bins + 1)
    banks = np.zeros((num_bins, num_fft_bins + 1))
    for b in range(num_bins):
        left = mel(low) + b * delta
        center = left + delta
        right = center + delta
        for i in range(num_fft_bins):
            m = mel(sample_rate / fft_length * i)
            if left < m < right:
                if m <= center:
                    banks[b, i] = (m - left) / (center - left)
                else:
                    banks[b, i] = (right - m) / (right - center)
    return banks.T


def passt_reference(x, sample_rate=32000):
    """The MaskSpec/PaSST eval-mode front end, step by step in numpy."""
    x = x.astype("float64")
    y = x[:, 1:] - 0.97 * x[:, :-1]
    y = np.pad(y, ((0, 0), (512, 512)), mode="reflect")
    window = scipy.signal.get_window("hann", 800, fftbins=False)
    window = np.pad(window, (112, 112))
    n = 1 + (y.shape[1] - 1024) // 320
    frames = np.stack([y[:, i * 320 : i * 320 + 1024] for i in range(n)], 1)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    banks = kaldi_banks(128, 1024, sample_rate, 0.0, 15000.0)
    mel = power @ banks
    return (np.log(mel + 1e-5) + 4.5) / 5.0


def noise(batch=2, samples=16000, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.normal(size=(batch, samples))).astype("float32")


def test_defaults_match_passt_reference():
    x = noise(2, 32000)
    out = to_numpy(LogMelSpectrogram()(x))
    assert out.shape == (2, 100, 128)
    np.testing.assert_allclose(out, passt_reference(x), atol=1e-4)


def test_ten_seconds_give_1000_frames():
    layer = LogMelSpectrogram()
    assert layer.num_frames(320000) == 1000
    assert layer.compute_output_shape((None, 320000)) == (None, 1000, 128)


@pytest.mark.parametrize("scale,norm", [("htk", None), ("slaney", "slaney")])
def test_mel_banks_match_librosa(scale, norm):
    ours = to_numpy(mel_filterbank(64, 1024, 32000, 50.0, 14000.0, scale, norm))
    ref = librosa.filters.mel(
        sr=32000,
        n_fft=1024,
        n_mels=64,
        fmin=50.0,
        fmax=14000.0,
        htk=scale == "htk",
        norm=norm,
    )
    np.testing.assert_allclose(ours, ref.T, atol=1e-5 * ref.max())


def test_kaldi_banks_match_kaldi_formula():
    ours = to_numpy(mel_filterbank(40, 512, 16000, 20.0, 7600.0, "kaldi"))
    np.testing.assert_allclose(
        ours, kaldi_banks(40, 512, 16000, 20.0, 7600.0), atol=1e-5
    )


def test_features_do_not_depend_on_batch_mates():
    quiet = noise(1, 16000, seed=1) * 1e-3
    loud = noise(3, 16000, seed=2) * 100
    layer = LogMelSpectrogram()
    alone = to_numpy(layer(quiet))
    together = to_numpy(layer(np.concatenate([quiet, loud])))[:1]
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_training_jitter_is_per_example_and_off_at_inference():
    x = np.repeat(noise(1, 16000), 4, axis=0)
    layer = LogMelSpectrogram(jitter="example", seed=3)
    evaluation = to_numpy(layer(x, training=False))
    np.testing.assert_allclose(evaluation[0], evaluation[3], atol=1e-6)
    trained = to_numpy(layer(x, training=True))
    assert not np.allclose(trained[0], trained[1], atol=1e-4)
    # Jitter moves band edges by a few Hz to 1 kHz, never wildly.
    assert np.abs(trained - evaluation).mean() < 0.2


def test_batch_jitter_draws_one_bank_per_call():
    # The authors draw fmin/fmax once per forward call (per GPU batch).
    x = np.repeat(noise(1, 16000), 4, axis=0)
    layer = LogMelSpectrogram(seed=3)
    assert layer.jitter == "batch"
    evaluation = to_numpy(layer(x, training=False))
    calls = [to_numpy(layer(x, training=True)) for _ in range(3)]
    for trained in calls:
        np.testing.assert_allclose(trained[0], trained[3], atol=1e-6)
        assert np.abs(trained - evaluation).mean() < 0.2
    assert not np.allclose(calls[0][0], calls[1][0], atol=1e-4)


def test_set_statistics_is_the_authors_per_bin_standardisation():
    # MaskSpec: z = ((log(mel + 1e-5) + 4.5) / 5 - frame_mean) / frame_std.
    rng = np.random.default_rng(0)
    fm = rng.uniform(-1.0, 1.0, 128).astype("float32")
    fs = rng.uniform(0.3, 1.0, 128).astype("float32")
    x = noise(2, 16000)
    log_mel = to_numpy(LogMelSpectrogram(mean=0.0, std=1.0)(x))
    layer = LogMelSpectrogram()
    layer.set_statistics(fm, fs)
    expected = ((log_mel + 4.5) / 5 - fm) / fs
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=2e-4)
    back_mean, back_std = layer.frame_statistics()
    np.testing.assert_allclose(back_mean, fm, atol=1e-6)
    np.testing.assert_allclose(back_std, fs, atol=1e-6)
    # A log-mel 0 (SpecAugment's fill) reads ((0 + 4.5) / 5 - fm) / fs.
    np.testing.assert_allclose(
        layer.normalized_value(0.0), (0.9 - fm) / fs, rtol=1e-5, atol=1e-6
    )
    clone = LogMelSpectrogram.from_config(layer.get_config())
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(layer(x)))
    with pytest.raises(ValueError, match="frame_std"):
        layer.set_statistics(fm, -fs)
    with pytest.raises(ValueError, match="frame_mean"):
        layer.set_statistics(fm[:3], fs)


def test_adapt_normalises_per_bin():
    layer = LogMelSpectrogram(sample_rate=16000, num_mel_bins=32)
    data = noise(4, 16000) * np.linspace(0.1, 2, 4)[:, None]
    layer.adapt(data.astype("float32"))
    out = to_numpy(layer(data.astype("float32"))).reshape(-1, 32)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-2)
    clone = LogMelSpectrogram.from_config(layer.get_config())
    assert clone.mean == layer.mean


def test_config_round_trip():
    layer = LogMelSpectrogram(
        sample_rate=16000,
        fft_length=512,
        window_length=400,
        hop_length=160,
        num_mel_bins=64,
        mel_scale="slaney",
        mel_norm="slaney",
        window="hamming",
    )
    run_layer_test(layer, noise(2, 8000), expected_shape=(2, 50, 64))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"window_length": 2048}, "window_length"),
        ({"mel_scale": "bark"}, "mel_scale"),
        ({"window": "kaiser"}, "window"),
        ({"fmax": 40000.0}, "fmax"),
        ({"mean": [0.0, 1.0]}, "mean"),
        ({"hop_length": 0}, "hop_length"),
        ({"jitter": "clip"}, "jitter"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LogMelSpectrogram(**kwargs)
