"""Learnable [CLS] token prepended to a token sequence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class ClassToken(keras.layers.Layer):
    """Prepends one learnable token (its position code is zero, as in MAE).

    Args:
        initializer: initializer of the token. Defaults to
            `RandomNormal(stddev=0.02)`.

    Input shape:
        `(batch, tokens, dim)`.

    Output shape:
        `(batch, tokens + 1, dim)`.

    Examples:
    >>> import numpy as np
    >>> tuple(ClassToken()(np.zeros((2, 5, 8), "float32")).shape)
    (2, 6, 8)
    """

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(
            initializer or keras.initializers.RandomNormal(stddev=0.02)
        )

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]),
            initializer=self.initializer,
            name="cls_token",
        )

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        token = ops.cast(self.token, inputs.dtype)
        token = ops.broadcast_to(token, (batch, 1, inputs.shape[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        b, n, d = input_shape
        return (b, None if n is None else n + 1, d)

    def get_config(self):
        config = super().get_config()
        config["initializer"] = keras.initializers.serialize(self.initializer)
        return config
