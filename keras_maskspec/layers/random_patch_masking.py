"""Per-example random patch masking (MAE style), also used as patchout."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class RandomPatchMasking(keras.layers.Layer):
    """Hides a random subset of tokens per example and drops them.

    Every example gets its own uniform random permutation; the first
    `num_visible` tokens of it are kept, in their original relative order
    scrambled by the permutation (as in MAE). The number of kept tokens is a
    Python int whenever the token count is static, so shapes stay static
    for XLA and TPUs. Mask convention: 1 = hidden, 0 = visible.

    Give either `mask_ratio` (pre-training: `num_visible =
    round((1 - mask_ratio) * N)`) or `num_masked` (patchout: drop a fixed
    number of tokens, keeping at least one).

    Args:
        mask_ratio: float in [0, 1). Fraction of tokens to hide. Defaults to
            `0.75` unless `num_masked` is given.
        num_masked: int or `None`. Fixed number of tokens to hide.
        apply_at_inference: bool. Mask also when `training` is false (the
            pre-trainer needs this for validation and `reconstruct`).
            Defaults to `False`: identity at inference.
        seed: int or `None`. Random seed.

    Call returns:
        A tuple `(visible, mask, ids_restore)`: `visible` is
        `(batch, num_visible, dim)`, `mask` is `(batch, N)` float (1 = hidden)
        and `ids_restore` `(batch, N)` int32 puts the shuffled sequence
        (visible then hidden) back into the original order.

    Examples:
    >>> import numpy as np
    >>> from keras import ops
    >>> visible, mask, restore = RandomPatchMasking(0.75, seed=1)(
    ...     np.zeros((2, 8, 4), "float32"), training=True)
    >>> tuple(visible.shape), float(ops.sum(mask))
    ((2, 2, 4), 12.0)
    """

    def __init__(
        self,
        mask_ratio=None,
        num_masked=None,
        apply_at_inference=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask_ratio is not None and num_masked is not None:
            raise ValueError(
                "Pass only one of `mask_ratio` and `num_masked`. Received: "
                f"mask_ratio={mask_ratio}, num_masked={num_masked}"
            )
        if mask_ratio is None and num_masked is None:
            mask_ratio = 0.75
        if mask_ratio is not None and not 0.0 <= mask_ratio < 1.0:
            raise ValueError(
                f"`mask_ratio` must be in [0, 1). Received: "
                f"mask_ratio={mask_ratio}"
            )
        if num_masked is not None and (
            not isinstance(num_masked, int) or num_masked < 0
        ):
            raise ValueError(
                f"`num_masked` must be an int >= 0. Received: "
                f"num_masked={num_masked}"
            )
        self.mask_ratio = mask_ratio
        self.num_masked = num_masked
        self.apply_at_inference = apply_at_inference
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def num_visible(self, num_tokens):
        """Number of tokens kept out of `num_tokens` (int or tensor).

        Examples:
        >>> RandomPatchMasking(0.75).num_visible(496)
        124
        """
        if self.num_masked is not None:
            if isinstance(num_tokens, int):
                return max(num_tokens - self.num_masked, 1)
            return ops.maximum(num_tokens - self.num_masked, 1)
        if isinstance(num_tokens, int):
            return max(int(round((1.0 - self.mask_ratio) * num_tokens)), 1)
        keep = ops.round(
            (1.0 - self.mask_ratio) * ops.cast(num_tokens, "float32")
        )
        return ops.maximum(ops.cast(keep, "int32"), 1)

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        num = inputs.shape[1]
        if num is None:
            num = ops.shape(inputs)[1]
        active = training or self.apply_at_inference
        if not active or (self.num_masked == 0 and self.mask_ratio is None):
            mask = ops.zeros((batch, num), dtype=inputs.dtype)
            restore = ops.broadcast_to(
                ops.arange(num, dtype="int32")[None], (batch, num)
            )
            return inputs, mask, restore
        keep = self.num_visible(num)
        noise = keras.random.uniform((batch, num), seed=self.seed_generator)
        shuffle = ops.cast(ops.argsort(noise, axis=1), "int32")
        restore = ops.cast(ops.argsort(shuffle, axis=1), "int32")
        ids_keep = shuffle[:, :keep]
        visible = ops.take_along_axis(inputs, ids_keep[:, :, None], axis=1)
        position = ops.arange(num, dtype="int32")[None]
        shuffled_mask = ops.cast(position >= keep, inputs.dtype)
        shuffled_mask = ops.broadcast_to(shuffled_mask, (batch, num))
        mask = ops.take_along_axis(shuffled_mask, restore, axis=1)
        return visible, mask, restore

    def compute_output_shape(self, input_shape):
        b, n, d = input_shape
        keep = None if n is None else self.num_visible(n)
        return (b, keep, d), (b, n), (b, n)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask_ratio": self.mask_ratio,
                "num_masked": self.num_masked,
                "apply_at_inference": self.apply_at_inference,
                "seed": self.seed,
            }
        )
        return config
