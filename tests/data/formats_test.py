import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import formats


def test_audio_extensions_are_one_lowercase_list():
    assert len(set(formats.AUDIO_EXTENSIONS)) == len(formats.AUDIO_EXTENSIONS)
    assert all(e == e.lower() for e in formats.AUDIO_EXTENSIONS)
    assert set(formats.WAV_EXTENSIONS) <= set(formats.AUDIO_EXTENSIONS)
    assert set(formats.TFIO_EXTENSIONS) <= set(formats.AUDIO_EXTENSIONS)
    assert formats.is_audio_path("a/B.WAV") and formats.is_audio_path("x.ogg")
    assert not formats.is_audio_path("labels.csv")


@pytest.mark.parametrize(
    "path,expected",
    [("a.wav", True), ("a.wave", True), ("dir.wav/a.flac", False),
     ("a.wavx", False), ("wav", False)],
)  # fmt: skip
def test_extension_regex_matches_like_the_list(path, expected):
    pattern = formats.extension_regex(formats.WAV_EXTENSIONS)
    assert bool(tf.strings.regex_full_match(path, pattern)) == expected
    assert path.endswith(formats.WAV_EXTENSIONS) == expected


@pytest.mark.parametrize(
    "subtype,rate",
    [("PCM_16", 22050), ("PCM_24", 0), ("PCM_U8", 0), ("FLOAT", 0)],
)
def test_probe_pcm16_wav_accepts_only_16_bit_pcm(tmp_path, subtype, rate):
    path = str(tmp_path / "a.wav")
    sf.write(path, np.zeros((100, 2)), 22050, subtype=subtype)
    assert formats.probe_pcm16_wav(path) == rate


def test_probe_pcm16_wav_rejects_truncated_and_other_files(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), np.zeros(1000), 16000, subtype="PCM_16")
    assert formats.probe_pcm16_wav(str(path), max_frames=999) == 0
    assert formats.probe_pcm16_wav(str(path), max_frames=1000) == 16000
    path.write_bytes(path.read_bytes()[:-10])
    assert formats.probe_pcm16_wav(str(path)) == 0
    flac = str(tmp_path / "b.flac")
    sf.write(flac, np.zeros(100), 16000)
    assert formats.probe_pcm16_wav(flac) == 0
    assert formats.probe_pcm16_wav(str(tmp_path / "missing.wav")) == 0
