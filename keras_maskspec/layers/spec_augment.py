"""SpecAugment frequency and time masking, as MaskSpec's fine-tuning."""

import keras
from keras import ops

MASK_MODES = ("batch", "example")


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SpecAugment(keras.layers.Layer):
    """Fills a random mel band and a random time span while training.

    The rule is torchaudio's `FrequencyMasking(P)`/`TimeMasking(P)`, which
    MaskSpec (via PaSST) applies: `v = U * P` (continuous), start
    `floor(U' * (size - v))`, width `floor(v)`, so widths lie in
    `{0, ..., P - 1}`. Identity at inference.

    MaskSpec pads every clip to 10 s and masks that 1000-frame grid before
    cropping it to the clip's frames, so a short clip is rarely hit (a 1 s
    clip loses 4.5 % of its frames on average, a 10 s one 9.6 %).
    `grid_frames` reproduces this: the time span is drawn on a grid of
    `max(grid_frames, frames)` frames and only its part inside the input's
    frames is filled. `grid_frames=None` draws on the input's own frames.

    With torchaudio < 2.1 (the authors' 2022 environment) `iid_masks=True`
    has no effect on 3-D input, so one pair of masks is shared by the whole
    batch: `masks="batch"`. `masks="example"` draws one pair per clip.

    Args:
        freq_mask_param: int. `P` of the mel mask (0 = off). Defaults to
            `48`.
        time_mask_param: int. `P` of the time mask in frames (0 = off).
            Defaults to `192`.
        num_freq_masks: int. Defaults to `1`.
        num_time_masks: int. Defaults to `1`.
        grid_frames: int or `None`. Frames of the virtual grid the time mask
            is drawn on. Defaults to `1000` (10 s at a 10 ms hop).
        masks: str. `"batch"` (one draw shared by the batch) or
            `"example"` (one per clip). Defaults to `"batch"`.
        mask_value: float or list of `mel` floats (one per bin). Value
            written into masked cells. MaskSpec writes 0 into the log-mel
            before normalisation; after a front end computing
            `(log_mel - mean) / std` that cell reads `-mean / std`, which
            `MaskSpecClassifier` passes here. Defaults to `0.0`.
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
        grid_frames=1000,
        masks="batch",
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
        if grid_frames is not None and (
            not isinstance(grid_frames, int) or grid_frames < 1
        ):
            raise ValueError(
                "`grid_frames` must be a positive int or None. Received: "
                f"grid_frames={grid_frames}"
            )
        if masks not in MASK_MODES:
            raise ValueError(
                f"`masks` must be one of {MASK_MODES}. Received: "
                f"masks={masks!r}"
            )
        self.freq_mask_param = freq_mask_param
        self.time_mask_param = time_mask_param
        self.num_freq_masks = num_freq_masks
        self.num_time_masks = num_time_masks
        self.grid_frames = grid_frames
        self.masks = masks
        self.mask_value = _as_float_or_list(mask_value)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _span_mask(self, batch, size, grid, param, count):
        """`(draws, size)` bool: True inside any of `count` random spans
        drawn on a grid of `grid >= size` cells (torchaudio's rule)."""
        draws = batch if self.masks == "example" else 1
        idx = ops.arange(size, dtype="float32")[None]
        hit = ops.zeros((draws, size), dtype="bool")
        for _ in range(count):
            u = keras.random.uniform((draws, 2), seed=self.seed_generator)
            value = u[:, :1] * float(param)
            start = ops.floor(u[:, 1:] * (grid - value))
            end = start + ops.floor(value)
            hit = ops.logical_or(hit, ops.logical_and(idx >= start, idx < end))
        return hit

    def call(self, inputs, training=None):
        if not training:
            return inputs
        batch = ops.shape(inputs)[0]
        frames = inputs.shape[1]
        if frames is None:
            frames = ops.shape(inputs)[1]
        bins = inputs.shape[2]
        masked = ops.zeros((1, 1, 1), dtype="bool")
        if self.num_time_masks and self.time_mask_param:
            grid = ops.cast(frames, "float32")
            if self.grid_frames is not None:
                grid = ops.maximum(grid, float(self.grid_frames))
            t = self._span_mask(
                batch,
                frames,
                grid,
                self.time_mask_param,
                self.num_time_masks,
            )
            masked = ops.logical_or(masked, t[:, :, None])
        if self.num_freq_masks and self.freq_mask_param:
            f = self._span_mask(
                batch,
                bins,
                float(bins),
                self.freq_mask_param,
                self.num_freq_masks,
            )
            masked = ops.logical_or(masked, f[:, None, :])
        fill = ops.convert_to_tensor(self.mask_value, dtype=inputs.dtype)
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
                "grid_frames": self.grid_frames,
                "masks": self.masks,
                "mask_value": self.mask_value,
                "seed": self.seed,
            }
        )
        return config


def _as_float_or_list(value):
    if isinstance(value, (int, float)):
        return float(value)
    return [float(v) for v in value]
