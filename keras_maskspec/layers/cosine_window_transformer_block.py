"""Audio-MAE's decoder block: Swin-V2 windowed cosine attention, post-norm."""

import keras
import numpy as np
from keras import ops

from keras_maskspec.layers.window_transformer_block import (
    WindowTransformerBlock,
)

# Audio-MAE's shifted-window mask adds -100 to the logits of keys from
# another region (it does not exclude them), as timm's Swin blocks do.
_REGION_PENALTY = -100.0


def log_relative_coordinates(window):
    """Swin-V2's log-spaced relative coordinates of one window.

    Row `i * L + j` (`L = time * frequency` tokens of the window, time-major)
    is `sign(d) * log(1 + |d|)` for `d = position(i) - position(j)`, the
    query's minus the key's `(time, frequency)` position: the input of the
    continuous position-bias MLP (timm's `_make_pair_wise_relative_positions`).

    Args:
        window: pair `(time, frequency)` of ints.

    Returns:
        float32 numpy array `(L * L, 2)`.

    Examples:
    >>> log_relative_coordinates((1, 2)).round(3).tolist()
    [[0.0, 0.0], [0.0, -0.693], [0.0, 0.693], [0.0, 0.0]]
    """
    t, f = np.meshgrid(
        np.arange(window[0]), np.arange(window[1]), indexing="ij"
    )
    coords = np.stack([t.reshape(-1), f.reshape(-1)])  # (2, L)
    relative = (coords[:, :, None] - coords[:, None, :]).reshape(2, -1).T
    relative = relative.astype("float32")
    return np.sign(relative) * np.log1p(np.abs(relative))


