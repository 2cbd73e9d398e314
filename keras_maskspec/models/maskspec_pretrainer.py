"""MaskSpec pre-training model: masked encoder + light decoder."""

import keras
from keras import ops

from keras_maskspec.layers.cosine_window_transformer_block import (
    CosineWindowTransformerBlock,
)
from keras_maskspec.layers.learned_position_embedding import (
    LearnedPositionEmbedding,
)
from keras_maskspec.layers.learned_position_embedding import SinCosInitializer
from keras_maskspec.layers.mask_token_restore import MaskTokenRestore
from keras_maskspec.layers.patching import Patchify
from keras_maskspec.layers.random_patch_masking import STRATEGIES
from keras_maskspec.layers.random_patch_masking import RandomPatchMasking
from keras_maskspec.layers.sin_cos_position_embedding import (
    SinCosPositionEmbedding,
)
from keras_maskspec.layers.transformer_block import TransformerBlock
from keras_maskspec.layers.window_transformer_block import (
    WindowTransformerBlock,
)
from keras_maskspec.models.losses import MaskedPatchMSE
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.model_base import derive_seed
from keras_maskspec.models.optimizers import no_decay_paths
from keras_maskspec.models.optimizers import scheduled_adamw
from keras_maskspec.models.presets import DEFAULT_PRESET
from keras_maskspec.models.presets import PRETRAINER_KEYS
from keras_maskspec.models.presets import PRETRAINING
from keras_maskspec.models.presets import get_decoder_preset

