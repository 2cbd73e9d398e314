"""Per-mel-bin normalisation statistics of a dataset, in one pass."""

import keras
import numpy as np
import tensorflow as tf


def compute_normalization_stats(
    dataset_or_sources,
    frontend,
    sample_rate=32000,
    clip_seconds=10.0,
    batch_size=16,
    max_batches=None,
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
    for step, batch in enumerate(data):
        if max_batches is not None and step >= max_batches:
            break
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
