import os

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import soxr
import tensorflow as tf

from keras_maskspec.data import audio
from keras_maskspec.data import bad_clips


@pytest.mark.parametrize(
    "orig,target", [(44100, 32000), (48000, 32000), (16000, 32000),
                    (22050, 32000), (8000, 16000), (96000, 32000)]
)  # fmt: skip
def test_tf_resample_matches_scipy_resample_poly(orig, target):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(orig // 10 + 7, 2)).astype(np.float32)
    g = np.gcd(orig, target)
    ref = scipy.signal.resample_poly(x, target // g, orig // g, axis=0)
    out = audio.tf_resample(x, orig, target).numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=2e-5)
    mono = audio.tf_resample(x[:, 0], orig, target).numpy()
    np.testing.assert_allclose(mono, ref[:, 0], atol=2e-5)


def test_tf_resample_inside_tf_function_with_dynamic_length(sine):
    fn = tf.function(
        lambda x: audio.tf_resample(x, 44100, 32000),
        input_signature=[tf.TensorSpec([None], tf.float32)],
    )
    x = sine(0.1, 44100)
    np.testing.assert_allclose(
        fn(x).numpy(), audio.resample(x, 44100, 32000), atol=2e-5
    )


def test_resample_agrees_with_soxr_and_removes_aliases(sine):
    x = sine(1.0, 44100, freq=1000.0)
    ours = audio.resample(x, 44100, 32000)
    ref = soxr.resample(x, 44100, 32000, quality="VHQ")
    # Compare away from the edges, where both filters have settled.
    np.testing.assert_allclose(ours[500:-500], ref[500:-500], atol=2e-3)
    # A 20 kHz tone is above the new Nyquist (16 kHz): it must vanish.
    alias = audio.resample(sine(1.0, 44100, freq=20000.0), 44100, 32000)
    assert np.abs(alias[500:-500]).max() < 1e-2


def test_mix_channels_numpy_and_tf_agree():
    stereo = np.array([[1.0, 0.0], [0.5, -0.5]], np.float32)
    expected = {
        "mono": [0.5, 0.0],
        "left": [1.0, 0.5],
        "right": [0.0, -0.5],
        "mid": [0.5, 0.0],
        "side": [0.5, 0.5],
    }
    for mode, value in expected.items():
        np.testing.assert_allclose(audio.mix_channels(stereo, mode), value)
        np.testing.assert_allclose(
            audio.tf_mix_channels(stereo, mode).numpy(), value
        )
    mono = stereo[:, :1]
    assert audio.mix_channels(mono, "all", 2).shape == (2, 2)
    assert audio.tf_mix_channels(mono, "right").numpy().tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="channels='both'"):
        audio.mix_channels(stereo, "both")


def test_crop_or_pad_random_is_seeded_and_in_range():
    x = tf.range(100)
    a = audio.crop_or_pad(x, 10, random=True, seed=tf.constant([1, 2]))
    b = audio.crop_or_pad(x, 10, random=True, seed=tf.constant([1, 2]))
    assert a.numpy().tolist() == b.numpy().tolist()
    assert a.numpy()[0] + 9 == a.numpy()[-1]
    starts = {
        int(audio.crop_or_pad(x, 10, True, tf.constant([i, 0]))[0])
        for i in range(20)
    }
    assert len(starts) > 5 and min(starts) >= 0 and max(starts) <= 90
    assert audio.crop_or_pad(x, 10).numpy()[0] == 45


def test_sliding_windows_cover_the_clip():
    windows = audio.sliding_windows(np.arange(11.0), 4, 4).numpy()
    assert windows.shape == (3, 4)
    assert windows[-1].tolist() == [8.0, 9.0, 10.0, 0.0]
    assert audio.sliding_windows(np.arange(2.0), 4, 2).shape == (1, 4)


@pytest.mark.parametrize(
    "name,subtype",
    [("a.wav", "PCM_U8"), ("b.wav", "PCM_16"), ("c.wav", "PCM_24"),
     ("d.wav", "PCM_32"), ("e.wav", "FLOAT"), ("f.flac", None),
     ("g.ogg", None), ("h.mp3", None), ("i.aiff", None)],
)  # fmt: skip
def test_load_audio_formats(make_audio, sine, name, subtype):
    path = make_audio(name, seconds=1.0, rate=44100, channels=2,
                      subtype=subtype)  # fmt: skip
    out = audio.load_audio(path, 32000, channels="left")
    assert out.dtype == np.float32 and out.shape[0] in (32000, 32001)
    # Lossy codecs add delay and ringing; compare energy, not samples.
    expected = audio.resample(sine(1.0, 44100, channels=2)[:, 0], 44100, 32000)
    np.testing.assert_allclose(
        np.sqrt(np.mean(out[:32000] ** 2)),
        np.sqrt(np.mean(expected**2)),
        rtol=0.05,
    )


