import os

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import decode
from keras_maskspec.data import formats
from keras_maskspec.data import resampling


@pytest.mark.parametrize(
    "name,subtype",
    [("a.wav", "PCM_U8"), ("b.wav", "PCM_16"), ("c.wav", "PCM_24"),
     ("d.wav", "PCM_32"), ("e.wav", "FLOAT"), ("f.flac", None),
     ("g.ogg", None), ("h.mp3", None), ("i.aiff", None)],
)  # fmt: skip
def test_load_audio_formats(make_audio, sine, name, subtype):
    path = make_audio(name, seconds=1.0, rate=44100, channels=2,
                      subtype=subtype)  # fmt: skip
    out = decode.load_audio(path, 32000, channels="left")
    assert out.dtype == np.float32 and out.shape[0] in (32000, 32001)
    # Lossy codecs add delay and ringing; compare energy, not samples.
    left = sine(1.0, 44100, channels=2)[:, 0]
    expected = resampling.resample(left, 44100, 32000)
    np.testing.assert_allclose(
        np.sqrt(np.mean(out[:32000] ** 2)),
        np.sqrt(np.mean(expected**2)),
        rtol=0.05,
    )


@pytest.mark.parametrize(
    "name,subtype",
    [("a.wav", "PCM_U8"), ("b.wav", "PCM_16"), ("c.wav", "PCM_24"),
     ("e.wav", "FLOAT"), ("f.flac", "PCM_16"), ("g.flac", "PCM_S8"),
     ("h.aiff", "PCM_S8"), ("i.ogg", None)],
)  # fmt: skip
def test_read_float32_equals_libsndfiles_own_conversion(
    make_audio, name, subtype
):
    # Oracle: soundfile's float32 read; the int16 fast path must match it
    # sample for sample, from the start and after a seek.
    data = np.random.default_rng(3).uniform(-1, 1, (3000, 2))
    path = make_audio(name, rate=16000, subtype=subtype, data=data)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    with sf.SoundFile(path) as f:
        whole = decode.read_float32(f)
        f.seek(1000)
        part = decode.read_float32(f, 500)
    assert whole.dtype == np.float32 and whole.shape == expected.shape
    np.testing.assert_array_equal(whole, expected)
    np.testing.assert_array_equal(part, expected[1000:1500])


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
    out = decode.load_audio(str(path), 16000, num_samples=16000,
                           crop="random", seed=0)  # fmt: skip
    assert out.shape == (16000,)
    assert frames_read and max(frames_read) < 3 * 8000
    # Too long for the in-graph WAV path: the probe sends it to soundfile.
    assert formats.probe_pcm16_wav(str(path), max_frames=16000) == 0
    assert formats.probe_pcm16_wav(str(path)) == 8000


def test_long_window_matches_full_decode(make_audio):
    path = make_audio("long.flac", seconds=30.0, rate=44100)
    full = decode.load_audio(path, 32000)
    window = decode.load_audio(path, 32000, num_samples=32000)
    start = (full.shape[0] - 32000) // 2
    np.testing.assert_allclose(window, full[start : start + 32000], atol=1e-3)


def test_start_crop_is_pad_or_truncate(make_audio):
    # The authors' `pad_or_truncate`: the first num_samples, zero-padded at
    # the end. Long file (windowed read), short file (whole read) and the
    # in-graph WAV decoder agree with a numpy slice of the full decode.
    long = make_audio("long.flac", seconds=30.0, rate=44100)
    full = decode.load_audio(long, 32000)
    start = decode.load_audio(long, 32000, num_samples=32000, crop="start")
    np.testing.assert_allclose(start, full[:32000], atol=1e-3)
    short = make_audio("short.wav", seconds=2.5, rate=32000, subtype="PCM_16")
    whole = decode.load_audio(short, 32000)
    np.testing.assert_allclose(
        decode.load_audio(short, 32000, num_samples=32000, crop="start"),
        whole[:32000],
    )
    for use_graph_wav in (True, False):
        for samples in (40000, 96000):  # truncate, pad
            decoder = decode.make_decoder(
                32000, samples, crop="start", training=True,
                use_graph_wav=use_graph_wav,
            )  # fmt: skip
            seed = tf.constant([3, 4], tf.int64)
            out, ok = decoder(tf.constant(short), seed)
            assert bool(ok)
            expected = np.pad(whole, (0, 96000 - whole.size))[:samples]
            np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)
    with pytest.raises(ValueError, match="crop='left'"):
        decode.load_audio(short, 32000, num_samples=100, crop="left")


