"""Per-example patch masking (MAE style) with structured strategies."""

import math

import keras
from keras import ops

STRATEGIES = (
    "random",
    "time",
    "frequency",
    "time_frequency",
    "block",
    "inverse_block",
)
# SSAST's cluster masking draws a square side of 3 to 5 patches per clip;
# EAT (data2vec 2.0's inverse block masking) keeps 5 x 5 blocks.
_DEFAULT_BLOCK_SIZE = {"block": (3, 5), "inverse_block": (5, 5)}


@keras.saving.register_keras_serializable(package="keras_maskspec")
class RandomPatchMasking(keras.layers.Layer):
    """Hides a random subset of tokens per example and drops them.

    Every example gets its own random order of the tokens; the first
    `num_visible` tokens of it are kept (in that order, as in MAE) and the
    rest are hidden. The number of kept tokens is a Python int whenever the
    token count is static, so shapes stay static for XLA and TPUs. Mask
    convention: 1 = hidden, 0 = visible.

    `strategy` picks the shape of the hidden set on the `(time, frequency)`
    patch grid (tokens time-major, `frequency_patches` per time column):

    - `"random"`: uniform over patches (MAE, MaskSpec).
    - `"time"` / `"frequency"`: whole time columns / frequency rows, in a
      random order (Audio-MAE's ablations); when the hidden count is not a
      multiple of the column (row) length, one column (row) is partly
      hidden, at random positions.
    - `"time_frequency"`: `round(r_t * T)` whole columns and
      `round(r_f * F)` whole rows (Audio-MAE). `mask_ratio` is then a pair
      `(r_t, r_f)`, or one float `r` split as `r_t = r_f = 1 - sqrt(1 -
      r)`; the visible count is `(T - n_t) * (F - n_f)`.
    - `"block"`: contiguous square clusters (SSAST): blocks with random
      top-left corners (every patch equally likely to be covered) are
      added in a random order until the hidden count is reached; the last
      block is trimmed at random. The side is drawn per example from
      `block_size`.
    - `"inverse_block"`: the same blocks mark what is *kept*; everything
      else is hidden (EAT).

    Every strategy hides exactly the count of `num_visible`.

    Give either `mask_ratio` (pre-training: `num_visible =
    floor(N * (1 - mask_ratio))`, MAE's `int(L * (1 - mask_ratio))`) or
    `num_masked` (patchout: drop a fixed number of tokens, keeping at least
    one).

    With `shared=True` one random order is drawn per batch and used by every
    example: MaskSpec's patchout (`models_vit.py`) keeps one random token
    set per batch.

    Args:
        mask_ratio: float in [0, 1), or for `"time_frequency"` a pair of
            such floats `(time, frequency)`. Fraction of tokens to hide.
            Defaults to `0.75` unless `num_masked` is given.
        num_masked: int or `None`. Fixed number of tokens to hide.
        apply_at_inference: bool. Mask also when `training` is false (the
            pre-trainer needs this for validation and `reconstruct`).
            Defaults to `False`: identity at inference.
        seed: int or `None`. Random seed.
        strategy: str. One of `STRATEGIES`. Defaults to `"random"`.
        frequency_patches: int or `None`. Patches per time column (the
            frequency size of the grid); needed by every strategy but
            `"random"`.
        block_size: int, pair `(min, max)` of ints, or `None`. Square side
            of a block in patches, for `"block"` and `"inverse_block"`.
            Defaults to `(3, 5)` for `"block"` (SSAST) and `5` for
            `"inverse_block"` (EAT).
        shared: bool. One random token set for the whole batch. Defaults
            to `False` (one per example).

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
    >>> layer = RandomPatchMasking(0.5, strategy="time", frequency_patches=4,
    ...                            seed=1)
    >>> _, mask, _ = layer(np.zeros((1, 24, 4), "float32"), training=True)
    >>> sorted(set(ops.convert_to_numpy(
    ...     ops.reshape(mask, (6, 4))).sum(axis=1).tolist()))
    [0.0, 4.0]

    References:
        - He et al., "Masked Autoencoders Are Scalable Vision Learners",
          CVPR 2022.
        - Huang et al., "Masked Autoencoders that Listen", NeurIPS 2022.
        - Gong et al., "SSAST: Self-Supervised Audio Spectrogram
          Transformer", AAAI 2022.
        - Chen et al., "EAT: Self-Supervised Pre-Training with Efficient
          Audio Transformer", IJCAI 2024.
    """

    def __init__(
        self,
        mask_ratio=None,
        num_masked=None,
        apply_at_inference=False,
        seed=None,
        strategy="random",
        frequency_patches=None,
        block_size=None,
        shared=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if strategy not in STRATEGIES:
            raise ValueError(
                f"`strategy` must be one of {STRATEGIES}. Received: "
                f"strategy={strategy!r}"
            )
        if mask_ratio is not None and num_masked is not None:
            raise ValueError(
                "Pass only one of `mask_ratio` and `num_masked`. Received: "
                f"mask_ratio={mask_ratio}, num_masked={num_masked}"
            )
        if mask_ratio is None and num_masked is None:
            mask_ratio = 0.75
        if isinstance(mask_ratio, (list, tuple)):
            if strategy != "time_frequency" or len(mask_ratio) != 2:
                raise ValueError(
                    "A pair `mask_ratio` (time, frequency) is only for "
                    "strategy='time_frequency'. Received: "
                    f"mask_ratio={mask_ratio}, strategy={strategy!r}"
                )
            mask_ratio = tuple(float(r) for r in mask_ratio)
        ratios = mask_ratio if isinstance(mask_ratio, tuple) else [mask_ratio]
        if mask_ratio is not None and not all(0.0 <= r < 1.0 for r in ratios):
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
        if num_masked is not None and strategy == "time_frequency":
            raise ValueError(
                "strategy='time_frequency' hides whole columns and rows, "
                "so it takes `mask_ratio`, not `num_masked`. Received: "
                f"num_masked={num_masked}"
            )
        if strategy != "random" and (
            not isinstance(frequency_patches, int) or frequency_patches < 1
        ):
            raise ValueError(
                f"strategy={strategy!r} needs `frequency_patches`, the "
                "number of patches per time column (an int >= 1). "
                f"Received: frequency_patches={frequency_patches}"
            )
        if block_size is not None:
            if strategy not in _DEFAULT_BLOCK_SIZE:
                raise ValueError(
                    "`block_size` is only for strategy 'block' or "
                    f"'inverse_block'. Received: block_size={block_size}, "
                    f"strategy={strategy!r}"
                )
            sides = (
                (block_size, block_size)
                if isinstance(block_size, int)
                else tuple(block_size)
            )
            if (
                len(sides) != 2
                or not all(isinstance(s, int) for s in sides)
                or not 1 <= sides[0] <= sides[1]
            ):
                raise ValueError(
                    "`block_size` must be an int >= 1 or a pair (min, max) "
                    f"with 1 <= min <= max. Received: block_size={block_size}"
                )
            block_size = block_size if isinstance(block_size, int) else sides
        self.mask_ratio = mask_ratio
        self.num_masked = num_masked
        self.apply_at_inference = apply_at_inference
        self.seed = seed
        self.strategy = strategy
        self.frequency_patches = frequency_patches
        self.block_size = block_size
        self.shared = bool(shared)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _axis_ratios(self):
        """`(r_t, r_f)` of `"time_frequency"`."""
        if isinstance(self.mask_ratio, tuple):
            return self.mask_ratio
        each = 1.0 - math.sqrt(1.0 - self.mask_ratio)
        return each, each

    def _hidden_lines(self, num_tokens):
        """Hidden columns and rows of `"time_frequency"` (ints or tensors)."""
        gf = self.frequency_patches
        r_t, r_f = self._axis_ratios()
        n_f = min(int(round(r_f * gf)), gf - 1)
        if isinstance(num_tokens, int):
            gt = num_tokens // gf
            return gt, min(int(round(r_t * gt)), gt - 1), n_f
        gt = num_tokens // gf
        n_t = ops.cast(ops.round(r_t * ops.cast(gt, "float32")), "int32")
        return gt, ops.minimum(n_t, gt - 1), n_f

    def num_visible(self, num_tokens):
        """Number of tokens kept out of `num_tokens` (int or tensor).

        Examples:
        >>> RandomPatchMasking(0.75).num_visible(496)
        124
        >>> RandomPatchMasking((0.5, 0.25), strategy="time_frequency",
        ...                    frequency_patches=8).num_visible(496)
        186
        """
        if self.strategy == "time_frequency":
            gt, n_t, n_f = self._hidden_lines(num_tokens)
            return (gt - n_t) * (self.frequency_patches - n_f)
        if self.num_masked is not None:
            if isinstance(num_tokens, int):
                return max(num_tokens - self.num_masked, 1)
            return ops.maximum(num_tokens - self.num_masked, 1)
        if isinstance(num_tokens, int):
            return max(int(num_tokens * (1.0 - self.mask_ratio)), 1)
        keep = ops.floor(
            ops.cast(num_tokens, "float32") * (1.0 - self.mask_ratio)
        )
        return ops.maximum(ops.cast(keep, "int32"), 1)

    def _uniform(self, shape):
        return keras.random.uniform(shape, seed=self.seed_generator)

    def _priority(self, batch, num):
        """`(batch, num)` float: tokens are kept in ascending order."""
        if self.strategy == "random":
            return self._uniform((batch, num))
        gf = self.frequency_patches
        gt = num // gf
        # Ties inside a column, row or block are broken at random.
        jitter = ops.reshape(self._uniform((batch, num)), (batch, gt, gf))
        if self.strategy in ("time", "time_frequency"):
            columns = _ranks(self._uniform((batch, gt)))
        if self.strategy in ("frequency", "time_frequency"):
            rows = _ranks(self._uniform((batch, gf)))
        if self.strategy == "time":
            order = columns[:, :, None] + jitter
        elif self.strategy == "frequency":
            order = rows[:, None, :] + jitter
        elif self.strategy == "time_frequency":
            _, n_t, n_f = self._hidden_lines(num)
            hidden = ops.logical_or(
                (columns >= ops.cast(gt - n_t, "float32"))[:, :, None],
                (rows >= float(gf - n_f))[:, None, :],
            )
            order = ops.cast(hidden, "float32") + jitter
        else:
            low, high = self._block_sides()
            extended = (gt + high - 1) * (gf + high - 1)
            starts = self._uniform((batch, extended))
            sides = self._uniform((batch,))
            covered = _block_cover_order(starts, sides, gt, gf, (low, high))
            # Patches covered by earlier blocks are hidden first ("block")
            # or kept first ("inverse_block").
            order = covered + jitter
            if self.strategy == "block":
                order = -order
        return ops.reshape(order, (batch, num))

    def _block_sides(self):
        size = self.block_size or _DEFAULT_BLOCK_SIZE[self.strategy]
        return (size, size) if isinstance(size, int) else tuple(size)

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        num = inputs.shape[1]
        if num is None:
            num = ops.shape(inputs)[1]
        if (
            self.strategy != "random"
            and isinstance(num, int)
            and num % self.frequency_patches
        ):
            raise ValueError(
                f"The {num} tokens do not form a grid of "
                f"frequency_patches={self.frequency_patches} rows. "
                f"Received: inputs.shape={tuple(inputs.shape)}"
            )
        active = training or self.apply_at_inference
        if not active or (self.num_masked == 0 and self.mask_ratio is None):
            mask = ops.zeros((batch, num), dtype=inputs.dtype)
            restore = ops.broadcast_to(
                ops.arange(num, dtype="int32")[None], (batch, num)
            )
            return inputs, mask, restore
        keep = self.num_visible(num)
        if self.shared:
            priority = ops.broadcast_to(self._priority(1, num), (batch, num))
        else:
            priority = self._priority(batch, num)
        shuffle = ops.cast(ops.argsort(priority), "int32")
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
                "strategy": self.strategy,
                "frequency_patches": self.frequency_patches,
                "block_size": self.block_size,
                "shared": self.shared,
            }
        )
        return config


