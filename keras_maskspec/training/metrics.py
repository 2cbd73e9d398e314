"""Exact evaluation metrics: mAP, masked mAP, mAUC, d-prime, accuracy.

These are numpy functions computed on a whole evaluation set (predictions
collected first), so they are exact, unlike streaming Keras metrics that
bucket scores. They agree with scikit-learn's `average_precision_score`
and `roc_auc_score` applied per class (the tests check it), without
depending on scikit-learn.

Conventions:

- `y_true` for multi-label sets is `(num_clips, num_classes)` with 1 =
  present, 0 = absent and any negative value (-1) = unknown; unknown entries
  are left out of every metric (OpenMIC-2018's partial labels).
- Class-averaged metrics skip classes without a positive (AP, AUC) or
  without a negative (AUC) among the known entries, as AudioSet evaluations
  do; the number of classes used is available through the `*_per_class`
  helpers.

`keras_maskspec.training.callbacks.ValidationMeanAveragePrecision` writes
these exact values into the epoch `logs` during training.
"""

import keras
import numpy as np
from scipy import stats


def _as_2d(name, array):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be `(num_clips, num_classes)`. "
            f"Received: {name}.shape={array.shape}"
        )
    return array


def _check_pair(y_true, y_score):
    y_true = _as_2d("y_true", y_true)
    y_score = _as_2d("y_score", y_score)
    if y_true.shape != y_score.shape:
        raise ValueError(
            "`y_true` and `y_score` must have the same shape. Received: "
            f"y_true.shape={y_true.shape}, y_score.shape={y_score.shape}"
        )
    return y_true, y_score


def _known(y_true, mask):
    if mask is None:
        return y_true >= 0
    mask = np.asarray(mask)
    if mask.shape != y_true.shape:
        raise ValueError(
            f"`mask` must have the labels' shape {y_true.shape}. "
            f"Received: mask.shape={mask.shape}"
        )
    return (mask > 0) & (y_true >= 0)


