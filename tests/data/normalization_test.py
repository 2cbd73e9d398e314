import numpy as np
import pytest
import tensorflow as tf

from keras_maskspec.data import normalization
from keras_maskspec.data import synthetic


def _frontend(x):
    x = np.asarray(x)
    frames = x[:, : (x.shape[1] // 64) * 64].reshape(x.shape[0], -1, 64)
    return np.log(np.abs(np.fft.rfft(frames, axis=-1))[..., :8] + 1e-3)


def test_stats_match_numpy_over_all_frames():
    x, _, _ = synthetic.synthetic_corpus(10, 8000, 0.5)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(10))).batch(3)
    mean, std = normalization.compute_normalization_stats(ds, _frontend)
    feats = _frontend(x).reshape(-1, 8)
    np.testing.assert_allclose(mean, feats.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std, feats.std(0), rtol=1e-4, atol=1e-5)
    assert mean.dtype == np.float32 and mean.shape == (8,)
    m2, _ = normalization.compute_normalization_stats(
        ds, _frontend, max_batches=1
    )
    np.testing.assert_allclose(m2, _frontend(x[:3]).reshape(-1, 8).mean(0),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_stats_from_sources(tmp_path):
    synthetic.write_synthetic_corpus(tmp_path, 4, 8000, 0.5)
    mean, std = normalization.compute_normalization_stats(
        str(tmp_path), _frontend, sample_rate=8000, clip_seconds=0.5,
        batch_size=2,
    )  # fmt: skip
    x, _, _ = synthetic.synthetic_corpus(4, 8000, 0.5)
    np.testing.assert_allclose(
        mean, _frontend(x).reshape(-1, 8).mean(0), atol=0.05
    )
    assert (std > 0).all()


def test_errors():
    with pytest.raises(TypeError, match="frontend"):
        normalization.compute_normalization_stats([np.ones((1, 64))], None)
    with pytest.raises(ValueError, match="No data"):
        normalization.compute_normalization_stats([], _frontend)


def _small_frontend():
    from keras_maskspec.layers import LogMelSpectrogram

    return LogMelSpectrogram(
        sample_rate=8000, num_mel_bins=16, window_length=200, hop_length=80,
        fft_length=256, fmin=0.0, fmax=None,
    )  # fmt: skip


def test_frame_statistics_equal_numpy_and_standardise_the_model(tmp_path):
    x, _, _ = synthetic.synthetic_corpus(6, 8000, 0.5)
    x = x.astype("float32")
    frontend = _small_frontend()
    batches = [x[:4], x[4:]]
    mean, std = normalization.compute_frame_statistics(
        batches, frontend, verbose=1
    )
    # Numpy statement: per-bin mean and ddof-0 std over every frame of
    # every clip of (log_mel + 4.5) / 5, jitter off.
    log_mel = np.asarray(frontend(x, training=False)) * 5.0 - 4.5
    frames = ((log_mel + 4.5) / 5.0).reshape(-1, 16)
    np.testing.assert_allclose(mean, frames.mean(0), atol=1e-5)
    raw_std = np.std(frames, axis=0)
    floored = np.maximum(raw_std, 0.04)
    np.testing.assert_allclose(std, floored, atol=1e-5)
    assert frontend.mean == -4.5  # the model's layer is not changed
    # Stored in the model, they make its output zero-mean, unit-std per bin.
    frontend.set_statistics(mean, std)
    out = np.asarray(frontend(x, training=False)).reshape(-1, 16)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-4)


def test_frame_statistics_of_the_first_samples_pad_or_truncate():
    # The authors' norm files for SCV2/DCASE/OpenMIC: each clip
    # `pad_or_truncate`d to 32 000 samples first. Oracle: numpy slices and
    # zero padding of the clips, then the whole-clip statistics above.
    x, _, _ = synthetic.synthetic_corpus(4, 8000, 0.5)
    x = x.astype("float32")
    frontend = _small_frontend()
    for n, clipped in [
        (1000, x[:, :1000]),
        (6000, np.pad(x, ((0, 0), (0, 2000)))),
    ]:
        got = normalization.compute_frame_statistics(
            [x[:2], x[2:]], frontend, verbose=0, num_samples=n
        )
        want = normalization.compute_frame_statistics(
            [clipped], frontend, verbose=0
        )
        np.testing.assert_allclose(got, want, atol=1e-6)
    whole = normalization.compute_frame_statistics([x], frontend, verbose=0)
    assert not np.allclose(got[0], whole[0], atol=1e-3)


