"""A built-in corpus of synthetic sound events, for demos and tests.

Every clip holds one to three events of one type (its label) at random
onsets, durations, pitches and levels over faint noise, so a model has
structure to learn from and a classifier can tell the types apart. The
corpus is deterministic: clip `i` depends only on `(seed, i)`, and the label
of clip `i` is `i % num_classes`, so classes are balanced.
"""

import csv
import io
import os

import numpy as np
import soundfile as sf

from keras_maskspec.utils import atomic_write_text

CLASS_NAMES = (
    "tone",
    "chord",
    "chirp",
    "noise_burst",
    "clicks",
    "am_tone",
    "fm_tone",
)


def _adsr(n, sr, rng):
    """Attack-decay-sustain-release envelope of `n` samples."""
    attack = max(1, int(rng.uniform(0.005, 0.08) * sr))
    decay = max(1, int(rng.uniform(0.02, 0.2) * sr))
    release = max(1, int(rng.uniform(0.02, 0.3) * sr))
    sustain = rng.uniform(0.4, 0.9)
    i = np.arange(n, dtype=np.float32)
    env = np.minimum(i / attack, 1.0)
    env = np.where(
        i > attack,
        np.maximum(1.0 - (1.0 - sustain) * (i - attack) / decay, sustain),
        env,
    )
    tail = np.clip((n - i) / release, 0.0, 1.0)
    return (env * tail).astype(np.float32)


def _event(kind, n, sr, rng):
    t = np.arange(n, dtype=np.float32) / sr
    two_pi = np.float32(2 * np.pi)
    if kind == "tone":
        f = np.exp(rng.uniform(np.log(150), np.log(3000)))
        return np.sin(two_pi * f * t) * _adsr(n, sr, rng)
    if kind == "chord":
        root = np.exp(rng.uniform(np.log(110), np.log(880)))
        steps = (0, 4, 7) if rng.random() < 0.5 else (0, 3, 7, 10)
        freqs = root * 2.0 ** (np.asarray(steps) / 12.0)
        wave = np.sin(two_pi * freqs[:, None] * t[None, :]).mean(axis=0)
        return wave * _adsr(n, sr, rng)
    if kind == "chirp":
        f0, f1 = np.exp(rng.uniform(np.log(100), np.log(6000), size=2))
        duration = n / sr
        k = f1 / f0
        phase = two_pi * f0 * duration / np.log(k) * (k ** (t / duration) - 1)
        return np.sin(phase) * _adsr(n, sr, rng)
    if kind == "noise_burst":
        spectrum = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
        freqs = np.fft.rfftfreq(n, 1.0 / sr)
        low = rng.uniform(100, 0.25 * sr)
        high = min(0.45 * sr, low * rng.uniform(1.5, 4.0))
        spectrum[(freqs < low) | (freqs > high)] = 0
        wave = np.fft.irfft(spectrum, n)
        wave /= np.abs(wave).max() + 1e-9
        return wave * _adsr(n, sr, rng)
    if kind == "clicks":
        period = max(1, int(sr / rng.uniform(3.0, 25.0)))
        decay = np.exp(-(np.arange(n) % period) / (0.002 * sr))
        return (decay * rng.choice([-1.0, 1.0], size=n)).astype(np.float32)
    if kind == "am_tone":
        fc = np.exp(rng.uniform(np.log(200), np.log(3000)))
        fm = rng.uniform(2.0, 16.0)
        depth = rng.uniform(0.6, 1.0)
        mod = 1.0 + depth * np.sin(two_pi * fm * t)
        return np.sin(two_pi * fc * t) * mod / 2.0 * _adsr(n, sr, rng)
    fc = np.exp(rng.uniform(np.log(300), np.log(3000)))
    fm = rng.uniform(3.0, 12.0)
    beta = rng.uniform(2.0, 10.0)
    phase = two_pi * fc * t + beta * np.sin(two_pi * fm * t)
    return np.sin(phase) * _adsr(n, sr, rng)


