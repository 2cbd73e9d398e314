"""Adds a learned (or loaded) position table to a patch grid."""

import keras
from keras import ops

from keras_maskspec.layers.patching import sincos_position_embedding


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SinCosInitializer(keras.initializers.Initializer):
    """A `(time_patches, mel_patches, dim)` table of 2-D sin-cos codes.

    Starts a learned position table from the fixed codes of
    `SinCosPositionEmbedding`, as the authors' fine-tuning starts timm's
    trainable `pos_embed` from the pre-trained sin-cos table.

    Examples:
    >>> table = SinCosInitializer()((6, 8, 32))
    >>> tuple(table.shape)
    (6, 8, 32)
    """

    def __call__(self, shape, dtype=None):
        gt, gf, dim = shape
        table = sincos_position_embedding(gt, gf, dim, dtype=dtype or "float32")
        return ops.reshape(table, shape)

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="keras_maskspec")
class LearnedPositionEmbedding(keras.layers.Layer):
    """Flattens a token grid and adds a position table held as a weight.

    The sibling of `SinCosPositionEmbedding` for checkpoints whose position
    codes are not this package's 2-D sin-cos code: fine-tuned timm/MAE
    models (a trained `pos_embed`) and Audio-MAE (whose fixed table is laid
    out for a different token order). The table covers `time_patches` x
    `mel_patches`; a shorter input uses its first time rows (as MaskSpec
    and Audio-MAE crop theirs for shorter clips); a longer one is an error.

    Args:
        time_patches: int. Rows of the table along time.
        mel_patches: int. Rows of the table along mel.
        initializer: initializer of the table. Defaults to
            `TruncatedNormal(stddev=0.02)` (timm's ViT).

    Input shape:
        `(batch, time_patches', mel_patches, dim)` with
        `time_patches' <= time_patches`.

    Output shape:
        `(batch, time_patches' * mel_patches, dim)`, time-major.

    Examples:
    >>> import numpy as np
    >>> layer = LearnedPositionEmbedding(6, 8)
    >>> tuple(layer(np.zeros((2, 4, 8, 32), "float32")).shape)
    (2, 32, 32)
    """

    def __init__(self, time_patches, mel_patches, initializer=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (
            ("time_patches", time_patches),
            ("mel_patches", mel_patches),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value}"
                )
        self.time_patches = time_patches
        self.mel_patches = mel_patches
        self.initializer = keras.initializers.get(
            initializer or keras.initializers.TruncatedNormal(stddev=0.02)
        )

    def build(self, input_shape):
        if input_shape[2] is not None and input_shape[2] != self.mel_patches:
            raise ValueError(
                "The input's mel patches must match the table. Received: "
                f"input_shape={input_shape}, mel_patches={self.mel_patches}"
            )
        self.table = self.add_weight(
            shape=(self.time_patches, self.mel_patches, input_shape[-1]),
            initializer=self.initializer,
            name="table",
        )

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        gt = inputs.shape[1]
        if gt is None:
            gt = ops.shape(inputs)[1]
        elif gt > self.time_patches:
            raise ValueError(
                f"The input has {gt} time patches but the position table "
                f"only {self.time_patches}; use shorter clips or convert "
                f"with a larger grid. Received: input_shape={inputs.shape}"
            )
        dim = inputs.shape[-1]
        table = ops.cast(self.table[:gt], inputs.dtype)
        tokens = inputs + table[None]
        return ops.reshape(tokens, (batch, -1, dim))

    def compute_output_shape(self, input_shape):
        b, gt, gf, dim = input_shape
        return (b, None if gt is None else gt * gf, dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "time_patches": self.time_patches,
                "mel_patches": self.mel_patches,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