def _ranks(x):
    """Float ranks `0 .. n-1` of `x` along its last axis."""
    order = ops.argsort(ops.argsort(x, axis=-1), axis=-1)
    return ops.cast(order, "float32")


def _block_cover_order(starts, sides, time_patches, frequency_patches, size):
    """For each patch, the rank of the first random block that covers it.

    Square blocks of side `s` (drawn per example from `size`) get a random
    order through `starts`, one uniform draw per possible top-left corner;
    corners range over an extended grid so that blocks may stick out on
    every side and each patch is covered by the same number of them. A
    patch's value is the smallest rank among the blocks covering it, so
    the `k` patches with the lowest values are exactly what adding blocks
    in that order until `k` patches are covered hides (the last block
    split by ties, which the caller breaks at random).

    Args:
        starts: `(batch, (T + max - 1) * (F + max - 1))` uniform draws.
        sides: `(batch,)` uniform draws that pick the side per example.
        time_patches: int or scalar tensor `T`.
        frequency_patches: int `F`.
        size: pair `(min, max)` of block sides.

    Returns:
        `(batch, T, F)` float32 ranks.

    Examples:
    >>> import numpy as np
    >>> starts = np.random.default_rng(0).uniform(size=(1, 6 * 6))
    >>> cover = _block_cover_order(starts, np.zeros(1), 4, 4, (3, 3))
    >>> tuple(cover.shape)
    (1, 4, 4)
    """
    low, high = size
    batch = ops.shape(starts)[0]
    ranks = _ranks(starts)
    ranks = ops.reshape(
        ranks,
        (batch, time_patches + high - 1, frequency_patches + high - 1, 1),
    )
    num_sides = high - low + 1
    choice = ops.cast(
        ops.minimum(ops.floor(sides * num_sides), num_sides - 1), "int32"
    )
    choice = ops.one_hot(choice, num_sides, dtype="float32")
    cover = 0.0
    for i, side in enumerate(range(low, high + 1)):
        # A patch is covered by the blocks whose corner lies within the
        # `side` x `side` window ending at it: a min-pool of the ranks.
        window = ranks[:, high - side :, high - side :]
        pooled = -ops.max_pool(
            -window, pool_size=side, strides=1, padding="valid"
        )
        cover = cover + choice[:, i, None, None] * pooled[..., 0]
    return cover
