import pathlib

import numpy as np
import pytest
import soundfile as sf


def _sine(seconds, rate, freq=440.0, channels=1, amplitude=0.5):
    t = np.arange(round(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * np.pi * freq * t)
    if channels == 1:
        return wave.astype(np.float32)
    return np.stack(
        [wave * (c + 1) / channels for c in range(channels)], axis=1
    ).astype(np.float32)


def open_bytes(path):
    return pathlib.Path(path).read_bytes()


@pytest.fixture
def sine():
    """`sine(seconds, rate, freq=440, channels=1)` -> float32 array."""
    return _sine


@pytest.fixture
def make_audio(tmp_path):
    """Writes an audio file under tmp_path and returns its path."""

    def make(
        name, seconds=1.0, rate=16000, channels=1, subtype=None, data=None
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            data = _sine(seconds, rate, channels=channels)
        sf.write(str(path), data, rate, subtype=subtype)
        return str(path)

    return make


@pytest.fixture
def bad_files(tmp_path, make_audio):
    """One file per kind of bad input, plus the reasons they should get."""
    folder = tmp_path / "bad"
    folder.mkdir()
    zero = folder / "zero.wav"
    zero.write_bytes(b"")
    text = folder / "notes.flac"
    text.write_bytes(b"this is not audio at all" * 10)
    good = make_audio("bad/src.flac", seconds=1.0, rate=16000)
    truncated = folder / "truncated.flac"
    truncated.write_bytes(open_bytes(good)[:30])
    nan = np.full(8000, 0.1, np.float32)
    nan[::50] = np.nan  # everywhere, so any window sees one
    nan_path = make_audio("bad/nan.wav", rate=8000, subtype="FLOAT", data=nan)
    return {
        "zero": str(zero),
        "text": str(text),
        "truncated": str(truncated),
        "nan": nan_path,
        "missing": str(folder / "missing.wav"),
    }
