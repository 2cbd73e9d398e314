"""Transformer block with local (windowed, optionally shifted) attention."""

import keras
from keras import ops

from keras_maskspec.layers.transformer_block import TransformerBlock


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(
            f"`{name}` must be an int or a pair of ints. Received: "
            f"{name}={value}"
        )
    return pair


@keras.saving.register_keras_serializable(package="keras_maskspec")
class WindowTransformerBlock(TransformerBlock):
    """A `TransformerBlock` whose tokens attend only within local windows.

    The tokens are a time-major `(time, frequency)` patch grid with
    `frequency_patches` patches per time column. Attention runs inside
    non-overlapping `window_size` windows; with a `shift_size`, the window
    grid is moved by that many patches (Swin's cyclic shift and mask, so a
    window never mixes patches from opposite ends of the grid). Stacking
    blocks with shifts `(0, 0)` and `shift_size` alternately lets
    information cross window borders, as in Audio-MAE's decoder. A grid
    that is not a whole number of windows is padded at the end; padded
    patches are never attended to. A window as large as the grid or larger
    is clipped to it, and then not shifted along that axis (Swin's rule; along
    time only when the number of time patches is fixed in the graph).

    Equivalently: a query at `(t, f)` attends to the keys `(t', f')` with
    `(t - s_t) // w_t == (t' - s_t) // w_t` and `(f - s_f) // w_f ==
    (f' - s_f) // w_f` (`//` rounding down).

    Args:
        hidden_dim: int. Token width.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. MLP hidden width.
        frequency_patches: int. Patches per time column of the grid.
        window_size: int or pair `(time, frequency)`. Window in patches.
            Defaults to `(4, 4)` (Audio-MAE).
        shift_size: int or pair `(time, frequency)`, each in
            `[0, window)`. Defaults to `(0, 0)`.
        **kwargs: the other `TransformerBlock` arguments (`dropout`,
            `attention_dropout`, `drop_path`, `layer_norm_epsilon`,
            `seed`) and layer arguments.

    Input shape:
        `(batch, time_patches * frequency_patches, hidden_dim)`, time-major,
        no `[CLS]`. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> block = WindowTransformerBlock(32, 4, 64, frequency_patches=8,
    ...                                window_size=(4, 4), shift_size=(2, 0))
    >>> tuple(block(np.zeros((2, 6 * 8, 32), "float32")).shape)
    (2, 48, 32)

    References:
        - Liu et al., "Swin Transformer: Hierarchical Vision Transformer
          using Shifted Windows", ICCV 2021.
        - Huang et al., "Masked Autoencoders that Listen", NeurIPS 2022.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        frequency_patches,
        window_size=(4, 4),
        shift_size=(0, 0),
        **kwargs,
    ):
        super().__init__(hidden_dim, num_heads, intermediate_dim, **kwargs)
        if not isinstance(frequency_patches, int) or frequency_patches < 1:
            raise ValueError(
                "`frequency_patches` must be an int >= 1. Received: "
                f"frequency_patches={frequency_patches}"
            )
        window = _pair(window_size, "window_size")
        shift = _pair(shift_size, "shift_size")
        if min(window) < 1:
            raise ValueError(
                f"`window_size` must be >= 1. Received: window_size={window}"
            )
        if not all(0 <= s < w for s, w in zip(shift, window)):
            raise ValueError(
                "Each `shift_size` must be in [0, window_size). Received: "
                f"shift_size={shift}, window_size={window}"
            )
        self.frequency_patches = frequency_patches
        self.window_size = window
        self.shift_size = shift

    def _windows(self):
        """Window and shift after clipping to the frequency axis."""
        (wt, wf), (st, sf) = self.window_size, self.shift_size
        if wf >= self.frequency_patches:
            wf, sf = self.frequency_patches, 0
        return wt, wf, st, sf

    def _attention(self, x, training):
        batch = ops.shape(x)[0]
        gf = self.frequency_patches
        wt, wf, st, sf = self._windows()
        dim = self.hidden_dim
        heads = self.num_heads
        head_dim = dim // heads
        grid = ops.reshape(x, (batch, -1, gf, dim))
        gt = grid.shape[1]
        if gt is None:
            gt = ops.shape(grid)[1]
        elif gt <= wt:  # one window covers time: no time shift (Swin)
            wt, st = gt, 0
        pad_t = (-gt) % wt
        pad_f = (-gf) % wf
        grid = ops.pad(grid, ((0, 0), (0, pad_t), (0, pad_f), (0, 0)))
        tp, fp = gt + pad_t, gf + pad_f
        # Region labels of Swin's shifted-window mask, and real patches,
        # both in the rolled frame.
        rows = ops.arange(tp, dtype="int32")
        cols = ops.arange(fp, dtype="int32")
        region_t = ops.cast(rows >= tp - wt, "int32") + ops.cast(
            rows >= tp - st, "int32"
        )
        region_f = ops.cast(cols >= fp - wf, "int32") + ops.cast(
            cols >= fp - sf, "int32"
        )
        if not st:
            region_t = ops.zeros_like(region_t)
        if not sf:
            region_f = ops.zeros_like(region_f)
        region = region_t[:, None] * 3 + region_f[None, :]
        real = ops.logical_and((rows < gt)[:, None], (cols < gf)[None, :])
        if st or sf:
            grid = ops.roll(grid, shift=(-st, -sf), axis=(1, 2))
            real = ops.roll(real, shift=(-st, -sf), axis=(0, 1))
        nt, nf = tp // wt, fp // wf
        length = wt * wf

        def to_windows(t, channels):
            # (batch, tp, fp, c) -> (batch, nt * nf, wt * wf, c)
            t = ops.reshape(t, (-1, nt, wt, nf, wf, channels))
            t = ops.transpose(t, (0, 1, 3, 2, 4, 5))
            return ops.reshape(t, (-1, nt * nf, length, channels))

        windows = to_windows(grid, dim)
        region = to_windows(region[None, :, :, None], 1)[0, ..., 0]
        real = to_windows(ops.cast(real, "int32")[None, :, :, None], 1)
        real = real[0, ..., 0]
        # (windows, query, key): same shifted-window region; a real key.
        same_region = region[..., :, None] == region[..., None, :]
        real_key = ops.broadcast_to(
            (real > 0)[..., None, :], ops.shape(same_region)
        )
        qkv = ops.reshape(
            self.qkv(windows), (batch, nt * nf, length, 3, heads, head_dim)
        )
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]
        # At most 5-D: TensorFlow's oneDNN softmax takes no more.
        scores = self._window_scores(q, k, (wt, wf), training)
        scores = self._mask_scores(
            scores, same_region[None, :, None], real_key[None, :, None]
        )
        weights = ops.cast(ops.softmax(scores, axis=-1), v.dtype)
        weights = self._dropout(weights, self.attention_dropout, training)
        out = ops.einsum("bwhqk,bwkhd->bwqhd", weights, v)
        out = ops.reshape(out, (batch, nt, nf, wt, wf, dim))
        out = ops.transpose(out, (0, 1, 3, 2, 4, 5))
        out = ops.reshape(out, (batch, tp, fp, dim))
        if st or sf:
            out = ops.roll(out, shift=(st, sf), axis=(1, 2))
        out = out[:, :gt, :gf]
        return self.proj(ops.reshape(out, (batch, -1, dim)))

    def _window_scores(self, q, k, window, training):
        """Attention logits `(batch, windows, heads, query, key)`, float32.

        `q`, `k`: `(batch, windows, window_tokens, heads, head_dim)`;
        `window`: the `(time, frequency)` window after clipping.
        """
        del window, training
        scores = ops.einsum("bwqhd,bwkhd->bwhqk", q, k)
        head_dim = self.hidden_dim // self.num_heads
        return ops.cast(scores, "float32") * head_dim**-0.5

    def _mask_scores(self, scores, same_region, real_key):
        """Keys outside the query's shifted window or padded: never seen."""
        allowed = ops.logical_and(same_region, real_key)
        return ops.where(allowed, scores, -1e9)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "frequency_patches": self.frequency_patches,
                "window_size": self.window_size,
                "shift_size": self.shift_size,
            }
        )
        return config