def test_cached_frame_statistics_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3.0), np.ones(3)

    first = normalization.cached_frame_statistics(str(tmp_path), compute)
    again = normalization.cached_frame_statistics(str(tmp_path), compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first[0], again[0])
    assert (tmp_path / "frame_stats.npz").exists()


def test_a_bin_the_data_never_excites_gets_a_floored_std():
    from keras_maskspec.utils import audioset_stats

    # Amplitude-modulated tones below 500 Hz at 8 kHz: the top mel bins
    # hold only window leakage near the log floor, so their raw std is
    # a few hundredths.
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 8000
    x = np.stack([
        a * np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(6 * np.pi * t + p))
        for a, f, p in zip(rng.uniform(0.1, 1, 6), rng.uniform(200, 500, 6),
                           rng.uniform(0, 6, 6))
    ]).astype("float32")  # fmt: skip
    frontend = _small_frontend()
    raw_mean, raw_std = normalization.compute_frame_statistics(
        [x], frontend, verbose=0, min_std=0.0
    )
    mean, std = normalization.compute_frame_statistics([x], frontend,
                                                      verbose=0)  # fmt: skip
    np.testing.assert_array_equal(mean, raw_mean)
    assert raw_std.min() < 0.02  # the case the floor is for
    np.testing.assert_allclose(std, np.maximum(raw_std, 0.04), rtol=1e-6)
    # Broadband noise later: the floored statistics amplify it less.
    wide = rng.normal(size=(1, 8000)).astype("float32")
    frontend.set_statistics(raw_mean, raw_std)
    raw_out = np.abs(np.asarray(frontend(wide, training=False))).max()
    frontend.set_statistics(mean, std)
    out = np.abs(np.asarray(frontend(wide, training=False))).max()
    assert out < raw_out * 0.6
    # The authors' AudioSet statistics sit above the default floor.
    assert min(audioset_stats.AUDIOSET_FRAME_STD) > 0.04
    with pytest.raises(ValueError, match="min_std"):
        normalization.compute_frame_statistics([x], frontend, min_std=-1)


def test_check_frame_statistics_names_the_bins_audioset_blows_up():
    from keras_maskspec.layers import LogMelSpectrogram
    from keras_maskspec.utils import load_frame_statistics

    # Full-band noise at 32 kHz: energy in the top mel bins, which
    # AudioSet's table (std 0.04-0.05 there) multiplies by ~23.
    noise = 0.1 * np.random.default_rng(0).normal(size=(4, 32000))
    noise = noise.astype("float32")
    frontend = LogMelSpectrogram()
    frontend.set_statistics(*load_frame_statistics("audioset"))
    out = np.asarray(frontend(noise, training=False)).reshape(-1, 128)
    # Oracle: the bins whose standardised spread or mean exceeds 4.
    expected = np.flatnonzero((out.std(0) > 4) | (np.abs(out.mean(0)) > 4))
    assert expected.size and expected.max() == 127
    message = normalization.check_frame_statistics(
        frontend, noise, name="audioset"
    )
    assert message.startswith("The per-mel-bin statistics 'audioset'")
    assert f"mel bins {expected.min()}-127 " in message
    assert "--set frame_stats=train" in message
    # The clips' own statistics fit them.
    mean, std = normalization.compute_frame_statistics(
        [noise], frontend, verbose=0
    )
    frontend.set_statistics(mean, std)
    assert normalization.check_frame_statistics(frontend, noise) is None


def test_ranges():
    assert normalization._ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert normalization._ranges([5]) == "5"