def average_precision(y_true, y_score):
    """Average precision of one class (scikit-learn's definition).

    `AP = sum_n (R_n - R_{n-1}) P_n` over the distinct score thresholds,
    ties resolved as one threshold.

    Args:
        y_true: array `(num_clips,)`, 1/True = positive.
        y_score: array `(num_clips,)` of scores (higher = more positive).

    Returns:
        float, or `nan` when there is no positive.

    Examples:
    >>> average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8333...
    """
    y_true = np.asarray(y_true).reshape(-1) > 0
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if not y_true.any():
        return float("nan")
    order = np.argsort(-y_score, kind="mergesort")
    y_true, y_score = y_true[order], y_score[order]
    # Last index of each group of equal scores.
    ends = np.r_[np.flatnonzero(np.diff(y_score)), y_true.size - 1]
    tps = np.cumsum(y_true)[ends]
    fps = (ends + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y_true, y_score):
    """Area under the ROC curve of one class (ties count one half).

    Args:
        y_true: array `(num_clips,)`, 1/True = positive.
        y_score: array `(num_clips,)` of scores.

    Returns:
        float, or `nan` without both a positive and a negative.

    Examples:
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true = np.asarray(y_true).reshape(-1) > 0
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    num_pos = int(y_true.sum())
    num_neg = y_true.size - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    ranks = stats.rankdata(y_score)
    rank_sum = ranks[y_true].sum() - num_pos * (num_pos + 1) / 2.0
    return float(rank_sum / (num_pos * num_neg))


def _per_class(fn, y_true, y_score, mask):
    y_true, y_score = _check_pair(y_true, y_score)
    known = _known(y_true, mask)
    return np.array(
        [
            fn(y_true[known[:, c], c], y_score[known[:, c], c])
            for c in range(y_true.shape[1])
        ]
    )


def average_precision_per_class(y_true, y_score, mask=None):
    """Per-class AP over known entries (`nan` for classes with no positive).

    Args:
        y_true: array `(num_clips, num_classes)`; negative = unknown.
        y_score: array `(num_clips, num_classes)` of scores.
        mask: optional array like `y_true`, 1 = labelled. Defaults to
            `y_true >= 0`.

    Returns:
        float64 array `(num_classes,)`.

    Examples:
    >>> average_precision_per_class([[1, 0], [0, 0]], [[0.9, 0.2], [0.1, 0.3]])
    array([ 1., nan])
    """
    return _per_class(average_precision, y_true, y_score, mask)


def _nanmean(values, what):
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).all():
        raise ValueError(
            f"No class has the positives (and negatives) needed for {what}. "
            f"Received: {values.size} classes, all undefined"
        )
    return float(np.nanmean(values))


def mean_average_precision(y_true, y_score):
    """mAP: mean over classes with a positive of the average precision.

    Args:
        y_true: multi-hot array `(num_clips, num_classes)` (entries < 0 are
            unknown and ignored), or int class ids `(num_clips,)` with
            `y_score` of shape `(num_clips, num_classes)`.
        y_score: array `(num_clips, num_classes)` of scores or logits.

    Returns:
        float.

    Examples:
    >>> mean_average_precision([[1, 0], [0, 1], [1, 1]],
    ...                        [[0.9, 0.2], [0.1, 0.3], [0.6, 0.8]])
    1.0
    """
    y_true = _dense_labels(y_true, y_score)
    return _nanmean(average_precision_per_class(y_true, y_score), "mAP")


def masked_mean_average_precision(y_true, y_score, mask=None, threshold=0.5):
    """OpenMIC-2018 mAP: AP per class over labelled entries only, averaged.

    Args:
        y_true: array `(num_clips, num_classes)` of label confidences
            (OpenMIC's `Y_true`) or multi-hot labels with -1 = unknown.
        y_score: array `(num_clips, num_classes)` of scores.
        mask: optional array like `y_true`, 1 = labelled (OpenMIC's
            `Y_mask`). Defaults to `y_true >= 0`.
        threshold: float. Known entries with `y_true >= threshold` are
            positives (the OpenMIC baseline's rule). Defaults to `0.5`.

    Returns:
        float.

    Examples:
    >>> y = [[1.0, 0.5], [0.0, 0.9], [0.8, 0.0]]
    >>> mask = [[1, 0], [1, 1], [1, 1]]
    >>> masked_mean_average_precision(y, [[.9, .9], [.1, .8], [.7, .1]], mask)
    1.0
    """
    y_true, y_score = _check_pair(y_true, y_score)
    known = _known(y_true, mask)
    binary = np.where(known, (y_true >= threshold).astype(np.float64), -1.0)
    return _nanmean(average_precision_per_class(binary, y_score), "mAP")


def mean_auc(y_true, y_score):
    """mAUC: mean over classes with positives and negatives of ROC AUC.

    Args:
        y_true: multi-hot array `(num_clips, num_classes)` (entries < 0 are
            ignored) or int class ids `(num_clips,)`.
        y_score: array `(num_clips, num_classes)`.

    Returns:
        float.

    Examples:
    >>> mean_auc([[1, 0], [0, 1], [1, 0]], [[0.9, 0.2], [0.1, 0.3], [0.6, 0.1]])
    1.0
    """
    y_true = _dense_labels(y_true, y_score)
    return _nanmean(_per_class(roc_auc, y_true, y_score, None), "mAUC")


def d_prime(auc):
    """d' (sensitivity index) from an AUC: `sqrt(2) * Phi^-1(auc)`.

    Args:
        auc: float or array of AUC values in [0, 1].

    Returns:
        float (or array); `inf` at AUC 1.

    Examples:
    >>> round(d_prime(0.5), 4), round(d_prime(0.9), 4)
    (0.0, 1.8124)
    """
    value = np.sqrt(2.0) * stats.norm.ppf(np.asarray(auc, dtype=np.float64))
    return float(value) if np.ndim(value) == 0 else value


def accuracy(y_true, y_pred):
    """Top-1 accuracy.

    Args:
        y_true: int class ids `(num_clips,)` or one-hot/soft targets
            `(num_clips, num_classes)` (argmax taken).
        y_pred: scores `(num_clips, num_classes)` (argmax taken) or
            predicted ids `(num_clips,)`.

    Returns:
        float.

    Examples:
    >>> accuracy([0, 2, 1], [[0.9, 0.1, 0.0], [0.2, 0.1, 0.7], [1, 0, 0]])
    0.6666...
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 2:
        y_true = y_true.argmax(axis=-1)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=-1)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            "`y_true` and `y_pred` must describe the same clips. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("`y_true` is empty. Received: y_true.shape=(0,)")
    return float(np.mean(y_true.astype(np.int64) == y_pred.astype(np.int64)))


def _dense_labels(y_true, y_score):
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.ndim == 1 and y_score.ndim == 2 and y_score.shape[1] > 1:
        ids = y_true.astype(np.int64)
        y_true = np.zeros(y_score.shape, np.float64)
        y_true[np.arange(ids.size), ids] = 1.0
    return y_true


def multilabel_metrics(y_true, y_score):
    """mAP, mAUC and d' of multi-label predictions, as a dict.

    Args:
        y_true: multi-hot `(num_clips, num_classes)`, -1 = unknown.
        y_score: scores `(num_clips, num_classes)`.

    Returns:
        dict with `map`, `mauc` and `d_prime` (floats).

    Examples:
    >>> m = multilabel_metrics([[1, 0], [0, 1], [1, 0]],
    ...                        [[0.9, 0.2], [0.1, 0.3], [0.6, 0.1]])
    >>> sorted(m)
    ['d_prime', 'map', 'mauc']
    """
    result = {"map": mean_average_precision(y_true, y_score)}
    try:
        result["mauc"] = mean_auc(y_true, y_score)
        result["d_prime"] = d_prime(result["mauc"])
    except ValueError:
        result["mauc"] = result["d_prime"] = float("nan")
    return result


def predict_dataset(model, dataset, verbose=0):
    """Scores and labels of a whole `(x, y[, w])` dataset, as numpy.

    Args:
        model: a callable Keras model.
        dataset: iterable of `(x, y)` or `(x, y, sample_weight)` batches.
        verbose: int. Unused; kept for `predict`-like call sites.

    Returns:
        `(y_true, y_score)` numpy arrays, concatenated over batches.

    Examples:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> data = [(np.ones((2, 3), "float32"), np.array([0, 1]))]
    >>> [a.shape for a in predict_dataset(model, data)]
    [(2,), (2, 2)]
    """
    labels, scores = [], []
    for batch in dataset:
        x, y = batch[0], batch[1]
        scores.append(keras.ops.convert_to_numpy(model(x, training=False)))
        labels.append(np.asarray(y))
    if not scores:
        raise ValueError("The dataset yielded no batch. Received: 0 batches")
    return np.concatenate(labels), np.concatenate(scores)
