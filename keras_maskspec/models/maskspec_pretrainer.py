"""MaskSpec pre-training model: masked encoder + light decoder."""

import keras
from keras import ops

from keras_maskspec.layers.mask_token_restore import MaskTokenRestore
from keras_maskspec.layers.patching import Patchify
from keras_maskspec.layers.random_patch_masking import RandomPatchMasking
from keras_maskspec.layers.sin_cos_position_embedding import (
    SinCosPositionEmbedding,
)
from keras_maskspec.layers.transformer_block import TransformerBlock
from keras_maskspec.models.losses import MaskedPatchMSE
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.model_base import derive_seed
from keras_maskspec.models.optimizers import scheduled_adamw
from keras_maskspec.models.presets import DEFAULT_PRESET
from keras_maskspec.models.presets import PRETRAINING
from keras_maskspec.models.presets import get_decoder_preset

_DEFAULT = get_decoder_preset(DEFAULT_PRESET)


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
        **kwargs,
    ):
        # === Layers ===
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
        masking = RandomPatchMasking(
            mask_ratio,
            apply_at_inference=True,
            seed=derive_seed(seed, "masking"),
            name="masking",
        )
        decoder_embed = keras.layers.Dense(
            decoder_hidden_dim, dtype=dtype, name="decoder_embed"
        )
        mask_tokens = MaskTokenRestore(dtype=dtype, name="mask_tokens")
        decoder_position = SinCosPositionEmbedding(
            dtype=dtype, name="decoder_position_embedding"
        )
        decoder_layers = [
            TransformerBlock(
                decoder_hidden_dim,
                decoder_num_heads,
                decoder_intermediate_dim,
                layer_norm_epsilon=encoder.layer_norm_epsilon,
                dtype=dtype,
                name=f"decoder_layer_{i}",
            )
            for i in range(decoder_num_layers)
        ]
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
        visible, mask, ids_restore = masking(tokens)
        x = encoder.encode(visible)
        x = encoder.final_norm(x)
        x = decoder_embed(x)
        filled = mask_tokens(x[:, 1:], ids_restore)
        # Back to the (time, mel) grid so the decoder gets its own sin-cos.
        filled = keras.layers.Reshape(
            (-1, encoder.mel_patches(), decoder_hidden_dim)
        )(filled)
        filled = decoder_position(filled)
        y = ops.concatenate([x[:, :1], filled], axis=1)
        for block in decoder_layers:
            y = block(y)
        y = decoder_head(decoder_norm(y))[:, 1:]
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
        self.mask_ratio = mask_ratio
        self.normalize_targets = normalize_targets
        self.seed = seed
        self.masking = masking
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
            optimizer: `"auto"` for AdamW (betas 0.9/0.95, no weight decay on
                norms, biases and tokens), or any Keras optimizer.
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

    def reconstruct(self, waveforms, batch_size=8):
        """Spectrogram, mask and reconstruction, ready for pictures.

        With normalised targets each reconstructed patch is mapped back to
        log-mel units with the mean and std of the true patch (as MAE's
        visualisations do), so only its shape is the model's.

        Args:
            waveforms: array `(batch, samples)`.
            batch_size: int. Defaults to `8`.

        Returns:
            numpy arrays `(spectrogram, mask, reconstruction)`: the input
            log-mel `(batch, frames, mel)` cropped to whole patches, the mask
            at the same resolution (1 = hidden), and the reconstruction
            `(batch, frames, mel)`.
        """
        import numpy as np

        from keras_maskspec.layers.patching import unpatchify

        out = self.predict(waveforms, batch_size=batch_size, verbose=0)
        target = out["target"].astype("float64")
        recon = out["reconstruction"].astype("float64")
        if self.normalize_targets:
            mean = target.mean(-1, keepdims=True)
            std = np.sqrt(target.var(-1, keepdims=True) + 1e-6)
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
        """
        encoder = MaskSpecEncoder._preset_arguments(
            preset, **(encoder_kwargs or {})
        )
        decoder = {k: v for k, v in preset.items() if k in _DEFAULT}
        return {"encoder": MaskSpecEncoder(**encoder), **decoder, **kwargs}
