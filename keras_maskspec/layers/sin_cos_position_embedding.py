"""Adds fixed 2-D sin-cos position codes to a patch grid."""

import keras
from keras import ops

from keras_maskspec.layers.patching import sincos_position_embedding


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SinCosPositionEmbedding(keras.layers.Layer):
    """Flattens a token grid and adds fixed 2-D sin-cos position codes.

    The table is computed for the grid it receives, so any number of time
    patches works (1 s keyword clips, 5 s ESC-50 clips, 10 s AudioSet clips,
    or longer) without interpolation; see `sincos_position_embedding`.

    Input shape:
        `(batch, time_patches, mel_patches, dim)`.

    Output shape:
        `(batch, time_patches * mel_patches, dim)`, time-major.

    Examples:
    >>> import numpy as np
    >>> grid = np.zeros((2, 6, 8, 32), "float32")
    >>> tuple(SinCosPositionEmbedding()(grid).shape)
    (2, 48, 32)
    """

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        gt = inputs.shape[1]
        if gt is None:
            gt = ops.shape(inputs)[1]
        gf, dim = inputs.shape[2], inputs.shape[3]
        table = sincos_position_embedding(gt, gf, dim, dtype=inputs.dtype)
        tokens = ops.reshape(inputs, (batch, -1, dim))
        return tokens + table[None]

    def compute_output_shape(self, input_shape):
        b, gt, gf, dim = input_shape
        return (b, None if gt is None else gt * gf, dim)
