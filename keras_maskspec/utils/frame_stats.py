"""Per-mel-bin statistics files: read and write, never executing code.

MaskSpec standardises each mel bin after `(log_mel + 4.5) / 5` with a data
set's `frame_mean`/`frame_std` (`docs/parity.md`, row S1). They come from:

- the authors' norm files (`audioset/mean_std_128.npy`): `np.save` of a
  dict `{all_mean, all_std, frame_mean, frame_std}` in a pickled object
  array, read here through `load_npy`'s restricted unpickler;
- a run folder's cache, `frame_stats.npz` (`save_frame_statistics`);
- JSON with the keys `frame_mean` and `frame_std`;
- the name `"audioset"`: the authors' AudioSet table, bundled as numbers
  (`keras_maskspec.utils.audioset_stats`).
"""

import json
import os

import numpy as np

from keras_maskspec.utils.files import atomic_path
from keras_maskspec.utils.safe_numpy import load_npy
from keras_maskspec.utils.safe_numpy import load_npz

# A run folder's cached statistics.
FRAME_STATS_FILE = "frame_stats.npz"
# `load_frame_statistics(AUDIOSET)`: the authors' bundled AudioSet table.
AUDIOSET = "audioset"


def load_frame_statistics(path):
    """`(frame_mean, frame_std)` from an `.npy`, `.npz` or `.json` file.

    Args:
        path: str or path-like. The authors' `mean_std_128.npy`, a
            `frame_stats.npz` written by `save_frame_statistics`, JSON, or
            `"audioset"` (the authors' AudioSet table, bundled).

    Returns:
        `(frame_mean, frame_std)`, float32 arrays `(num_mel_bins,)` in the
        domain of `(log_mel + 4.5) / 5`.

    Raises:
        UnsafeDataError: the file asks to run code.
        ValueError: keys missing, shapes differ, or a std is not > 0.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "mean_std_128.npy")
    >>> np.save(path, {"frame_mean": np.zeros(2, "float32"),
    ...                "frame_std": np.ones(2, "float32"), "all_mean": 0.0})
    >>> load_frame_statistics(path)[1].tolist()
    [1.0, 1.0]
    >>> round(float(load_frame_statistics("audioset")[0][0]), 6)
    -0.659011
    """
    source = os.fspath(path)
    if source == AUDIOSET:
        from keras_maskspec.utils import audioset_stats

        data = {
            "frame_mean": audioset_stats.AUDIOSET_FRAME_MEAN,
            "frame_std": audioset_stats.AUDIOSET_FRAME_STD,
        }
    elif source.lower().endswith(".json"):
        with open(source) as f:
            data = json.load(f)
    elif source.lower().endswith(".npz"):
        data = load_npz(source)
    else:
        data = load_npy(source)
    if not isinstance(data, dict) or not {"frame_mean", "frame_std"} <= set(
        data
    ):
        raise ValueError(
            f"{source} must hold `frame_mean` and `frame_std`. Received: "
            f"{sorted(data) if isinstance(data, dict) else type(data)}"
        )
    mean = np.asarray(data["frame_mean"], np.float32).reshape(-1)
    std = np.asarray(data["frame_std"], np.float32).reshape(-1)
    if mean.shape != std.shape or not (std > 0).all():
        raise ValueError(
            f"{source}: `frame_mean` and `frame_std` need one shape and "
            f"std > 0. Received: frame_mean.shape={mean.shape}, "
            f"frame_std.shape={std.shape}, min std={std.min()}"
        )
    return mean, std


def save_frame_statistics(path, frame_mean, frame_std, **info):
    """Writes `frame_mean`, `frame_std` (and `info`) to an `.npz`, atomically.

    Args:
        path: str. The file (`<run>/frame_stats.npz`).
        frame_mean: array `(num_mel_bins,)`.
        frame_std: array `(num_mel_bins,)`.
        **info: plain values kept beside them (clips, frames, source).

    Returns:
        `path`.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), FRAME_STATS_FILE)
    >>> _ = save_frame_statistics(path, [0.5, 0.0], [1.0, 2.0], num_clips=3)
    >>> load_frame_statistics(path)[0].tolist()
    [0.5, 0.0]
    """
    path = os.fspath(path)
    arrays = {
        "frame_mean": np.asarray(frame_mean, np.float32),
        "frame_std": np.asarray(frame_std, np.float32),
    }
    arrays.update({k: np.asarray(v) for k, v in info.items()})
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return path