def test_load_audio_long_file_reads_only_a_window(tmp_path, monkeypatch):
    # An hour of 8 kHz pcm16 as a sparse file: 57.6 MB on paper, 0 on disk.
    path = tmp_path / "hour.wav"
    data_size = 3600 * 8000 * 2
    header = (
        b"RIFF" + (36 + data_size).to_bytes(4, "little") + b"WAVEfmt "
        + (16).to_bytes(4, "little") + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
        + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little") + b"data"
        + data_size.to_bytes(4, "little")
    )  # fmt: skip
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_size)
    frames_read = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        frames_read.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    out = audio.load_audio(str(path), 16000, num_samples=16000,
                           random_crop=True, seed=0)  # fmt: skip
    assert out.shape == (16000,)
    assert frames_read and max(frames_read) < 3 * 8000
    # Too long for the in-graph WAV path: the probe sends it to soundfile.
    assert audio.probe_pcm16_wav(str(path), max_frames=16000) == 0
    assert audio.probe_pcm16_wav(str(path)) == 8000


def test_long_window_matches_full_decode(make_audio):
    path = make_audio("long.flac", seconds=30.0, rate=44100)
    full = audio.load_audio(path, 32000)
    window = audio.load_audio(path, 32000, num_samples=32000)
    start = (full.shape[0] - 32000) // 2
    np.testing.assert_allclose(window, full[start : start + 32000], atol=1e-3)


def test_load_audio_errors_have_reasons(bad_files):
    reasons = {
        "zero": bad_clips.EMPTY,
        "text": bad_clips.NOT_AUDIO,
        "truncated": bad_clips.NOT_AUDIO,
        "nan": bad_clips.NON_FINITE,
        "missing": bad_clips.UNREADABLE,
    }
    for key, reason in reasons.items():
        with pytest.raises(audio.AudioReadError) as info:
            audio.load_audio(bad_files[key], 16000)
        assert info.value.reason == reason, key
        assert os.path.basename(bad_files[key]) in str(info.value)


def test_short_clip_and_silence_are_kept(make_audio):
    short = make_audio("short.wav", data=np.full(100, 0.25, np.float32))
    out = audio.load_audio(short, 16000, num_samples=1000)
    assert out.shape == (1000,) and out[50] == pytest.approx(0.25, abs=1e-3)
    assert not out[200:].any()
    silent = make_audio("silent.flac", data=np.zeros(1600, np.float32))
    assert not audio.load_audio(silent, 16000).any()


@pytest.mark.parametrize("use_graph_wav", [True, False])
def test_decoder_paths_agree(make_audio, use_graph_wav):
    path = make_audio("x.wav", seconds=0.5, rate=44100, channels=2,
                      subtype="PCM_16")  # fmt: skip
    assert audio.probe_pcm16_wav(path) == 44100
    decode = audio.make_decoder(32000, 12000, channels="mid",
                                use_graph_wav=use_graph_wav)  # fmt: skip
    out, ok = decode(tf.constant(path), tf.constant([0, 0], tf.int64))
    expected = audio.load_audio(path, 32000, "mid", num_samples=12000)
    assert bool(ok)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)


def test_decoder_reports_bad_files(bad_files):
    report = bad_clips.BadClipReport()
    decode = audio.make_decoder(16000, 800, report=report)
    for path in bad_files.values():
        out, ok = decode(tf.constant(path), tf.constant([0, 0], tf.int64))
        assert not bool(ok) and out.shape == (800,)
    assert report.count == len(bad_files)


@pytest.mark.skipif(
    not audio.tfio_available(), reason="tensorflow-io kernels do not load"
)
def test_tfio_path_matches_soundfile(make_audio):
    path = make_audio("t.flac", seconds=0.5, rate=44100, channels=2)
    decode = audio.make_decoder(32000, 12000, use_tfio=True)
    out, ok = decode(tf.constant(path), tf.constant([0, 0], tf.int64))
    expected = audio.load_audio(path, 32000, num_samples=12000)
    assert bool(ok)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-3)


def test_tfio_unavailable_on_this_stack_falls_back_silently(make_audio):
    path = make_audio("u.flac", seconds=0.2, rate=16000)
    decode = audio.make_decoder(16000, 3200)
    _, ok = decode(tf.constant(path), tf.constant([0, 0], tf.int64))
    assert bool(ok)
