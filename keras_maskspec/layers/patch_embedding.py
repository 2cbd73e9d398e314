"""Linear patch embedding of a spectrogram."""

import keras
from keras import ops


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
            `"glorot_uniform"` (MAE's xavier-uniform of the flattened kernel).

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
        kernel_initializer="glorot_uniform",
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
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection = keras.layers.Conv2D(
            hidden_dim,
            self.patch_size,
            strides=self.patch_stride,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
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
