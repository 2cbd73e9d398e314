"""Losses: masked patch MSE (pre-training), masked BCE (partial labels)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskedPatchMSE(keras.losses.Loss):
    """MSE over hidden patches only, MaskSpec's (MAE's) pre-training loss.

    `y_true` and `y_pred` are `(batch, N, patch_dim)`; `sample_weight` is the
    `(batch, N)` mask (1 = hidden). With `normalize_targets=True` each target
    patch is standardised by its own mean and variance first
    (`(t - mean) / sqrt(var + 1e-6)`), the variance unbiased as MAE's
    `target.var(dim=-1)` (divisor `patch_dim - 1`); predicting zeros then
    scores `(patch_dim - 1) / patch_dim`.
    The loss is `sum(mask * mean_d (pred - target)^2) / sum(mask)`, always in
    float32.

    Args:
        normalize_targets: bool. Per-patch target normalisation. Defaults to
            `True`.
        epsilon: float. Variance floor. Defaults to `1e-6`.
        variance_ddof: int. Delta degrees of freedom of the patch variance:
            `1` (PyTorch's unbiased default, MAE and MaskSpec) or `0`.
            Defaults to `1`.

    Examples:
    >>> import numpy as np
    >>> t = np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32")
    >>> mask = np.array([[1, 0, 1, 0], [0, 0, 1, 1]], "float32")
    >>> loss = MaskedPatchMSE()(t, np.zeros_like(t), sample_weight=mask)
    >>> round(float(loss), 4)
    0.875
    """

    def __init__(
        self,
        normalize_targets=True,
        epsilon=1e-6,
        variance_ddof=1,
        name="masked_patch_mse",
        **kwargs,
    ):
        super().__init__(
            name=name, reduction="mean_with_sample_weight", **kwargs
        )
        self.normalize_targets = normalize_targets
        self.epsilon = epsilon
        if variance_ddof not in (0, 1):
            raise ValueError(
                "`variance_ddof` must be 0 or 1. Received: "
                f"variance_ddof={variance_ddof}"
            )
        self.variance_ddof = variance_ddof

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.normalize_targets:
            mean = ops.mean(y_true, axis=-1, keepdims=True)
            var = ops.var(y_true, axis=-1, keepdims=True)
            if self.variance_ddof:
                size = y_true.shape[-1]
                var = var * (size / (size - self.variance_ddof))
            y_true = (y_true - mean) / ops.sqrt(var + self.epsilon)
        return ops.mean(ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        return {
            "name": self.name,
            "normalize_targets": self.normalize_targets,
            "epsilon": self.epsilon,
            "variance_ddof": self.variance_ddof,
        }


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy that ignores unlabelled entries (`y_true < 0`).

    For partially labelled multi-label sets (OpenMIC-2018): an entry whose
    label is negative (the data pipeline writes -1) contributes neither to
    the loss nor to its normaliser. Label smoothing applies to labelled
    entries only.

    Args:
        from_logits: bool. Defaults to `True`.
        label_smoothing: float. Defaults to `0.0`.
        normalize: `"labelled"` (each example's mean over its labelled
            entries) or `"all"` (sum over labelled entries divided by all
            `batch x classes` entries: the MaskSpec authors' OpenMIC loss,
            `mean(mask * bce)`). Defaults to `"labelled"`.

    Examples:
    >>> import numpy as np
    >>> y = np.array([[1.0, -1.0], [0.0, 1.0]], "float32")
    >>> logits = np.zeros((2, 2), "float32")
    >>> round(float(MaskedBinaryCrossentropy()(y, logits)), 4)
    0.6931
    >>> round(float(MaskedBinaryCrossentropy(normalize="all")(y, logits)), 4)
    0.5199
    """

    def __init__(
        self,
        from_logits=True,
        label_smoothing=0.0,
        normalize="labelled",
        name="masked_binary_crossentropy",
        **kwargs,
    ):
        if normalize not in ("labelled", "all"):
            raise ValueError(
                "`normalize` must be 'labelled' or 'all'. "
                f"Received: normalize={normalize!r}"
            )
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.normalize = normalize

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        labelled = ops.cast(y_true >= 0, "float32")
        target = ops.clip(y_true, 0.0, 1.0)
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + (
                0.5 * self.label_smoothing
            )
        bce = ops.binary_crossentropy(
            target, y_pred, from_logits=self.from_logits
        )
        # Per-example mean over labelled (or all) entries; the batch mean
        # follows.
        total = ops.sum(bce * labelled, axis=-1)
        if self.normalize == "all":
            return total / ops.cast(ops.shape(labelled)[-1], "float32")
        count = ops.maximum(ops.sum(labelled, axis=-1), 1.0)
        return total / count

    def get_config(self):
        return {
            "name": self.name,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "normalize": self.normalize,
        }


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SoftmaxCrossentropy(keras.losses.Loss):
    """Softmax cross-entropy for integer ids or one-hot/soft (mixup) labels.

    The label layout is read from its rank: `(batch,)` or `(batch, 1)` ids
    are one-hot encoded, `(batch, classes)` targets are used as given. One
    loss therefore serves plain and mixup pipelines.

    Args:
        from_logits: bool. Defaults to `True`.
        label_smoothing: float. Defaults to `0.0`.

    Examples:
    >>> import numpy as np
    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0]], "float32")
    >>> a = SoftmaxCrossentropy()(np.array([0, 1]), logits)
    >>> b = SoftmaxCrossentropy()(np.eye(2, dtype="float32"), logits)
    >>> round(float(a), 4) == round(float(b), 4)
    True
    """

    def __init__(
        self,
        from_logits=True,
        label_smoothing=0.0,
        name="softmax_crossentropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        return keras.losses.categorical_crossentropy(
            dense_labels(y_true, y_pred.shape[-1]),
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self):
        return {
            "name": self.name,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


def dense_labels(y_true, num_classes):
    """`(batch, classes)` float targets from ids or already-dense labels.

    Examples:
    >>> import numpy as np
    >>> tuple(dense_labels(np.array([2, 0]), 3).shape)
    (2, 3)
    """
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) >= 2 and y_true.shape[-1] == num_classes:
        return ops.cast(y_true, "float32")
    ids = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(ids, num_classes)


@keras.saving.register_keras_serializable(package="keras_maskspec")
def label_accuracy(y_true, y_pred):
    """Top-1 accuracy for integer ids or one-hot/soft labels (arg-max).

    Examples:
    >>> import numpy as np
    >>> scores = np.array([[0.9, 0.1], [0.2, 0.8]], "float32")
    >>> [float(v) for v in label_accuracy(np.array([0, 0]), scores)]
    [1.0, 0.0]
    """
    y_pred = ops.convert_to_tensor(y_pred)
    target = ops.argmax(dense_labels(y_true, y_pred.shape[-1]), axis=-1)
    return ops.cast(ops.equal(target, ops.argmax(y_pred, axis=-1)), "float32")


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskedAUC(keras.metrics.AUC):
    """`keras.metrics.AUC` that skips unlabelled entries (`y_true < 0`).

    Multi-label targets use -1 for "unknown" (OpenMIC); those entries get a
    zero weight, labelled ones are counted as positive when >= 0.5. With
    `curve="PR"` and `multi_label=True` this is a running estimate of mAP;
    exact mAP comes from `keras_maskspec.training.metrics`.

    Examples:
    >>> import numpy as np
    >>> metric = MaskedAUC(curve="PR", multi_label=True, num_labels=2)
    >>> y = np.array([[1, -1], [0, 1], [1, 0]], "float32")
    >>> p = np.array([[0.9, 0.9], [0.1, 0.8], [0.8, 0.3]], "float32")
    >>> metric.update_state(y, p)
    >>> round(float(metric.result()), 2)
    1.0
    """

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, "float32")
        labelled = ops.cast(y_true >= 0, "float32")
        if sample_weight is not None:
            weight = ops.convert_to_tensor(sample_weight, "float32")
            if len(weight.shape) < len(labelled.shape):
                weight = ops.expand_dims(weight, -1)
            labelled = labelled * weight
        target = ops.cast(y_true >= 0.5, "float32")
        return super().update_state(target, y_pred, sample_weight=labelled)
