"""Stochastic depth."""

import keras
from keras import ops


def drop_path(inputs, rate, seed=None):
    """Zeroes whole examples with probability `rate`, rescales the rest.

    Args:
        inputs: tensor, batch first.
        rate: float in [0, 1). Probability of dropping an example's branch.
        seed: int, `keras.random.SeedGenerator` or `None`.

    Returns:
        `inputs * keep_mask / (1 - rate)`, one mask value per example.
    """
    keep = 1.0 - rate
    shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
    noise = keras.random.uniform(shape, seed=seed)
    mask = ops.cast(noise < keep, inputs.dtype)
    return inputs * mask / keep


@keras.saving.register_keras_serializable(package="keras_maskspec")
class DropPath(keras.layers.Layer):
    """Drops a whole residual branch per example while training.

    Args:
        rate: float in [0, 1). Probability of dropping the branch.
        seed: int or `None`. Random seed.

    Input shape:
        Any, batch first. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> tuple(DropPath(0.5)(np.ones((2, 3), "float32")).shape)
    (2, 3)

    References:
        - Huang et al., "Deep Networks with Stochastic Depth", 2016.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"`rate` must be in [0, 1). Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return drop_path(inputs, self.rate, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
