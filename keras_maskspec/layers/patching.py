"""`patchify`/`unpatchify` (and the `Patchify` layer), sin-cos positions.

Conventions used across the package: a spectrogram is `(batch, time, mel)`;
a patch grid is `(time_patches, mel_patches)` and is flattened time-major
(`index = t * mel_patches + f`); each patch is flattened row-major as
`(patch_time, patch_mel)`.
"""

import math

import keras
from keras import ops


def grid_shape(frames, num_mel_bins, patch_size):
    """Patch grid `(time_patches, mel_patches)` of non-overlapping patches.

    Trailing frames or bins that do not fill a whole patch are dropped.

    Args:
        frames: int. Number of spectrogram frames.
        num_mel_bins: int. Number of mel bins.
        patch_size: tuple `(patch_time, patch_mel)`.

    Returns:
        A tuple of two ints.

    Examples:
    >>> grid_shape(1000, 128, (16, 16))
    (62, 8)
    """
    return frames // patch_size[0], num_mel_bins // patch_size[1]


def patchify(spectrogram, patch_size=(16, 16)):
    """Cuts `(batch, time, mel)` into `(batch, num_patches, patch_dim)`.

    Args:
        spectrogram: tensor `(batch, time, mel)`.
        patch_size: tuple `(patch_time, patch_mel)`. Defaults to `(16, 16)`.

    Returns:
        A tensor `(batch, time_patches * mel_patches, patch_time * patch_mel)`.

    Examples:
    >>> import numpy as np
    >>> tuple(patchify(np.zeros((2, 100, 128), "float32")).shape)
    (2, 48, 256)
    """
    pt, pf = patch_size
    batch = ops.shape(spectrogram)[0]
    frames, bins = spectrogram.shape[1], spectrogram.shape[2]
    if frames is None:
        frames = ops.shape(spectrogram)[1]
    gt, gf = frames // pt, bins // pf
    x = spectrogram[:, : gt * pt, : gf * pf]
    x = ops.reshape(x, (batch, gt, pt, gf, pf))
    x = ops.transpose(x, (0, 1, 3, 2, 4))
    return ops.reshape(x, (batch, gt * gf, pt * pf))


def unpatchify(patches, mel_patches, patch_size=(16, 16)):
    """Inverse of `patchify`: `(batch, N, patch_dim)` -> `(batch, time, mel)`.

    Args:
        patches: tensor `(batch, time_patches * mel_patches, pt * pf)`.
        mel_patches: int. Number of patches along the mel axis.
        patch_size: tuple `(patch_time, patch_mel)`. Defaults to `(16, 16)`.

    Returns:
        A tensor `(batch, time_patches * pt, mel_patches * pf)`.

    Examples:
    >>> import numpy as np
    >>> tuple(unpatchify(np.zeros((2, 48, 256), "float32"), 8).shape)
    (2, 96, 128)
    """
    pt, pf = patch_size
    batch = ops.shape(patches)[0]
    num = patches.shape[1]
    if num is None:
        num = ops.shape(patches)[1]
    gt = num // mel_patches
    x = ops.reshape(patches, (batch, gt, mel_patches, pt, pf))
    x = ops.transpose(x, (0, 1, 3, 2, 4))
    return ops.reshape(x, (batch, gt * pt, mel_patches * pf))


def sincos_position_embedding(time_patches, mel_patches, dim, dtype="float32"):
    """Fixed 2-D sin-cos position table `(time_patches * mel_patches, dim)`.

    The first half of the channels encodes the time index, the second half
    the mel index (each as MAE's 1-D sin-cos code: sines then cosines of
    `pos / 10000^(i / (dim / 4))`). A time position keeps the same code for
    any clip length, so a model pre-trained on 10 s clips sees 1 s or 60 s
    clips with consistent ("cropped"/extended) position codes.

    Args:
        time_patches: int or scalar tensor. Grid size along time.
        mel_patches: int. Grid size along mel.
        dim: int. Embedding size, a multiple of 4.
        dtype: str. Output dtype.

    Returns:
        A tensor `(time_patches * mel_patches, dim)`, time-major.

    Examples:
    >>> tuple(sincos_position_embedding(62, 8, 192).shape)
    (496, 192)
    """
    if dim % 4:
        raise ValueError(
            f"Sin-cos embedding size must be a multiple of 4. Received: "
            f"dim={dim}"
        )
    quarter = dim // 4
    omega = ops.exp(
        -math.log(10000.0) * ops.arange(quarter, dtype="float32") / quarter
    )
    t = ops.cast(ops.arange(time_patches), "float32")
    f = ops.cast(ops.arange(mel_patches), "float32")
    t_out = t[:, None] * omega[None, :]
    f_out = f[:, None] * omega[None, :]
    t_emb = ops.concatenate([ops.sin(t_out), ops.cos(t_out)], axis=-1)
    f_emb = ops.concatenate([ops.sin(f_out), ops.cos(f_out)], axis=-1)
    num_t = ops.shape(t_emb)[0]
    t_grid = ops.repeat(t_emb[:, None, :], mel_patches, axis=1)
    f_grid = ops.tile(f_emb[None, :, :], (num_t, 1, 1))
    table = ops.concatenate([t_grid, f_grid], axis=-1)
    return ops.cast(ops.reshape(table, (-1, dim)), dtype)


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
    >>> tuple(Patchify((16, 16))(np.zeros((2, 100, 128), "float32")).shape)
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
