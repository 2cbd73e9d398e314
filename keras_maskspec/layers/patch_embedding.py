"""Linear patch embedding of a spectrogram."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class FlattenedGlorotUniform(keras.initializers.VarianceScaling):
    """Glorot (Xavier) uniform on the kernel seen as a 2-D matrix.

    MAE initialises its patch projection with `xavier_uniform_` on the conv
    weight viewed as `(D, patch_h * patch_w * channels)`:
    `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))` with `fan_in` the product
    of all but the last kernel axis and `fan_out` the last one, so
    `Var = 2 / (256 + D)` for 16x16 patches. Keras' `glorot_uniform` on the
    4-D conv kernel counts the receptive field in `fan_out` too
    (`2 / (256 + 256 D)`, a standard deviation 14x smaller for D = 768).

    Args:
        seed: int or `None`. Random seed.

    Examples:
    >>> init = FlattenedGlorotUniform(seed=0)
    >>> w = keras.ops.convert_to_numpy(init((16, 16, 1, 768)))
    >>> bool(abs(w.var() / (2 / (256 + 768)) - 1) < 0.02)
    True
    """

    def __init__(self, seed=None):
        super().__init__(
            scale=1.0, mode="fan_avg", distribution="uniform", seed=seed
        )

    def __call__(self, shape, dtype=None):
        matrix = (math.prod(shape[:-1]), shape[-1])
        return ops.reshape(super().__call__(matrix, dtype=dtype), shape)

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_maskspec")
class PatchEmbedding(keras.layers.Layer):
    """Projects spectrogram patches to tokens, keeping the patch grid.

    Equivalent to a `Conv2D(hidden_dim, patch_size, strides=patch_stride)`
    over the `(time, mel)` plane (ViT/MAE's `PatchEmbed`). Square,
    rectangular and overlapping (stride < size) patches are allowed.

    Args:
        hidden_dim: int. Token width.
        patch_size: int or tuple `(patch_time, patch_mel)`. Defaults to 16.
        patch_stride: int, tuple or `None` (= `patch_size`, no overlap).
        kernel_initializer: initializer for the projection. Defaults to
            `FlattenedGlorotUniform()` (MAE's xavier-uniform of the kernel
            viewed as `(hidden_dim, patch_time * patch_mel)`).
        bias_initializer: initializer for the bias, or `None` for PyTorch's
            `Conv2d` default that MAE keeps:
            `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, i.e. `U(-1/16, 1/16)` for
            16x16 patches.

    Input shape:
        `(batch, time, mel)`.

    Output shape:
        `(batch, time_patches, mel_patches, hidden_dim)`.

    Examples:
    >>> import numpy as np
    >>> tuple(PatchEmbedding(32)(np.zeros((2, 100, 128), "float32")).shape)
    (2, 6, 8, 32)
    """

    def __init__(
        self,
        hidden_dim,
        patch_size=16,
        patch_stride=None,
        kernel_initializer=None,
        bias_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(hidden_dim, int) or hidden_dim <= 0:
            raise ValueError(
                f"`hidden_dim` must be a positive int. Received: "
                f"hidden_dim={hidden_dim}"
            )
        self.hidden_dim = hidden_dim
        self.patch_size = _pair(patch_size, "patch_size")
        self.patch_stride = (
            self.patch_size
            if patch_stride is None
            else _pair(patch_stride, "patch_stride")
        )
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or FlattenedGlorotUniform()
        )
        bound = 1.0 / math.sqrt(self.patch_size[0] * self.patch_size[1])
        self.bias_initializer = keras.initializers.get(
            bias_initializer or keras.initializers.RandomUniform(-bound, bound)
        )
        self.projection = keras.layers.Conv2D(
            hidden_dim,
            self.patch_size,
            strides=self.patch_stride,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )

    def build(self, input_shape):
        self.projection.build((*input_shape, 1))

    def call(self, inputs):
        return self.projection(ops.expand_dims(inputs, -1))

    def grid_shape(self, frames, num_mel_bins):
        """The patch grid `(time_patches, mel_patches)` for an input size.

        Examples:
        >>> PatchEmbedding(8).grid_shape(1000, 128)
        (62, 8)
        """
        st, sf = self.patch_stride
        pt, pf = self.patch_size
        return (frames - pt) // st + 1, (num_mel_bins - pf) // sf + 1

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        gt = None
        if frames is not None:
            gt = self.grid_shape(frames, input_shape[2])[0]
        gf = self.grid_shape(self.patch_size[0], input_shape[2])[1]
        return (input_shape[0], gt, gf, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "patch_size": self.patch_size,
                "patch_stride": self.patch_stride,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


def _pair(value, name):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of them. Received: "
            f"{name}={value}"
        )
    return value
