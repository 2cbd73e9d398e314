"""Per-mel-bin normalisation statistics of a dataset, in one pass.

MaskSpec standardises each mel bin after `(log_mel + 4.5) / 5` with data-set
statistics (`docs/parity.md`, row S1). `compute_frame_statistics` computes
them with a model's own front end (jitter off), `cached_frame_statistics`
computes them once per run folder (`frame_stats.npz`) and reads them back
on resume; `LogMelSpectrogram.set_statistics` stores them in the model, so
`predict`, export and serving use them.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_maskspec.utils.frame_stats import FRAME_STATS_FILE
from keras_maskspec.utils.frame_stats import load_frame_statistics
from keras_maskspec.utils.frame_stats import save_frame_statistics


def compute_normalization_stats(
    dataset_or_sources,
    frontend,
    sample_rate=32000,
    clip_seconds=10.0,
    batch_size=16,
    max_batches=None,
    verbose=0,
):
    """Mean and standard deviation of every feature bin over a dataset.

    Statistics pool all clips and frames, accumulated in float64 (sums and
    sums of squares per batch, merged with Chan's parallel formula) so they
    stay exact over millions of frames.

    Args:
        dataset_or_sources: a `tf.data.Dataset` (or any iterable) of
            waveform batches `(batch, samples)` (tuples use their first
            element), or sources accepted by `pretraining_dataset` (then
            read once, centre-cropped, unshuffled).
        frontend: callable mapping `(batch, samples)` to
            `(batch, frames, bins)`, e.g. a `LogMelSpectrogram` layer.
        sample_rate: int. Used when reading sources. Defaults to `32000`.
        clip_seconds: float. Used when reading sources. Defaults to `10.0`.
        batch_size: int. Used when reading sources. Defaults to `16`.
        max_batches: int. Stop after this many batches. Defaults to all.
        verbose: int. 1 shows a progress bar (batches). Defaults to `0`.

    Returns:
        `(mean, std)`, float32 numpy arrays `(bins,)`.

    Examples:

    >>> batches = [np.ones((2, 6), "float32"), np.zeros((2, 6), "float32")]
    >>> frontend = lambda x: np.reshape(x, (x.shape[0], 3, 2))
    >>> mean, std = compute_normalization_stats(batches, frontend)
    >>> mean.tolist(), std.tolist()
    ([0.5, 0.5], [0.5, 0.5])
    """
    if not callable(frontend):
        raise TypeError(
            f"`frontend` must be callable. Received: frontend={frontend!r}"
        )
    data = dataset_or_sources
    if isinstance(data, (str, bytes)) or (
        isinstance(data, (list, tuple))
        and data
        and isinstance(data[0], (str, bytes))
    ):
        from keras_maskspec.data.pipelines import pretraining_dataset

        data = pretraining_dataset(
            data,
            sample_rate=sample_rate,
            clip_seconds=clip_seconds,
            batch_size=batch_size,
            shuffle=False,
            training=False,
        )
    count, mean, m2 = 0, None, None
    progress = keras.utils.Progbar(max_batches, verbose=1) if verbose else None
    for step, batch in enumerate(data):
        if max_batches is not None and step >= max_batches:
            break
        if progress is not None:
            progress.update(step + 1)
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        if isinstance(batch, tf.Tensor):
            batch = batch.numpy()
        features = np.asarray(keras.ops.convert_to_numpy(frontend(batch)))
        features = features.reshape(-1, features.shape[-1]).astype(np.float64)
        n = features.shape[0]
        if n == 0:
            continue
        b_mean = features.mean(axis=0)
        b_m2 = ((features - b_mean) ** 2).sum(axis=0)
        if mean is None:
            count, mean, m2 = n, b_mean, b_m2
            continue
        delta = b_mean - mean
        total = count + n
        mean = mean + delta * n / total
        m2 = m2 + b_m2 + delta**2 * count * n / total
        count = total
    if mean is None:
        raise ValueError(
            "No data to compute statistics from. Received: "
            f"dataset_or_sources={dataset_or_sources!r}"
        )
    std = np.sqrt(m2 / count)
    return mean.astype(np.float32), std.astype(np.float32)


def compute_frame_statistics(
    data, frontend, max_batches=None, verbose=1, min_std=0.04, num_samples=None
):
    """`(frame_mean, frame_std)` per mel bin of `(log_mel + 4.5) / 5`.

    The statistics the authors' norm files hold and
    `LogMelSpectrogram.set_statistics` takes: one pass with a copy of
    `frontend` whose own standardisation is reset to `(x + 4.5) / 5`,
    fmin/fmax jitter off (inference mode), ddof 0 over all frames.

    A bin the data never excites (band-limited or synthetic audio: only
    the log floor) has a std near 0, and dividing by it would turn any
    later energy there into values in the tens or thousands. Each std is
    therefore floored at `min_std` (in units of `(log_mel + 4.5) / 5`).
    The default, 0.04, is just below the smallest std of the authors'
    AudioSet statistics (0.043, median 0.73), so real-audio statistics
    keep their values and no bin is amplified much more than the
    authors' own quietest AudioSet bin (25x vs 23x).

    Args:
        data: a dataset or iterable of waveform batches (see
            `compute_normalization_stats`).
        frontend: a `LogMelSpectrogram` (e.g. `encoder.frontend`); it is
            not changed.
        max_batches: int. Stop after this many batches (the authors used
            10 000 clips). Defaults to all.
        verbose: int. 1 shows a progress bar. Defaults to `1`.
        min_std: float. Floor of each std; `0` keeps the raw values.
            Defaults to `0.04`.
        num_samples: int or `None`. Keep the first this many samples of
            each clip, zero-padding shorter ones (the authors'
            `pad_or_truncate`; their Speech Commands, DCASE and OpenMIC
            statistics use 1 s). Defaults to `None` (whole clips).

    Returns:
        `(frame_mean, frame_std)`, float32 arrays `(num_mel_bins,)`.

    Examples:

    >>> from keras_maskspec.layers import LogMelSpectrogram
    >>> layer = LogMelSpectrogram(sample_rate=16000, num_mel_bins=8,
    ...                           window_length=400, hop_length=160,
    ...                           fft_length=512, fmax=None)
    >>> waves = [np.random.default_rng(0).normal(size=(2, 4000))]
    >>> mean, std = compute_frame_statistics(waves, layer, verbose=0)
    >>> mean.shape, bool((std > 0).all())
    ((8,), True)
    """
    reference = type(frontend).from_config(frontend.get_config())
    reference.set_statistics(0.0, 1.0)

    def features(batch):
        if num_samples is not None:
            batch = batch[:, :num_samples]
            pad = [(0, 0)] * batch.ndim
            pad[1] = (0, num_samples - batch.shape[1])
            batch = np.pad(batch, pad)
        return reference(keras.ops.convert_to_tensor(batch), training=False)

    if not min_std >= 0:
        raise ValueError(f"`min_std` must be >= 0. Received: min_std={min_std}")
    mean, std = compute_normalization_stats(
        data, features, max_batches=max_batches, verbose=verbose
    )
    return mean, np.maximum(std, np.float32(min_std)).astype(np.float32)


def check_frame_statistics(frontend, waveforms, limit=4.0, name=None):
    """Says when a front end's per-bin statistics do not fit some clips.

    Standardised log-mel bins should have a spread of about 1. Statistics
    from other audio can be far off: the authors' AudioSet table has std
    0.04-0.05 in its top 8 mel bins (YouTube audio is low-passed, so they
    hold only the log floor), so a full-band 44.1/48 kHz recording with
    energy there comes out multiplied by about 23, values in the tens,
    and the top row of patches dominates the input (issue 17's drum
    recordings: those bins' std 17-20 after standardisation).

    Args:
        frontend: a `LogMelSpectrogram` with its statistics set.
        waveforms: array `(clips, samples)` at the front end's rate: a
            sample of the clips it will see (one batch is enough).
        limit: float. A bin is reported when its standardised std or
            `|mean|` over `waveforms` exceeds this. Defaults to `4.0`.
        name: str or `None`. What the statistics are called in the message
            (e.g. `"audioset"`).

    Returns:
        `None` when every bin is within `limit`, else a message naming the
        bins, how far off they are, and what to do.

    Examples:

    >>> from keras_maskspec.layers import LogMelSpectrogram
    >>> layer = LogMelSpectrogram(sample_rate=16000, num_mel_bins=8,
    ...                           window_length=400, hop_length=160,
    ...                           fft_length=512, fmax=None)
    >>> noise = np.random.default_rng(0).normal(size=(2, 8000))
    >>> mean, std = compute_frame_statistics([noise], layer, verbose=0)
    >>> layer.set_statistics(mean, std)
    >>> check_frame_statistics(layer, noise) is None
    True
    >>> layer.set_statistics(mean, np.full(8, 0.01))
    >>> print(check_frame_statistics(layer, noise, name="tiny"))
    ... # doctest: +ELLIPSIS
    The per-mel-bin statistics 'tiny' do not fit these clips: ...
    """
    x = keras.ops.convert_to_tensor(np.asarray(waveforms, "float32"))
    out = keras.ops.convert_to_numpy(frontend(x, training=False))
    out = out.reshape(-1, out.shape[-1]).astype("float64")
    mean, std = out.mean(axis=0), out.std(axis=0)
    bad = np.flatnonzero((std > limit) | (np.abs(mean) > limit))
    if not bad.size:
        return None
    worst = bad[np.argmax(np.maximum(std[bad], np.abs(mean[bad])))]
    label = f" {name!r}" if name else ""
    return (
        f"The per-mel-bin statistics{label} do not fit these clips: after "
        f"standardisation, mel bins {_ranges(bad)} have a spread of up to "
        f"{std[worst]:.1f} and a mean of up to {abs(mean[worst]):.1f} "
        f"(about 1 and 0 expected; bin {worst}). The statistics came from "
        "audio with almost no energy in those bins and these clips have "
        "some, so it is multiplied many times and dominates the input. "
        "Use statistics of audio like these clips: frame_stats='train' "
        "(`maskspec pretrain --set frame_stats=train`) or a file of your "
        "own; or no per-bin statistics, only the fixed (x + 4.5) / 5: "
        "frame_stats=None (`--set frame_stats=null`)."
    )


def _ranges(indices):
    """`[1, 2, 3, 7]` -> `"1-3, 7"`."""
    parts, start = [], None
    for i, v in enumerate(indices):
        if start is None:
            start = v
        if i + 1 == len(indices) or indices[i + 1] != v + 1:
            parts.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts)


def cached_frame_statistics(folder, compute):
    """Statistics read from `folder/frame_stats.npz`, computed once if absent.

    Args:
        folder: str. The run folder.
        compute: callable `() -> (frame_mean, frame_std)`, called (and its
            result saved atomically) only when the file is missing.

    Returns:
        `(frame_mean, frame_std)`, float32 arrays.

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> calls = []
    >>> def compute():
    ...     calls.append(1)
    ...     return np.zeros(2), np.ones(2)
    >>> _ = cached_frame_statistics(folder, compute)
    >>> _ = cached_frame_statistics(folder, compute)
    >>> len(calls)
    1
    """
    path = os.path.join(folder, FRAME_STATS_FILE)
    if os.path.exists(path):
        return load_frame_statistics(path)
    mean, std = compute()
    os.makedirs(folder, exist_ok=True)
    save_frame_statistics(path, mean, std)
    return load_frame_statistics(path)
