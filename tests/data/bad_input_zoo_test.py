"""A zoo of the audio files people really have, good and bad.

Every file is written here with soundfile/numpy. Through both pipelines
(and the CLI, marked large): every good clip is used, every bad one is
reported by name, nothing raises. MP3 is written by libsndfile >= 1.1
(soundfile's `format="MP3"`); where it cannot, that case is skipped.
"""

import os
import re
import struct

import numpy as np
import pytest
import soundfile as sf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import pipelines

RATE = 16000
CLIP = 0.25  # seconds per decoded clip


def _tone(seconds, rate, channels=1):
    t = np.arange(max(1, round(seconds * rate))) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440 * t)
    if channels == 2:
        wave = np.stack([wave, -0.5 * wave], axis=1)
    return wave.astype(np.float32)


def _pcm16_wav(samples, extra_data=b"", rate=RATE):
    """A mono 16-bit WAV; `extra_data` lands inside the `data` chunk."""
    data = (np.asarray(samples) * 32767).astype("<i2").tobytes() + extra_data
    pad = b"\0" if len(data) % 2 else b""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
        + b"data" + struct.pack("<I", len(data)) + data + pad
    )  # fmt: skip
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _write(folder, name, data, rate, **kwargs):
    path = os.path.join(folder, name)
    sf.write(path, data, rate, **kwargs)
    return path