_DEFAULT = get_decoder_preset(DEFAULT_PRESET)
_DECODER_ATTENTION = ("global", "local", "swinv2")


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskSpecPretrainer(MaskSpecModel):
    """Masked spectrogram prediction: hide patches, rebuild them.

    The waveform goes through the encoder's log-mel front end and patch
    embedding; `RandomPatchMasking` hides `mask_ratio` of the patches per
    example and the encoder's blocks see only the visible ones (124 of 496
    for a 10 s clip). A light decoder (`decoder_num_layers` blocks of width
    `decoder_hidden_dim`) receives the encoded visible tokens plus a shared
    learnable mask token at every hidden position, and a linear head
    predicts the 256 values of each patch. The loss (`MaskedPatchMSE`) is
    the MSE over hidden patches of per-patch normalised targets.

    `MaskSpecPretrainer()` is the paper's base model; use `from_preset`
    for the other sizes. Size defaults are the `"maskspec_base"` preset's,
    `mask_ratio` and the `compile()` defaults are `presets.PRETRAINING`.

    Args:
        encoder: a `MaskSpecEncoder` or `None` (the base encoder).
        decoder_hidden_dim: int. Defaults to `512`.
        decoder_num_layers: int. Defaults to `8`.
        decoder_num_heads: int. Defaults to `16`.
        decoder_intermediate_dim: int. Defaults to `2048`.
        mask_ratio: float. Fraction of patches hidden. Defaults to `0.75`.
        normalize_targets: bool. Per-patch target normalisation. Defaults
            to `True`.
        seed: int or `None`. Masking seed (its own stream, `derive_seed`).
        masking: str. Which patches are hidden: `"random"` (the paper's),
            `"time"`, `"frequency"`, `"time_frequency"` (then `mask_ratio`
            may be a pair `(time, frequency)`), `"block"` or
            `"inverse_block"`; see `RandomPatchMasking`. Defaults to
            `"random"`.
        decoder_attention: str. `"global"` (the paper's: every decoder
            token attends to all, with the `[CLS]` token), `"local"`
            (attention within `decoder_window` windows of the patch grid,
            shifted by `decoder_shift` in every second block, in the same
            pre-norm ViT blocks as the encoder; no `[CLS]` in the decoder)
            or `"swinv2"` (the same windows in Audio-MAE's own decoder
            blocks, `CosineWindowTransformerBlock`: post-norm, scaled
            cosine attention, an MLP relative-position bias). Defaults to
            `"global"`.
        decoder_window: int or pair `(time, frequency)`. Window of the
            local decoder, in patches. Defaults to `(4, 4)` (Audio-MAE).
        decoder_shift: int, pair or `None`. Shift of every second local
            block; `None`: half the window (Swin). Audio-MAE uses `(2, 0)`.
        decoder_position: str. `"sincos"`: the fixed 2-D sin-cos code of
            the patch grid, for any clip length (MAE's, MaskSpec's). Or
            `"learned"`: a table over `decoder_position_grid` held as a
            weight, started from the sin-cos code; converted checkpoints
            whose decoder table is not our code (Audio-MAE's, laid out for
            a `(mel, time)` grid) load theirs into it. Defaults to
            `"sincos"`.
        decoder_position_grid: pair `(time_patches, mel_patches)` of the
            `"learned"` table; clips may be shorter, not longer. Defaults
            to `None` (required with `"learned"`).

    Input shape:
        `(batch, samples)` waveforms at `encoder.sample_rate`.

    Output:
        dict with `"reconstruction"` `(batch, N, patch_dim)`, `"target"`
        `(batch, N, patch_dim)` (raw log-mel patches), `"mask"` `(batch, N)`
        (1 = hidden) and `"spectrogram"` `(batch, frames, mel)`.

    Examples:
    >>> import numpy as np
    >>> model = MaskSpecPretrainer.from_preset("maskspec_test", seed=0)
    >>> model.compile()
    >>> audio = np.random.default_rng(0).normal(size=(4, 16000))
    >>> history = model.fit(audio.astype("float32"), batch_size=2, epochs=1,
    ...                     verbose=0)
    >>> sorted(history.history)
    ['loss']

    References:
        - Chong et al., "Masked Spectrogram Prediction for Self-Supervised
          Audio Pre-Training", ICASSP 2023.
        - He et al., "Masked Autoencoders Are Scalable Vision Learners",
          CVPR 2022.
    """

    def __init__(
        self,
        encoder=None,
        decoder_hidden_dim=_DEFAULT["decoder_hidden_dim"],
        decoder_num_layers=_DEFAULT["decoder_num_layers"],
        decoder_num_heads=_DEFAULT["decoder_num_heads"],
        decoder_intermediate_dim=_DEFAULT["decoder_intermediate_dim"],
        mask_ratio=PRETRAINING["mask_ratio"],
        normalize_targets=True,
        seed=None,
        masking="random",
        decoder_attention="global",
        decoder_window=(4, 4),
        decoder_shift=None,
        decoder_position="sincos",
        decoder_position_grid=None,
        **kwargs,
    ):
        # === Layers ===
        if masking not in STRATEGIES:
            raise ValueError(
                f"`masking` must be one of {STRATEGIES}. Received: "
                f"masking={masking!r}"
            )
        if decoder_attention not in _DECODER_ATTENTION:
            raise ValueError(
                f"`decoder_attention` must be one of {_DECODER_ATTENTION}. "
                f"Received: decoder_attention={decoder_attention!r}"
            )
        if decoder_position not in ("sincos", "learned"):
            raise ValueError(
                "`decoder_position` must be 'sincos' or 'learned'. "
                f"Received: decoder_position={decoder_position!r}"
            )
        if encoder is None:
            encoder = MaskSpecEncoder()
        elif isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if not isinstance(encoder, MaskSpecEncoder):
            raise ValueError(
                "`encoder` must be a MaskSpecEncoder. Received: "
                f"encoder={encoder!r}"
            )
        if encoder.patch_stride != encoder.patch_size:
            raise ValueError(
                "Pre-training needs non-overlapping patches. Received: "
                f"patch_size={encoder.patch_size}, "
                f"patch_stride={encoder.patch_stride}"
            )
        dtype = encoder.layer_dtype
        patch_dim = encoder.patch_size[0] * encoder.patch_size[1]
        grid_frequency = encoder.mel_patches()
        masking_layer = RandomPatchMasking(
            mask_ratio,
            apply_at_inference=True,
            seed=derive_seed(seed, "masking"),
            strategy=masking,
            frequency_patches=None if masking == "random" else grid_frequency,
            name="masking",
        )
        decoder_embed = keras.layers.Dense(
            decoder_hidden_dim, dtype=dtype, name="decoder_embed"
        )
        mask_tokens = MaskTokenRestore(dtype=dtype, name="mask_tokens")
        if decoder_position == "learned":
            if decoder_position_grid is None:
                raise ValueError(
                    "`decoder_position='learned'` needs "
                    "`decoder_position_grid=(time_patches, mel_patches)`. "
                    "Received: decoder_position_grid=None"
                )
            grid = _pair(decoder_position_grid, "decoder_position_grid")
            if grid[1] != grid_frequency or grid[0] < 1:
                raise ValueError(
                    "`decoder_position_grid` must be (time_patches, "
                    f"{grid_frequency}) for this encoder's {grid_frequency} "
                    "mel patches. Received: "
                    f"decoder_position_grid={decoder_position_grid}"
                )
            decoder_position_grid = grid
            decoder_position_layer = LearnedPositionEmbedding(
                *grid,
                initializer=SinCosInitializer(),
                dtype=dtype,
                name="decoder_position_embedding",
            )
        else:
            decoder_position_grid = None
            decoder_position_layer = SinCosPositionEmbedding(
                dtype=dtype, name="decoder_position_embedding"
            )
        block_kwargs = dict(
            layer_norm_epsilon=encoder.layer_norm_epsilon, dtype=dtype
        )
        local = decoder_attention != "global"
        if local:
            window = _pair(decoder_window, "decoder_window")
            shift = (
                tuple(w // 2 for w in window)
                if decoder_shift is None
                else _pair(decoder_shift, "decoder_shift")
            )
            if not all(0 <= s < w for s, w in zip(shift, window)):
                raise ValueError(
                    "Each `decoder_shift` must be in [0, decoder_window). "
                    f"Received: decoder_shift={decoder_shift}, "
                    f"decoder_window={decoder_window}"
                )
            block_kwargs["frequency_patches"] = grid_frequency
            block_kwargs["window_size"] = window
        decoder_layers = []
        block = {
            "global": TransformerBlock,
            "local": WindowTransformerBlock,
            "swinv2": CosineWindowTransformerBlock,
        }[decoder_attention]
        for i in range(decoder_num_layers):
            if local:
                block_kwargs["shift_size"] = shift if i % 2 else (0, 0)
            decoder_layers.append(
                block(
                    decoder_hidden_dim,
                    decoder_num_heads,
                    decoder_intermediate_dim,
                    name=f"decoder_layer_{i}",
                    **block_kwargs,
                )
            )
        decoder_norm = keras.layers.LayerNormalization(
            epsilon=encoder.layer_norm_epsilon, dtype=dtype, name="decoder_norm"
        )
        decoder_head = keras.layers.Dense(
            patch_dim, dtype=dtype, name="decoder_head"
        )

        # === Functional Model ===
        waveform = keras.Input(shape=(None,), name="waveform")
        spectrogram = encoder.frontend(waveform)
        tokens = encoder.embed(spectrogram)
        visible, mask, ids_restore = masking_layer(tokens)
        x = encoder.encode(visible)
        x = encoder.final_norm(x)
        x = decoder_embed(x)
        filled = mask_tokens(x[:, 1:], ids_restore)
        # Back to the (time, mel) grid so the decoder gets its own sin-cos.
        filled = keras.layers.Reshape(
            (-1, encoder.mel_patches(), decoder_hidden_dim)
        )(filled)
        filled = decoder_position_layer(filled)
        if local:
            # Windows cover the patch grid only (Audio-MAE drops [CLS]).
            y = filled
        else:
            y = ops.concatenate([x[:, :1], filled], axis=1)
        for block in decoder_layers:
            y = block(y)
        y = decoder_head(decoder_norm(y))
        if not local:
            y = y[:, 1:]
        target = Patchify(encoder.patch_size, name="patchify")(spectrogram)
        outputs = {
            "reconstruction": keras.layers.Activation(
                "linear", dtype="float32", name="reconstruction"
            )(y),
            "target": target,
            "mask": mask,
            "spectrogram": spectrogram,
        }
        super().__init__(inputs=waveform, outputs=outputs, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.decoder_hidden_dim = decoder_hidden_dim
        self.decoder_num_layers = decoder_num_layers
        self.decoder_num_heads = decoder_num_heads
        self.decoder_intermediate_dim = decoder_intermediate_dim
        self.mask_ratio = masking_layer.mask_ratio
        self.normalize_targets = normalize_targets
        self.seed = seed
        # The layer; `masking.strategy` is the constructor's `masking`.
        self.masking = masking_layer
        self.decoder_attention = decoder_attention
        self.decoder_window = decoder_window
        self.decoder_shift = decoder_shift
        self.decoder_position = decoder_position
        self.decoder_position_grid = decoder_position_grid
        self.reconstruction_loss = MaskedPatchMSE(
            normalize_targets=normalize_targets
        )

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        learning_rate=None,
        base_learning_rate=PRETRAINING["base_learning_rate"],
        global_batch_size=PRETRAINING["global_batch_size"],
        warmup_steps=0,
        total_steps=None,
        weight_decay=PRETRAINING["weight_decay"],
        **kwargs,
    ):
        """Configures pre-training with the paper's defaults.

        The defaults are `presets.PRETRAINING`.

        Args:
            optimizer: `"auto"` for AdamW (betas 0.9/0.95, epsilon 1e-8 as
                PyTorch; weight decay on every weight but 1-D ones and
                biases, so the [CLS] and mask tokens are decayed, as timm's
                `add_weight_decay` in MAE), or any Keras optimizer.
            loss: `"auto"` for `MaskedPatchMSE(normalize_targets)`, or a Keras
                loss taking `(target_patches, reconstruction,
                sample_weight=mask)`.
            learning_rate: float or schedule; overrides the rule below.
            base_learning_rate: float. The paper's `lr = base_lr *
                global_batch_size / 256`. Defaults to `1e-3`.
            global_batch_size: int. Batch size summed over replicas.
                Defaults to `256` (i.e. `lr = base_lr`).
            warmup_steps: int. Linear warm-up steps. Defaults to `0`.
            total_steps: int or `None`. With a value, half-cosine decay to
                `1e-6` after warm-up; without, constant after warm-up.
            weight_decay: float. Defaults to `0.05`.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`,
                `steps_per_execution`).
        """
        self._record_compile_args(locals(), kwargs)
        if optimizer == "auto":
            optimizer = scheduled_adamw(
                learning_rate,
                base_learning_rate,
                global_batch_size,
                warmup_steps,
                total_steps,
                weight_decay=weight_decay,
                beta_2=PRETRAINING["beta_2"],
                no_decay_paths=no_decay_paths(self),
            )
        if loss == "auto":
            loss = MaskedPatchMSE(normalize_targets=self.normalize_targets)
        self.reconstruction_loss = keras.losses.get(loss)
        super().compile(optimizer=optimizer, **kwargs)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """Masked patch loss (plus any regularisation losses)."""
        loss = self.reconstruction_loss(
            y_pred["target"],
            y_pred["reconstruction"],
            sample_weight=y_pred["mask"],
        )
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return loss

    def reconstruct(self, waveforms, batch_size=8, view="denormalised"):
        """Spectrogram, mask and reconstruction, ready for pictures.

        With normalised targets the model predicts each patch in per-patch
        normalised units (zero mean, unit spread). In the `"denormalised"`
        view each predicted patch is mapped back to log-mel units with the
        mean and std of the TRUE patch (as MAE's visualisations do), so
        only its shape is the model's: the picture borrows every patch's
        level and contrast from the input. The `"raw"` view returns the
        prediction as the model made it. Without normalised targets both
        views are the same (the model predicts log-mel values).

        Args:
            waveforms: array `(batch, samples)`.
            batch_size: int. Defaults to `8`.
            view: str. `"denormalised"` or `"raw"`. Defaults to
                `"denormalised"`.

        Returns:
            numpy arrays `(spectrogram, mask, reconstruction)`: the input
            log-mel `(batch, frames, mel)` cropped to whole patches, the mask
            at the same resolution (1 = hidden), and the reconstruction
            `(batch, frames, mel)`.
        """
        import numpy as np

        from keras_maskspec.layers.patching import unpatchify

        if view not in ("denormalised", "raw"):
            raise ValueError(
                "`view` must be 'denormalised' or 'raw'. "
                f"Received: view={view!r}"
            )
        out = self.predict(waveforms, batch_size=batch_size, verbose=0)
        target = out["target"].astype("float64")
        recon = out["reconstruction"].astype("float64")
        if self.normalize_targets and view == "denormalised":
            mean = target.mean(-1, keepdims=True)
            ddof = getattr(self.reconstruction_loss, "variance_ddof", 0)
            var = target.var(-1, keepdims=True, ddof=ddof)
            std = np.sqrt(var + 1e-6)
            recon = recon * std + mean
        gf = self.encoder.mel_patches()
        size = self.encoder.patch_size
        mask = np.repeat(out["mask"][..., None], size[0] * size[1], axis=-1)
        to_grid = lambda p: ops.convert_to_numpy(  # noqa: E731
            unpatchify(p.astype("float32"), gf, size)
        )
        return to_grid(target), to_grid(mask), to_grid(recon)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder_hidden_dim": self.decoder_hidden_dim,
            "decoder_num_layers": self.decoder_num_layers,
            "decoder_num_heads": self.decoder_num_heads,
            "decoder_intermediate_dim": self.decoder_intermediate_dim,
            "mask_ratio": self.mask_ratio,
            "normalize_targets": self.normalize_targets,
            "seed": self.seed,
            "masking": self.masking.strategy,
            "decoder_attention": self.decoder_attention,
            "decoder_window": self.decoder_window,
            "decoder_shift": self.decoder_shift,
            "decoder_position": self.decoder_position,
            "decoder_position_grid": self.decoder_position_grid,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def _preset_arguments(cls, preset, encoder_kwargs=None, **kwargs):
        """Encoder and decoder of a preset; `from_preset` takes
        `encoder_kwargs` (a dict of encoder overrides, e.g. `frontend`,
        `drop_path_rate`, `dtype`) and pre-trainer overrides (e.g.
        `mask_ratio`, `seed`).

        Examples:
        >>> model = MaskSpecPretrainer.from_preset("maskspec_tiny")
        >>> model.encoder.hidden_dim, model.decoder_hidden_dim
        (192, 512)
        >>> model = MaskSpecPretrainer.from_preset("audiomae_base")
        >>> model.decoder_attention, model.mask_ratio, model.decoder_shift
        ('swinv2', 0.8, (2, 0))
        """
        encoder = MaskSpecEncoder._preset_arguments(
            preset, **(encoder_kwargs or {})
        )
        decoder = {
            k: v
            for k, v in preset.items()
            if k in _DEFAULT or k in PRETRAINER_KEYS
        }
        return {"encoder": MaskSpecEncoder(**encoder), **decoder, **kwargs}


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 0 for v in pair):
        raise ValueError(
            f"`{name}` must be an int or a pair of ints >= 0. Received: "
            f"{name}={value}"
        )
    return pair
