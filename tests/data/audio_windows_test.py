import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import resampling
from keras_maskspec.data.audio_windows import AudioFileWindows


@pytest.fixture
def long_file(tmp_path):
    """3 minutes of 44.1 kHz stereo noise + tone, as FLAC."""
    rate, seconds = 44100, 180
    rng = np.random.default_rng(0)
    t = np.arange(rate * seconds) / rate
    noise = 0.05 * rng.standard_normal(t.size)
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + noise
    stereo = np.stack([left, 0.5 * left], axis=1).astype(np.float32)
    path = tmp_path / "three minutes.flac"
    sf.write(str(path), stereo, rate, subtype="PCM_16")
    whole, _ = sf.read(str(path), dtype="float32")
    return str(path), whole


def test_slices_match_the_whole_file_resampled(long_file):
    path, whole = long_file
    expected = resampling.resample(whole.mean(axis=1), 44100, 32000)
    audio = AudioFileWindows(path, sample_rate=32000)
    assert len(audio) == expected.shape[0] == 180 * 32000
    for start, stop in [(0, 1000), (12345, 12345 + 320000),
                        (len(audio) - 777, len(audio))]:  # fmt: skip
        np.testing.assert_allclose(
            audio[start:stop], expected[start:stop], atol=2e-5
        )
    assert audio[5:5].shape == (0,)


def test_a_window_costs_a_window_not_the_file(long_file):
    path, _ = long_file
    audio = AudioFileWindows(path, sample_rate=32000)
    window = 10 * 32000
    tracemalloc.start()
    try:
        audio[window : 2 * window]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The whole file decoded as float32 stereo is 63.5 MB; one 10 s window
    # with its resampler context is a few MB.
    whole_bytes = 180 * 44100 * 2 * 4
    assert peak < whole_bytes / 8, peak


def test_bad_files_fail_when_opened(tmp_path):
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    with pytest.raises(bad_clips.AudioReadError, match="zero.wav"):
        AudioFileWindows(str(zero), 16000)
    nan = np.full(3 * 65536, 0.1, np.float32)
    nan[-3] = np.nan  # past the first block
    sf.write(str(tmp_path / "nan.wav"), nan, 16000, subtype="FLOAT")
    with pytest.raises(bad_clips.AudioReadError) as e:
        AudioFileWindows(str(tmp_path / "nan.wav"), 16000)
    assert e.value.reason == bad_clips.NON_FINITE
    with pytest.raises(ValueError, match="channels='all'"):
        AudioFileWindows(str(tmp_path / "nan.wav"), channels="all")


def test_sliding_window_inference_reads_by_window(tmp_path):
    from keras_maskspec import inference
    from keras_maskspec.models import MaskSpecEncoder

    encoder = MaskSpecEncoder.from_preset("maskspec_test")
    rate = encoder.sample_rate
    t = np.arange(int(4.3 * 22050)) / 22050
    path = str(tmp_path / "clip [take 2].wav")
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t), 22050)
    audio = AudioFileWindows(path, sample_rate=rate)
    whole = resampling.resample(sf.read(path, dtype="float32")[0], 22050, rate)
    lazy = inference.sliding_window_inference(encoder, audio, 1.0)
    eager = inference.sliding_window_inference(encoder, whole, 1.0)
    np.testing.assert_allclose(lazy["starts"], eager["starts"])
    np.testing.assert_allclose(
        lazy["mean"]["embedding"], eager["mean"]["embedding"], atol=1e-4
    )
    with pytest.raises(ValueError, match="8000 Hz"):
        inference.sliding_window_inference(
            encoder, AudioFileWindows(path, sample_rate=8000), 1.0
        )
