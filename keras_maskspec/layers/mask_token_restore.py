"""Decoder input: visible tokens plus mask tokens, back in patch order."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskTokenRestore(keras.layers.Layer):
    """Appends one shared learnable mask token per hidden patch and unshuffles.

    Args:
        initializer: initializer of the mask token. Defaults to
            `RandomNormal(stddev=0.02)`.

    Call arguments:
        visible: `(batch, num_visible, dim)` tokens (no [CLS]).
        ids_restore: `(batch, N)` int, from `RandomPatchMasking`.

    Output shape:
        `(batch, N, dim)`.

    Examples:
    >>> import numpy as np
    >>> restore = np.tile(np.arange(6, dtype="int32"), (2, 1))
    >>> tuple(MaskTokenRestore()(np.ones((2, 2, 4), "float32"), restore).shape)
    (2, 6, 4)
    """

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(
            initializer or keras.initializers.RandomNormal(stddev=0.02)
        )

    def build(self, visible_shape, ids_restore_shape=None):
        self.mask_token = self.add_weight(
            shape=(1, 1, visible_shape[-1]),
            initializer=self.initializer,
            name="mask_token",
        )

    def call(self, visible, ids_restore):
        batch = ops.shape(visible)[0]
        dim = visible.shape[-1]
        num = ids_restore.shape[1]
        if num is None:
            num = ops.shape(ids_restore)[1]
        keep = visible.shape[1]
        if keep is None:
            keep = ops.shape(visible)[1]
        tokens = ops.broadcast_to(
            ops.cast(self.mask_token, visible.dtype), (batch, num - keep, dim)
        )
        full = ops.concatenate([visible, tokens], axis=1)
        return ops.take_along_axis(full, ids_restore[:, :, None], axis=1)

    def compute_output_shape(self, visible_shape, ids_restore_shape):
        return (visible_shape[0], ids_restore_shape[1], visible_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["initializer"] = keras.initializers.serialize(self.initializer)
        return config