def _mp3_supported():
    return "MP3" in sf.available_formats()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """`(folder, good paths, {bad path: reason})`, all in one folder."""
    folder = str(tmp_path_factory.mktemp("zoo"))
    good = [
        _write(folder, "pcm16 16k.wav", _tone(0.5, RATE), RATE,
               subtype="PCM_16"),
        _write(folder, "silence.wav", np.zeros(RATE // 2), RATE),
        _write(folder, "10ms.wav", _tone(0.01, RATE), RATE),
        _write(folder, "8bit.wav", _tone(0.5, RATE), RATE, subtype="PCM_U8"),
        _write(folder, "24bit.wav", _tone(0.5, RATE), RATE, subtype="PCM_24"),
        _write(folder, "32bit.wav", _tone(0.5, RATE), RATE, subtype="PCM_32"),
        _write(folder, "float.wav", _tone(0.5, RATE), RATE, subtype="FLOAT"),
        _write(folder, "stereo.wav", _tone(0.5, RATE, 2), RATE),
        _write(folder, "8k.wav", _tone(0.5, 8000), 8000),
        _write(folder, "22k.wav", _tone(0.5, 22050), 22050),
        _write(folder, "44k.wav", _tone(0.5, 44100), 44100),
        _write(folder, "48k.wav", _tone(0.5, 48000), 48000),
        _write(folder, "clip.flac", _tone(0.5, RATE), RATE),
        _write(folder, "clip.ogg", _tone(0.5, RATE), RATE, format="OGG",
               subtype="VORBIS"),
    ]  # fmt: skip
    if _mp3_supported():
        good.append(
            _write(folder, "clip.mp3", _tone(0.5, RATE), RATE, format="MP3")
        )
    # A data chunk that is not a whole number of frames (odd byte count):
    # soundfile reads it, `tf.audio.decode_wav` rejects it.
    odd = os.path.join(folder, "odd data length.wav")
    with open(odd, "wb") as f:
        f.write(_pcm16_wav(_tone(0.5, RATE), extra_data=b"\x01"))
    good.append(odd)
    # Truncated data: the header promises more than the file holds;
    # soundfile reads the frames that are there.
    whole = _pcm16_wav(_tone(0.5, RATE))
    truncated_data = os.path.join(folder, "truncated data.wav")
    with open(truncated_data, "wb") as f:
        f.write(whole[: len(whole) // 2])
    good.append(truncated_data)

    bad = {}
    zero = os.path.join(folder, "zero.wav")
    open(zero, "wb").close()
    bad[zero] = bad_clips.EMPTY
    text = os.path.join(folder, "readme.wav")
    with open(text, "w") as f:
        f.write("These are my field recordings, do not delete.\n" * 20)
    bad[text] = bad_clips.NOT_AUDIO
    header = os.path.join(folder, "truncated header.wav")
    with open(header, "wb") as f:
        f.write(whole[:20])
    bad[header] = bad_clips.NOT_AUDIO
    nan = _tone(0.5, RATE)
    nan[::100] = np.nan
    bad[_write(folder, "nan.wav", nan, RATE, subtype="FLOAT")] = (
        bad_clips.NON_FINITE
    )
    inf = _tone(0.5, RATE)
    inf[::100] = np.inf
    bad[_write(folder, "inf.wav", inf, RATE, subtype="FLOAT")] = (
        bad_clips.NON_FINITE
    )
    return folder, sorted(good), bad


def _expected_reasons(report):
    return {path: reason for path, reason in report.files()}


def test_pretraining_uses_every_good_clip_and_names_every_bad_one(zoo):
    folder, good, bad = zoo
    ds = pipelines.pretraining_dataset(
        folder, sample_rate=RATE, clip_seconds=CLIP, batch_size=4,
        training=False, shuffle=False,
    )  # fmt: skip
    waves = np.concatenate([b.numpy() for b in ds])
    assert waves.shape == (len(good), round(CLIP * RATE))
    assert np.isfinite(waves).all()
    # Silence stays silent; every other good clip has signal.
    assert (np.abs(waves).max(axis=1) == 0).sum() == 1
    assert _expected_reasons(ds.bad_clip_report) == bad


def test_classification_keeps_each_good_clip_with_its_label(zoo):
    folder, good, bad = zoo
    files = good + sorted(bad)
    manifest = os.path.join(folder, "all.csv")
    with open(manifest, "w", encoding="utf-8") as f:
        f.write("path,label\n")
        for i, path in enumerate(files):
            f.write(f'"{os.path.basename(path)}",{i}\n')
    ds = pipelines.classification_dataset(
        manifest, num_classes=len(files), sample_rate=RATE,
        clip_seconds=CLIP, batch_size=3, one_hot=False, training=True,
        seed=0,
    )  # fmt: skip
    seen = sorted(int(i) for _, y in ds for i in y.numpy())
    # Training drops the last partial batch: all but at most 2 good clips.
    kept = set(seen)
    assert kept <= set(range(len(good))) and len(seen) == len(kept)
    assert len(kept) >= len(good) - 2
    assert _expected_reasons(ds.bad_clip_report) == bad


def test_odd_length_wav_decodes_like_soundfile(zoo):
    folder, good, _ = zoo
    odd = next(p for p in good if "odd data" in p)
    ds = pipelines.pretraining_dataset(
        odd, sample_rate=RATE, clip_seconds=0.5, batch_size=1,
        training=False, shuffle=False,
    )  # fmt: skip
    (wave,) = [b.numpy()[0] for b in ds]
    expected, _ = sf.read(odd, dtype="float32")
    np.testing.assert_allclose(wave, expected[: RATE // 2], atol=1e-4)
    assert ds.bad_clip_report.count == 0


def test_a_folder_of_only_bad_files_is_one_clear_error(tmp_path, zoo):
    _, _, bad = zoo
    folder = tmp_path / "only bad [1]"
    folder.mkdir()
    for path in bad:
        os.symlink(path, folder / os.path.basename(path))
    for make in (
        lambda: pipelines.pretraining_dataset(str(folder), sample_rate=RATE),
        lambda: pipelines.classification_dataset(
            str(folder), labels=[0] * len(bad), sample_rate=RATE
        ),
    ):
        with pytest.raises(ValueError) as e:
            make()
        message = str(e.value)
        assert "No readable audio in 5 files" in message and "\n" not in message
        for name in ("zero.wav", "readme.wav", "nan.wav"):
            assert name in message


@pytest.mark.large
def test_cli_pretrain_on_the_zoo_reports_bad_clips(zoo, tmp_path):
    from tests.cli.helpers import run
    from tests.cli.pretrain_test import TINY_PRETRAIN

    folder, good, bad = zoo
    out = tmp_path / "run"
    result = run(
        "pretrain", "--data", folder, "--epochs", 1, "--batch-size", 4,
        "--clip-seconds", CLIP, "--out", out, *TINY_PRETRAIN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "ran out of data" not in result.output
    # An epoch fills itself from the next pass, so a bad file can be met
    # twice: the line counts skips, the CSV names each file once an epoch.
    assert re.search(r"Epoch 1: \d+ bad clips skipped", result.output)
    rows = (out / "bad_clips.csv").read_text(encoding="utf-8")
    for path in bad:
        assert path in rows
