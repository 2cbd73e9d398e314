"""Class-balanced sampling for multi-label sets, as the MaskSpec authors ran
it on AudioSet-2M (`docs/parity.md`, row A "balancing weights").

One rule, used by the `tf.data` pipelines (`weighted_index_dataset`) and by
in-memory arrays (`keras_maskspec.data.arrays.array_epochs`):

- weights `w_i = sum_c y_ic * 1000 / (n_c + 100)`, `n_c` the number of
  clips of class `c` (`get_ft_cls_balanced_sample_weights`); a clip with
  no positive label gets 0;
- each epoch draws `num_samples` clips (AudioSet: 100 000) **without
  replacement**, with probability proportional to `w`, a new draw every
  epoch (`WeightedRandomSampler(w, 100000, replacement=False)`). The draw
  is Gumbel top-k, which has the law of successive sampling (draw one,
  renormalise over the rest, repeat); the order is the draw order.
"""

import numpy as np
import tensorflow as tf

# `1000 / (n_c + 100)` in the authors' `get_ft_cls_balanced_sample_weights`.
WEIGHT_SCALE = 1000.0
COUNT_OFFSET = 100.0


def class_balanced_weights(labels, num_classes=None):
    """Per-clip sampling weights, `sum_c y_ic * 1000 / (n_c + 100)`.

    Args:
        labels: int array `(num_clips,)` of class ids, or multi-hot array
            `(num_clips, num_classes)`; entries < 0 (unknown) count as 0.
        num_classes: int. Needed only for class ids. Defaults to
            `max(labels) + 1`.

    Returns:
        float64 array `(num_clips,)` (not normalised; only ratios matter).
        Clips with no positive label get 0.

    Examples:

    >>> w = class_balanced_weights([[1, 0], [1, 0], [1, 0], [0, 1]])
    >>> np.round(w, 4).tolist()
    [9.7087, 9.7087, 9.7087, 9.901]
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
    positive = (labels.astype(np.float64) > 0).astype(np.float64)
    counts = positive.sum(axis=0)
    return positive @ (WEIGHT_SCALE / (counts + COUNT_OFFSET))


def _check(weights, num_samples):
    weights = np.asarray(weights, dtype=np.float64)
    if (
        int(num_samples) < 1
        or weights.ndim != 1
        or (weights < 0).any()
        or not (weights > 0).any()
    ):
        raise ValueError(
            "Need non-negative weights, some positive, and `num_samples` "
            f">= 1. Received: num_samples={num_samples}, "
            f"weights.shape={weights.shape}"
        )
    return weights


def draw_without_replacement(weights, num_samples, seed):
    """`num_samples` indices drawn by weight without replacement (TF ops).

    Gumbel top-k: `argsort(-(log w + G))[:k]`, `G` standard Gumbel noise,
    is exactly successive weighted sampling without replacement (what
    `torch.multinomial(w, k, replacement=False)` does). Zero weights are
    never drawn. If `num_samples` exceeds the clips with positive weight,
    independent rounds are concatenated (each round without replacement).

    Args:
        weights: array `(num_clips,)` of non-negative weights.
        num_samples: int. Indices to draw.
        seed: int tensor `(2,)`, the stateless seed.

    Returns:
        int64 tensor `(num_samples,)`, in draw order.

    Examples:

    >>> idx = draw_without_replacement([1.0, 0.0, 2.0, 1.0], 3,
    ...                                tf.constant([0, 1], "int64"))
    >>> sorted(idx.numpy().tolist())
    [0, 2, 3]
    """
    weights = _check(weights, num_samples)
    num_samples = int(num_samples)
    positive = int((weights > 0).sum())
    rounds = -(-num_samples // positive)
    with np.errstate(divide="ignore"):
        log_w = tf.constant(np.log(weights), tf.float64)
    seed = tf.cast(seed, tf.int64)
    parts = []
    for r in range(rounds):
        u = tf.random.stateless_uniform(
            tf.shape(log_w),
            tf.stack([seed[0], seed[1] * 7919 + r]),
            minval=np.finfo(np.float64).tiny,
            maxval=1.0,
            dtype=tf.float64,
        )
        keys = log_w - tf.math.log(-tf.math.log(u))
        parts.append(tf.math.top_k(keys, k=min(positive, num_samples)).indices)
    indices = tf.concat(parts, axis=0)[:num_samples]
    return tf.cast(indices, tf.int64)


def weighted_index_dataset(weights, num_samples, seed=None):
    """A dataset of `num_samples` indices per epoch, drawn by weight.

    Each iteration (epoch) is a new `draw_without_replacement`, reproducible
    with `seed`.

    Args:
        weights: array `(num_clips,)` of non-negative weights (e.g.
            `class_balanced_weights`).
        num_samples: int. Draws per epoch (AudioSet: 100 000).
        seed: int. Defaults to `None`.

    Returns:
        `tf.data.Dataset` of int64 scalars.

    Examples:

    >>> ds = weighted_index_dataset([0.0, 1.0, 0.0, 1.0], 2, seed=0)
    >>> sorted(int(i) for i in ds)
    [1, 3]
    """
    weights = _check(weights, num_samples)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def epoch(r):
        seed_pair = tf.stack([r, tf.constant(7, tf.int64)])
        return tf.data.Dataset.from_tensor_slices(
            draw_without_replacement(weights, num_samples, seed_pair)
        )

    return randoms.take(1).flat_map(epoch)