def test_load_audio_errors_have_reasons(bad_files):
    reasons = {
        "zero": bad_clips.EMPTY,
        "text": bad_clips.NOT_AUDIO,
        "truncated": bad_clips.NOT_AUDIO,
        "nan": bad_clips.NON_FINITE,
        "missing": bad_clips.UNREADABLE,
    }
    for key, reason in reasons.items():
        with pytest.raises(bad_clips.AudioReadError) as info:
            decode.load_audio(bad_files[key], 16000)
        assert info.value.reason == reason, key
        assert os.path.basename(bad_files[key]) in str(info.value)


def test_short_clip_and_silence_are_kept(make_audio):
    short = make_audio("short.wav", data=np.full(100, 0.25, np.float32))
    out = decode.load_audio(short, 16000, num_samples=1000)
    assert out.shape == (1000,) and out[50] == pytest.approx(0.25, abs=1e-3)
    assert not out[200:].any()
    silent = make_audio("silent.flac", data=np.zeros(1600, np.float32))
    assert not decode.load_audio(silent, 16000).any()


@pytest.mark.parametrize("use_graph_wav", [True, False])
def test_decoder_paths_agree(make_audio, use_graph_wav):
    path = make_audio("x.wav", seconds=0.5, rate=44100, channels=2,
                      subtype="PCM_16")  # fmt: skip
    assert formats.probe_pcm16_wav(path) == 44100
    decoder = decode.make_decoder(32000, 12000, channels="mid",
                                  use_graph_wav=use_graph_wav)  # fmt: skip
    out, ok = decoder(tf.constant(path), tf.constant([0, 0], tf.int64))
    expected = decode.load_audio(path, 32000, "mid", num_samples=12000)
    assert bool(ok)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)


def test_decoder_reports_bad_files(bad_files):
    report = bad_clips.BadClipReport()
    decoder = decode.make_decoder(16000, 800, report=report)
    for path in bad_files.values():
        out, ok = decoder(tf.constant(path), tf.constant([0, 0], tf.int64))
        assert not bool(ok) and out.shape == (800,)
    assert report.count == len(bad_files)


@pytest.mark.skipif(
    not decode.tfio_available(), reason="tensorflow-io kernels do not load"
)
def test_tfio_path_matches_soundfile(make_audio):
    path = make_audio("t.flac", seconds=0.5, rate=44100, channels=2)
    decoder = decode.make_decoder(32000, 12000, use_tfio=True)
    out, ok = decoder(tf.constant(path), tf.constant([0, 0], tf.int64))
    expected = decode.load_audio(path, 32000, num_samples=12000)
    assert bool(ok)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-3)


def test_tfio_unavailable_on_this_stack_falls_back_silently(make_audio):
    path = make_audio("u.flac", seconds=0.2, rate=16000)
    decoder = decode.make_decoder(16000, 3200)
    _, ok = decoder(tf.constant(path), tf.constant([0, 0], tf.int64))
    assert bool(ok)


def test_only_wav_at_the_output_rate_is_decoded_in_graph(make_audio):
    # Resampling goes through soundfile + soxr (issue 14: decode_wav plus
    # the in-graph polyphase matmul cost several times more CPU).
    spec = decode._ClipSpec(32000, 16000, "mono", 2, False)
    same = make_audio("same.wav", seconds=0.5, rate=32000, subtype="PCM_16")
    other = make_audio("other.wav", seconds=0.5, rate=44100, subtype="PCM_16")
    long = make_audio("long.wav", seconds=1.5, rate=32000, subtype="PCM_16")
    assert decode._wav_route(same.encode(), spec) == 0
    assert decode._wav_route(other.encode(), spec) == -1
    assert decode._wav_route(long.encode(), spec) == -1
    decoder = decode.make_decoder(32000, 16000)
    out, ok = decoder(tf.constant(other), tf.constant([0, 0], tf.int64))
    expected = decode.load_audio(other, 32000, num_samples=16000)
    assert bool(ok)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
