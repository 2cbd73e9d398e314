"""Class-balanced sampling for multi-label sets (AudioSet style).

Each clip gets the weight `sum over its positive labels of 1 / class_count`,
so rare classes are drawn about as often as common ones; an epoch is a fixed
number of draws with replacement (PaSST: 100k per epoch on AudioSet-2M).
"""

import numpy as np
import tensorflow as tf


def class_balanced_weights(labels, num_classes=None):
    """Per-clip sampling weights, `sum_c y_c / count_c`.

    Args:
        labels: int array `(num_clips,)` of class ids, or multi-hot array
            `(num_clips, num_classes)`; entries < 0 (unknown) count as 0.
        num_classes: int. Needed only for class ids. Defaults to
            `max(labels) + 1`.

    Returns:
        float64 array `(num_clips,)`, summing to 1. Clips with no positive
        label get the smallest weight of the others.

    Examples:

    >>> w = class_balanced_weights([[1, 0], [1, 0], [1, 0], [0, 1]])
    >>> np.round(w * 6, 3).tolist()
    [1.0, 1.0, 1.0, 3.0]
    """
    labels = np.asarray(labels)
    if labels.ndim == 1:
        ids = labels.astype(np.int64)
        num_classes = int(num_classes or ids.max() + 1)
        labels = np.eye(num_classes)[ids]
    if labels.ndim != 2 or labels.shape[0] == 0:
        raise ValueError(
            "`labels` must be class ids `(num_clips,)` or multi-hot "
            f"`(num_clips, num_classes)`. Received: labels.shape={labels.shape}"
        )
    positive = np.clip(labels.astype(np.float64), 0.0, None)
    counts = positive.sum(axis=0)
    inverse = np.where(counts > 0, 1.0 / np.maximum(counts, 1e-12), 0.0)
    weights = positive @ inverse
    if not (weights > 0).any():
        weights = np.ones_like(weights)
    weights = np.where(weights > 0, weights, weights[weights > 0].min())
    return weights / weights.sum()


def weighted_index_dataset(weights, num_samples, seed=None):
    """A finite dataset of `num_samples` indices drawn by weight.

    Draws with replacement by inverse-CDF search (`O(log n)` a draw, so 2M
    clips are fine), different every epoch but reproducible with `seed`.

    Args:
        weights: array `(num_clips,)` of non-negative weights.
        num_samples: int. Draws per epoch.
        seed: int. Defaults to `None`.

    Returns:
        `tf.data.Dataset` of int64 scalars.

    Examples:

    >>> ds = weighted_index_dataset([0.0, 1.0, 0.0], 4, seed=0)
    >>> [int(i) for i in ds]
    [1, 1, 1, 1]
    """
    weights = np.asarray(weights, dtype=np.float64)
    if int(num_samples) < 1 or weights.ndim != 1 or weights.sum() <= 0:
        raise ValueError(
            "Need positive weights and `num_samples` >= 1. Received: "
            f"num_samples={num_samples}, weights.shape={weights.shape}"
        )
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    cdf = tf.constant(cdf, tf.float64)
    last = len(weights) - 1

    def draw(r):
        u = tf.random.stateless_uniform(
            [1], tf.stack([r, tf.constant(7, tf.int64)]), dtype=tf.float64
        )
        index = tf.searchsorted(cdf, u, side="right")[0]
        return tf.minimum(tf.cast(index, tf.int64), last)

    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return randoms.take(int(num_samples)).map(draw)
