"""SpecAugment frequency and time masking, per example."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SpecAugment(keras.layers.Layer):
    """Zeroes random mel bands and time spans while training.

    As torchaudio's `FrequencyMasking`/`TimeMasking` with `iid_masks=True`
    (what PaSST and MaskSpec use): each mask has a width drawn from
    `U[0, param)` and a start drawn from `U[0, size - width)`, independently
    per example. Identity at inference.

    Args:
        freq_mask_param: int. Maximum mel-band mask width. Defaults to `48`.
        time_mask_param: int. Maximum time mask width in frames. Defaults to
            `192`.
        num_freq_masks: int. Defaults to `1`.
        num_time_masks: int. Defaults to `1`.
        mask_value: float. Value written into masked cells. Defaults to `0`.
        seed: int or `None`. Random seed.

    Input shape:
        `(batch, time, mel)`. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> x = np.ones((2, 100, 128), "float32")
    >>> tuple(SpecAugment(seed=0)(x, training=True).shape)
    (2, 100, 128)
    """

    def __init__(
        self,
        freq_mask_param=48,
        time_mask_param=192,
        num_freq_masks=1,
        num_time_masks=1,
        mask_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("freq_mask_param", freq_mask_param),
            ("time_mask_param", time_mask_param),
            ("num_freq_masks", num_freq_masks),
            ("num_time_masks", num_time_masks),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"`{name}` must be an int >= 0. Received: {name}={value}"
                )
        self.freq_mask_param = freq_mask_param
        self.time_mask_param = time_mask_param
        self.num_freq_masks = num_freq_masks
        self.num_time_masks = num_time_masks
        self.mask_value = mask_value
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _span_mask(self, batch, size, param, count):
        """`(batch, size)` bool, True inside any of `count` random spans."""
        idx = ops.arange(size, dtype="float32")[None]
        hit = ops.zeros((batch, size), dtype="bool")
        size_f = ops.cast(size, "float32")
        for _ in range(count):
            u = keras.random.uniform((batch, 2), seed=self.seed_generator)
            width = ops.floor(u[:, :1] * min(param, 1 << 30))
            width = ops.minimum(width, size_f)
            start = ops.floor(u[:, 1:] * (size_f - width))
            hit = ops.logical_or(
                hit, ops.logical_and(idx >= start, idx < start + width)
            )
        return hit

    def call(self, inputs, training=None):
        if not training:
            return inputs
        batch = ops.shape(inputs)[0]
        frames = ops.shape(inputs)[1]
        bins = inputs.shape[2]
        masked = ops.zeros_like(inputs, dtype="bool")
        if self.num_time_masks and self.time_mask_param:
            t = self._span_mask(
                batch, frames, self.time_mask_param, self.num_time_masks
            )
            masked = ops.logical_or(masked, t[:, :, None])
        if self.num_freq_masks and self.freq_mask_param:
            f = self._span_mask(
                batch, bins, self.freq_mask_param, self.num_freq_masks
            )
            masked = ops.logical_or(masked, f[:, None, :])
        fill = ops.cast(self.mask_value, inputs.dtype)
        return ops.where(masked, fill, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "freq_mask_param": self.freq_mask_param,
                "time_mask_param": self.time_mask_param,
                "num_freq_masks": self.num_freq_masks,
                "num_time_masks": self.num_time_masks,
                "mask_value": self.mask_value,
                "seed": self.seed,
            }
        )
        return config
