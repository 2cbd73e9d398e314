"""The MaskSpec ViT encoder: raw waveform in, tokens out."""

import keras

from keras_maskspec.layers.class_token import ClassToken

# Imported so that saved encoders with a Kaldi front end deserialise.
from keras_maskspec.layers.kaldi_fbank import KaldiFbank  # noqa: F401
from keras_maskspec.layers.learned_position_embedding import (
    LearnedPositionEmbedding,
)
from keras_maskspec.layers.log_mel_spectrogram import LogMelSpectrogram
from keras_maskspec.layers.patch_embedding import PatchEmbedding
from keras_maskspec.layers.sin_cos_position_embedding import (
    SinCosPositionEmbedding,
)
from keras_maskspec.layers.transformer_block import TransformerBlock
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.model_base import derive_seed
from keras_maskspec.models.presets import DEFAULT_PRESET
from keras_maskspec.models.presets import get_encoder_preset

_DEFAULT = get_encoder_preset(DEFAULT_PRESET)


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskSpecEncoder(MaskSpecModel):
    """MaskSpec encoder: log-mel front end, patch embedding, ViT blocks.

    Takes raw audio at `frontend.sample_rate` and returns all tokens:
    `[CLS]` followed by one token per 16x16 patch (time-major), after the
    final LayerNorm. Any clip length of at least one patch works; the
    position codes are fixed 2-D sin-cos, computed for the grid at hand.

    The pre-trainer and classifier re-use this encoder's layers
    (`frontend`, `patch_embedding`, `position_embedding`, `class_token`,
    `transformer_layers`, `final_norm`) in graphs of their own, so their
    weights are this encoder's weights.

    The `layer_dtype` attribute is the dtype policy the encoder's layers
    were built with (`dtype`); models built on the encoder use it for their
    own layers.

    Args:
        hidden_dim: int. Token width. Defaults to `768`: every size
            defaults to the `"maskspec_base"` preset.
        num_layers: int. Number of transformer blocks. Defaults to `12`.
        num_heads: int. Attention heads. Defaults to `12`.
        intermediate_dim: int. MLP width. Defaults to `3072`.
        patch_size: int or pair `(time, mel)`. Defaults to `16`.
        patch_stride: int, pair or `None` (non-overlapping).
        dropout: float. Dropout inside the blocks. Defaults to `0.0`.
        drop_path_rate: float. Stochastic depth, linearly increasing over
            the blocks up to this rate. Defaults to `0.0`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        frontend: a `LogMelSpectrogram` (or another front-end layer such as
            `KaldiFbank`), its config dict, or `None` for the MaskSpec
            default (32 kHz, 128 Kaldi mel bands).
        position_embedding: str. `"sincos"` (fixed 2-D sin-cos, any clip
            length) or `"learned"` (a `LearnedPositionEmbedding` table of
            `position_grid`, e.g. for converted fine-tuned checkpoints).
            Defaults to `"sincos"`.
        position_grid: pair `(time_patches, mel_patches)` of the learned
            table; required with `position_embedding="learned"`.
        seed: int or `None`. Seed for dropout/drop-path/front-end jitter;
            each block and the front end get their own stream
            (`derive_seed`).
        dtype: dtype policy of the layers, e.g. `"mixed_bfloat16"`.

    Input shape:
        `(batch, samples)` float waveform.

    Output shape:
        `(batch, 1 + num_patches, hidden_dim)`.

    Examples:
    >>> import numpy as np
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> tuple(encoder.predict(np.zeros((1, 32000), "float32"), verbose=0).shape)
    (1, 49, 32)
    """

    def __init__(
        self,
        hidden_dim=_DEFAULT["hidden_dim"],
        num_layers=_DEFAULT["num_layers"],
        num_heads=_DEFAULT["num_heads"],
        intermediate_dim=_DEFAULT["intermediate_dim"],
        patch_size=16,
        patch_stride=None,
        dropout=0.0,
        drop_path_rate=0.0,
        layer_norm_epsilon=1e-6,
        frontend=None,
        position_embedding="sincos",
        position_grid=None,
        seed=None,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        if position_embedding not in ("sincos", "learned"):
            raise ValueError(
                "`position_embedding` must be 'sincos' or 'learned'. "
                f"Received: position_embedding={position_embedding!r}"
            )
        if (position_embedding == "learned") != (position_grid is not None):
            raise ValueError(
                "`position_grid` is required with (and only with) "
                "position_embedding='learned'. Received: "
                f"position_embedding={position_embedding!r}, "
                f"position_grid={position_grid}"
            )
        if frontend is None:
            frontend = LogMelSpectrogram(
                seed=derive_seed(seed, "frontend"),
                dtype="float32",
                name="frontend",
            )
        elif isinstance(frontend, dict):
            frontend = keras.layers.deserialize(frontend)
        if not isinstance(frontend, keras.layers.Layer):
            raise ValueError(
                "`frontend` must be a Keras layer, its config, or None. "
                f"Received: frontend={frontend!r}"
            )
        patch_embedding = PatchEmbedding(
            hidden_dim,
            patch_size=patch_size,
            patch_stride=patch_stride,
            dtype=dtype,
            name="patch_embedding",
        )
        position_embedding_kind = position_embedding
        if position_embedding == "learned":
            position_grid = tuple(int(v) for v in position_grid)
            position_embedding = LearnedPositionEmbedding(
                *position_grid, dtype=dtype, name="position_embedding"
            )
        else:
            position_embedding = SinCosPositionEmbedding(
                dtype=dtype, name="position_embedding"
            )
        class_token = ClassToken(dtype=dtype, name="class_token")
        transformer_layers = [
            TransformerBlock(
                hidden_dim,
                num_heads,
                intermediate_dim,
                dropout=dropout,
                drop_path=drop_path_rate * i / max(num_layers - 1, 1),
                layer_norm_epsilon=layer_norm_epsilon,
                seed=derive_seed(seed, "encoder_layer", i),
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="final_norm"
        )

        # === Functional Model ===
        waveform = keras.Input(shape=(None,), name="waveform")
        spectrogram = frontend(waveform)
        tokens = position_embedding(patch_embedding(spectrogram))
        x = class_token(tokens)
        for block in transformer_layers:
            x = block(x)
        outputs = final_norm(x)
        super().__init__(inputs=waveform, outputs=outputs, **kwargs)

        # === Config ===
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.patch_size = patch_embedding.patch_size
        self.patch_stride = patch_embedding.patch_stride
        self.dropout = dropout
        self.drop_path_rate = drop_path_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.position_embedding_kind = position_embedding_kind
        self.position_grid = position_grid
        self.seed = seed
        self.layer_dtype = dtype
        self.frontend = frontend
        self.patch_embedding = patch_embedding
        self.position_embedding = position_embedding
        self.class_token = class_token
        self.transformer_layers = transformer_layers
        self.final_norm = final_norm

    @property
    def sample_rate(self):
        """Sampling rate in Hz of the waveforms the encoder expects."""
        return self.frontend.sample_rate

    def min_num_samples(self):
        """Shortest input (samples) that yields at least one patch.

        Examples:
        >>> MaskSpecEncoder.from_preset("maskspec_tiny").min_num_samples()
        4801
        """
        frontend = self.frontend
        extra = 1 if frontend.preemphasis else 0
        # Reflect padding needs more than fft_length // 2 samples.
        shortest = frontend.fft_length // 2 + 1 + extra
        return max(
            (self.patch_size[0] - 1) * frontend.hop_length + extra, shortest
        )

    def num_patches(self, num_samples):
        """Number of patch tokens for a clip of `num_samples` samples.

        Examples:
        >>> MaskSpecEncoder.from_preset("maskspec_tiny").num_patches(317440)
        496
        """
        frames = self.frontend.num_frames(num_samples)
        gt, gf = self.patch_embedding.grid_shape(
            frames, self.frontend.num_mel_bins
        )
        return gt * gf

    def mel_patches(self):
        """Number of patches along the mel axis."""
        return self.patch_embedding.grid_shape(
            self.patch_size[0], self.frontend.num_mel_bins
        )[1]

    def embed(self, spectrogram):
        """Patch tokens with position codes, `(batch, N, hidden_dim)`.

        Builds the graph shared by the encoder, pre-trainer and classifier.
        """
        return self.position_embedding(self.patch_embedding(spectrogram))

    def encode(self, tokens, training=None):
        """Prepends [CLS] and runs the blocks (no final norm)."""
        x = self.class_token(tokens)
        for block in self.transformer_layers:
            x = block(x, training=training)
        return x

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "patch_size": self.patch_size,
            "patch_stride": self.patch_stride,
            "dropout": self.dropout,
            "drop_path_rate": self.drop_path_rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "frontend": keras.layers.serialize(self.frontend),
            "position_embedding": self.position_embedding_kind,
            "position_grid": self.position_grid,
            "seed": self.seed,
            "dtype": self.layer_dtype,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def _preset_arguments(cls, preset, **kwargs):
        """The preset's encoder sizes (and `frontend`, if the preset sets
        one), overridden by `kwargs`.

        Examples:
        >>> MaskSpecEncoder.from_preset("maskspec_tiny").hidden_dim
        192
        >>> type(MaskSpecEncoder.from_preset("audiomae_base").frontend).__name__
        'KaldiFbank'
        """
        sizes = {
            k: v for k, v in preset.items() if k in _DEFAULT or k == "frontend"
        }
        return {**sizes, **kwargs}