@keras.saving.register_keras_serializable(package="keras_maskspec")
class CosineWindowTransformerBlock(WindowTransformerBlock):
    """The block of Audio-MAE's local decoder (timm's Swin-V2 "CR" block).

    Same windows, shifts and token layout as `WindowTransformerBlock`, but
    the block Audio-MAE's `decoder_mode=1` actually runs
    (`timm_patch/swin_transformer.py` of facebookresearch/AudioMAE):

    - **Post-norm residuals**: `x + DropPath(LN(Attn(x)))`, then
      `x + DropPath(LN(MLP(x)))` (the norms sit on the branch outputs).
    - **Scaled cosine attention**: logits are `cos(q, k) / max(tau, 0.01)`
      with a learned temperature `tau` per head (initialised to 1), the
      cosine's denominator clamped at `1e-6`.
    - **Continuous relative-position bias**: an MLP (2 -> `meta_hidden_dim`
      -> heads, ReLU, dropout `meta_dropout` after both layers, in
      training only) maps each query-key offset, log-spaced
      (`log_relative_coordinates`), to one bias per head.
    - **Soft shift mask**: in a shifted block, keys that the cyclic shift
      brought in from the far end of the grid get `-100` added to their
      logits (Swin's mask), not `-inf`. Padded keys (a grid that is not a
      whole number of windows, which Audio-MAE does not allow) are never
      attended to.

    Sublayer and weight names follow timm (`norm1`, `qkv`, `proj`,
    `norm2`, `fc1`, `fc2`, `meta_fc1`, `meta_fc2`, `tau`), so
    `convert --from audiomae` maps a checkpoint's decoder one to one.

    Args:
        hidden_dim: int. Token width.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. MLP hidden width.
        frequency_patches: int. Patches per time column of the grid.
        window_size: int or pair `(time, frequency)`. Defaults to `(4, 4)`.
        shift_size: int or pair `(time, frequency)`. Defaults to `(0, 0)`.
        meta_hidden_dim: int. Hidden width of the position-bias MLP.
            Defaults to `384` (timm's and Audio-MAE's).
        meta_dropout: float. Dropout inside the position-bias MLP (timm's
            fixed `0.1`). Defaults to `0.1`.
        **kwargs: the other `TransformerBlock` arguments (`dropout`,
            `attention_dropout`, `drop_path`, `layer_norm_epsilon`,
            `seed`) and layer arguments.

    Input shape:
        `(batch, time_patches * frequency_patches, hidden_dim)`, time-major,
        no `[CLS]`. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> block = CosineWindowTransformerBlock(
    ...     32, 4, 64, frequency_patches=8, window_size=(4, 4),
    ...     shift_size=(2, 0))
    >>> tuple(block(np.zeros((2, 8 * 8, 32), "float32")).shape)
    (2, 64, 32)
    >>> tuple(block.tau.shape), tuple(block.meta_fc1.kernel.shape)
    ((4,), (2, 384))

    References:
        - Liu et al., "Swin Transformer V2: Scaling Up Capacity and
          Resolution", CVPR 2022.
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
        meta_hidden_dim=384,
        meta_dropout=0.1,
        **kwargs,
    ):
        super().__init__(
            hidden_dim,
            num_heads,
            intermediate_dim,
            frequency_patches,
            window_size=window_size,
            shift_size=shift_size,
            **kwargs,
        )
        if not isinstance(meta_hidden_dim, int) or meta_hidden_dim < 1:
            raise ValueError(
                "`meta_hidden_dim` must be an int >= 1. Received: "
                f"meta_hidden_dim={meta_hidden_dim}"
            )
        if not 0.0 <= meta_dropout < 1.0:
            raise ValueError(
                "`meta_dropout` must be in [0, 1). Received: "
                f"meta_dropout={meta_dropout}"
            )
        self.meta_hidden_dim = meta_hidden_dim
        self.meta_dropout = meta_dropout
        # Audio-MAE's `_init_weights` re-initialises every nn.Linear, the
        # meta MLP's too, with xavier-uniform, as `_dense` does.
        self.meta_fc1 = self._dense(
            meta_hidden_dim, "meta_fc1", activation="relu"
        )
        self.meta_fc2 = self._dense(num_heads, "meta_fc2")

    def build(self, input_shape):
        super().build(input_shape)
        self.meta_fc1.build((None, 2))
        self.meta_fc2.build((None, self.meta_hidden_dim))
        self.tau = self.add_weight(
            shape=(self.num_heads,), initializer="ones", name="tau"
        )

    def _position_bias(self, window, training):
        """`(heads, L, L)` bias from the meta MLP, float32."""
        coords = ops.convert_to_tensor(
            log_relative_coordinates(window), dtype=self.compute_dtype
        )
        h = self._dropout(self.meta_fc1(coords), self.meta_dropout, training)
        h = self._dropout(self.meta_fc2(h), self.meta_dropout, training)
        length = window[0] * window[1]
        h = ops.reshape(ops.cast(h, "float32"), (length, length, -1))
        return ops.transpose(h, (2, 0, 1))

    def _window_scores(self, q, k, window, training):
        q = ops.cast(q, "float32")
        k = ops.cast(k, "float32")
        dots = ops.einsum("bwqhd,bwkhd->bwhqk", q, k)
        norm_q = ops.sqrt(ops.sum(ops.square(q), axis=-1))
        norm_k = ops.sqrt(ops.sum(ops.square(k), axis=-1))
        denom = ops.einsum("bwqh,bwkh->bwhqk", norm_q, norm_k)
        scores = dots / ops.maximum(denom, 1e-6)
        tau = ops.maximum(ops.cast(self.tau, "float32"), 0.01)
        scores = scores / tau[:, None, None]
        return scores + self._position_bias(window, training)

    def _mask_scores(self, scores, same_region, real_key):
        scores = scores + ops.where(same_region, 0.0, _REGION_PENALTY)
        return ops.where(real_key, scores, -1e9)

    def call(self, inputs, training=None):
        x = inputs
        h = self._dropout(self._attention(x, training), self.dropout, training)
        x = x + self._drop_path(self.norm1(h), training)
        h = self._dropout(self._mlp(x, training), self.dropout, training)
        return x + self._drop_path(self.norm2(h), training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "meta_hidden_dim": self.meta_hidden_dim,
                "meta_dropout": self.meta_dropout,
            }
        )
        return config
