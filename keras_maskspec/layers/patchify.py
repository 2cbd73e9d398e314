"""`patchify` as a layer, for functional graphs with unknown clip length."""

import keras

from keras_maskspec.layers.patching import patchify


@keras.saving.register_keras_serializable(package="keras_maskspec")
class Patchify(keras.layers.Layer):
    """Cuts `(batch, time, mel)` into non-overlapping flattened patches.

    The pre-trainer's reconstruction targets. See `patchify` for the layout.

    Args:
        patch_size: pair `(patch_time, patch_mel)`. Defaults to `(16, 16)`.

    Output shape:
        `(batch, time_patches * mel_patches, patch_time * patch_mel)`.

    Examples:
    >>> import numpy as np
    >>> Patchify((16, 16))(np.zeros((2, 100, 128), "float32")).shape
    (2, 48, 256)
    """

    def __init__(self, patch_size=(16, 16), **kwargs):
        super().__init__(**kwargs)
        self.patch_size = tuple(patch_size)

    def call(self, inputs):
        return patchify(inputs, self.patch_size)

    def compute_output_shape(self, input_shape):
        b, t, m = input_shape
        pt, pf = self.patch_size
        n = None if t is None else (t // pt) * (m // pf)
        return (b, n, pt * pf)

    def get_config(self):
        config = super().get_config()
        config["patch_size"] = self.patch_size
        return config