def synthetic_clip(index, sample_rate=32000, clip_seconds=10.0, seed=0):
    """Returns clip `index` of the corpus and its label.

    Args:
        index: int. Clip number.
        sample_rate: int. Defaults to `32000`.
        clip_seconds: float. Defaults to `10.0`.
        seed: int. Corpus seed. Defaults to `0`.

    Returns:
        `(waveform, label)`: float32 `(samples,)` in [-1, 1] and an int.

    Examples:

    >>> wave, label = synthetic_clip(3, sample_rate=8000, clip_seconds=1.0)
    >>> wave.shape, CLASS_NAMES[label]
    ((8000,), 'noise_burst')
    """
    n = round(sample_rate * clip_seconds)
    label = int(index) % len(CLASS_NAMES)
    rng = np.random.default_rng([int(seed), int(index)])
    wave = rng.standard_normal(n).astype(np.float32) * 10 ** (
        rng.uniform(-70, -50) / 20
    )
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.uniform(0.15, 0.6) * n)
        length = max(
            1, min(n, length, int(rng.uniform(0.3, 3.0) * sample_rate))
        )
        onset = int(rng.integers(0, n - length + 1))
        level = 10 ** (rng.uniform(-26, -6) / 20)
        event = _event(CLASS_NAMES[label], length, sample_rate, rng)
        wave[onset : onset + length] += level * event.astype(np.float32)
    return np.clip(wave, -1.0, 1.0), label


def synthetic_corpus(num_clips, sample_rate=32000, clip_seconds=10.0, seed=0):
    """Generates the synthetic corpus in memory.

    Args:
        num_clips: int. Number of clips.
        sample_rate: int. Defaults to `32000`.
        clip_seconds: float. Defaults to `10.0`.
        seed: int. Defaults to `0`.

    Returns:
        `(waveforms, labels, class_names)`: float32 `(num_clips, samples)`,
        int64 `(num_clips,)` and the tuple of class names.

    Examples:

    >>> x, y, names = synthetic_corpus(14, sample_rate=8000, clip_seconds=0.5)
    >>> x.shape, np.bincount(y).tolist(), len(names)
    ((14, 4000), [2, 2, 2, 2, 2, 2, 2], 7)
    """
    if int(num_clips) < 1:
        raise ValueError(
            f"`num_clips` must be >= 1. Received: num_clips={num_clips}"
        )
    n = round(sample_rate * clip_seconds)
    waves = np.zeros((int(num_clips), n), np.float32)
    labels = np.zeros(int(num_clips), np.int64)
    for i in range(int(num_clips)):
        waves[i], labels[i] = synthetic_clip(i, sample_rate, clip_seconds, seed)
    return waves, labels, CLASS_NAMES


def write_synthetic_corpus(
    out_dir,
    num_clips=70,
    sample_rate=32000,
    clip_seconds=10.0,
    seed=0,
    format="wav",
):
    """Writes the synthetic corpus as audio files plus `labels.csv`.

    Args:
        out_dir: str. Folder, created if needed.
        num_clips: int. Defaults to `70` (10 per class).
        sample_rate: int. Defaults to `32000`.
        clip_seconds: float. Defaults to `10.0`.
        seed: int. Defaults to `0`.
        format: str. `"wav"` (16-bit PCM) or `"flac"`. Defaults to `"wav"`.

    Returns:
        str, the path of `labels.csv` (columns `path`, `label`,
        `class_name`; paths relative to `out_dir`), usable as a manifest.

    Examples:

    >>> import tempfile
    >>> path = write_synthetic_corpus(tempfile.mkdtemp(), num_clips=2,
    ...                               sample_rate=8000, clip_seconds=0.5)
    >>> with open(path) as f:
    ...     f.read().splitlines()[1]
    'clip_00000.wav,0,tone'
    """
    if format not in ("wav", "flac"):
        raise ValueError(
            f"`format` must be 'wav' or 'flac'. Received: format={format!r}"
        )
    os.makedirs(out_dir, exist_ok=True)
    rows = io.StringIO(newline="")
    writer = csv.writer(rows)
    writer.writerow(["path", "label", "class_name"])
    for i in range(int(num_clips)):
        wave, label = synthetic_clip(i, sample_rate, clip_seconds, seed)
        name = f"clip_{i:05d}.{format}"
        sf.write(os.path.join(out_dir, name), wave, sample_rate,
                 subtype="PCM_16")  # fmt: skip
        writer.writerow([name, label, CLASS_NAMES[label]])
    # The manifest is written last and atomically: if it exists, the whole
    # corpus does.
    csv_path = os.path.join(out_dir, "labels.csv")
    atomic_write_text(csv_path, rows.getvalue())
    return csv_path
