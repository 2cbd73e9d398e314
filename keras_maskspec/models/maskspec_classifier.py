"""Fine-tuning head on a (pre-trained) MaskSpec encoder."""

import keras
from keras import ops

from keras_maskspec.layers.learned_position_embedding import (
    LearnedPositionEmbedding,
)
from keras_maskspec.layers.learned_position_embedding import SinCosInitializer
from keras_maskspec.layers.random_patch_masking import RandomPatchMasking
from keras_maskspec.layers.spec_augment import SpecAugment
from keras_maskspec.layers.spectrogram_mixup import SpectrogramMixup
from keras_maskspec.models.losses import MaskedAUC
from keras_maskspec.models.losses import MaskedBinaryCrossentropy
from keras_maskspec.models.losses import SoftmaxCrossentropy
from keras_maskspec.models.losses import label_accuracy
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.model_base import derive_seed
from keras_maskspec.models.optimizers import layer_decay_multipliers
from keras_maskspec.models.optimizers import no_decay_paths
from keras_maskspec.models.optimizers import scheduled_adamw
from keras_maskspec.models.presets import FINE_TUNING


def _fill_value(frontend, fill):
    """SpecAugment's mask value: a float, or for `"log_zero"` what a log-mel
    0 becomes after the front end (0.0 for front ends that cannot say)."""
    if fill != "log_zero":
        return float(fill)
    if hasattr(frontend, "normalized_value"):
        return frontend.normalized_value(0.0)
    return 0.0


def _global_pool(fc_norm, patch_tokens):
    # MAE's `global_pool`: mean over patch tokens, then the norm that
    # replaces the encoder's final one.
    return fc_norm(ops.mean(patch_tokens, axis=1))


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskSpecClassifier(MaskSpecModel):
    """Audio classifier: MaskSpec encoder, mean pooling, LayerNorm, linear.

    While training (all identity at inference), as the authors' fine-tuning:
    SpecAugment masks a mel band and a time span of the log-mel input, on
    the clip padded to `spec_augment_grid_seconds` and with the value a
    log-mel 0 takes after the front end's normalisation; spectrogram mixup
    (`mixup_alpha`) mixes every batch with a permutation of itself and
    `compute_loss` mixes the labels alike; patchout drops `patchout` random
    patch tokens, one set shared by the batch. The patch tokens of the
    last block (without [CLS]) are averaged, normalised (`fc_norm`) and
    projected to `num_classes` logits, as MAE's `global_pool` fine-tuning
    does. Position codes are fixed sin-cos computed per input grid, so clips
    of any length work, whatever length the encoder was pre-trained on.

    For inference on other token sets (e.g. windows of a long clip),
    `pool(patch_tokens)` is the pooling and `head` the final `Dense`.

    Args:
        encoder: a `MaskSpecEncoder` (e.g. `pretrainer.encoder`; its weights
            are shared, not copied), or its config.
        num_classes: int. Number of classes.
        multi_label: bool. Sigmoid/BCE (`True`) or softmax/CE (`False`).
            Defaults to `False`.
        patchout: int. Patch tokens dropped while training. Defaults to `0`.
        freq_mask_param: int. SpecAugment max mel mask (0 = off). Defaults
            to `48` (`presets.FINE_TUNING`).
        time_mask_param: int. SpecAugment max time mask in frames (0 =
            off). Defaults to `192` (`presets.FINE_TUNING`).
        spec_augment_grid_seconds: float or `None`. The time mask is drawn
            on the clip padded to this length and cropped back (MaskSpec
            pads every clip to 10 s); `None` draws on the clip's own frames.
            Defaults to `10.0`.
        spec_augment_masks: str. `"batch"` (one mask pair shared by the
            batch, the authors' torchaudio on 3-D input) or `"example"`.
            Defaults to `"batch"`.
        spec_augment_fill: `"log_zero"` (the value a log-mel 0 takes after
            the front end's normalisation, per bin: the authors' fill) or a
            float written as is. Defaults to `"log_zero"`.
        mixup_alpha: float. Spectrogram mixup `Beta(alpha, alpha)` folded
            to `max(lam, 1 - lam)`, on every training batch; 0 turns it
            off. The paper's recipes use 0.3 (DCASE 0.2, OpenMIC off).
            Defaults to `0.0`.
        patchout_shared: bool. One patchout token set per batch (the
            authors') or one per example. Defaults to `True`.
        position_embedding: str. `"sincos"`: the encoder's fixed codes (any
            clip length). `"learned"`: a trainable table of
            `position_time_patches` time patches initialised from those
            codes, as the authors fine-tune timm's `pos_embed` (layer-decay
            group 0, no weight decay); clips may not be longer than the
            table. Needs an encoder with sin-cos codes. Defaults to
            `"sincos"`.
        position_time_patches: int or `None`. Time patches of the learned
            table (e.g. 62 for 10 s clips); required with
            `position_embedding="learned"`.
        dropout: float. Dropout before the head. Defaults to `0.0`.
        activation: `None` (the model outputs logits) or `"softmax"` /
            `"sigmoid"`. Defaults to `None`.
        seed: int or `None`. Seed for SpecAugment, mixup and patchout (one
            stream each, `derive_seed`).

    Input shape:
        `(batch, samples)` waveforms at `encoder.sample_rate`.

    Output shape:
        `(batch, num_classes)` logits (or probabilities with `activation`).

    Examples:
    >>> import numpy as np
    >>> model = MaskSpecClassifier.from_preset("maskspec_test", num_classes=3)
    >>> model.compile()
    >>> audio = np.zeros((4, 16000), "float32")
    >>> _ = model.fit(audio, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    >>> tuple(model.predict(audio, verbose=0).shape)
    (4, 3)
    """

    # The classifier uses every encoder layer but `final_norm` (fc_norm
    # replaces it, as in MAE): tracking the whole encoder would hand the
    # optimizer two gradient-less weights. The shared layers are tracked
    # through the functional graph.
    _untracked_attributes = ("encoder",)

    def __init__(
        self,
        encoder,
        num_classes,
        multi_label=False,
        patchout=0,
        freq_mask_param=FINE_TUNING["freq_mask_param"],
        time_mask_param=FINE_TUNING["time_mask_param"],
        spec_augment_grid_seconds=FINE_TUNING["spec_augment_grid_seconds"],
        spec_augment_masks="batch",
        spec_augment_fill="log_zero",
        mixup_alpha=0.0,
        patchout_shared=True,
        position_embedding="sincos",
        position_time_patches=None,
        dropout=0.0,
        activation=None,
        seed=None,
        **kwargs,
    ):
        # === Layers ===
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if not isinstance(encoder, MaskSpecEncoder):
            raise ValueError(
                "`encoder` must be a MaskSpecEncoder. Received: "
                f"encoder={encoder!r}"
            )
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                "`num_classes` must be a positive int. Received: "
                f"num_classes={num_classes}"
            )
        if activation not in (None, "softmax", "sigmoid"):
            raise ValueError(
                "`activation` must be None, 'softmax' or 'sigmoid'. "
                f"Received: activation={activation}"
            )
        if spec_augment_fill != "log_zero" and not isinstance(
            spec_augment_fill, (int, float)
        ):
            raise ValueError(
                "`spec_augment_fill` must be 'log_zero' or a float. "
                f"Received: spec_augment_fill={spec_augment_fill!r}"
            )
        if position_embedding not in ("sincos", "learned"):
            raise ValueError(
                "`position_embedding` must be 'sincos' or 'learned'. "
                f"Received: position_embedding={position_embedding!r}"
            )
        learned = position_embedding == "learned"
        if learned and (
            not isinstance(position_time_patches, int)
            or position_time_patches < 1
            or encoder.position_embedding_kind != "sincos"
        ):
            raise ValueError(
                "position_embedding='learned' needs a positive int "
                "`position_time_patches` and an encoder with sin-cos codes. "
                f"Received: position_time_patches={position_time_patches}, "
                f"encoder position_embedding="
                f"{encoder.position_embedding_kind!r}"
            )
        dtype = encoder.layer_dtype
        position_table = None
        if learned:
            position_table = LearnedPositionEmbedding(
                position_time_patches,
                encoder.mel_patches(),
                initializer=SinCosInitializer(),
                dtype=dtype,
                name="position_table",
            )
        grid_frames = None
        if spec_augment_grid_seconds is not None:
            grid_samples = round(
                spec_augment_grid_seconds * encoder.sample_rate
            )
            grid_frames = encoder.frontend.num_frames(grid_samples)
        spec_augment = SpecAugment(
            freq_mask_param=freq_mask_param,
            time_mask_param=time_mask_param,
            grid_frames=grid_frames,
            masks=spec_augment_masks,
            mask_value=_fill_value(encoder.frontend, spec_augment_fill),
            seed=derive_seed(seed, "spec_augment"),
            name="spec_augment",
        )
        spectrogram_mixup = SpectrogramMixup(
            mixup_alpha, seed=derive_seed(seed, "mixup"), name="mixup"
        )
        patch_dropout = RandomPatchMasking(
            num_masked=patchout,
            shared=patchout_shared,
            seed=derive_seed(seed, "patchout"),
            name="patchout",
        )
        fc_norm = keras.layers.LayerNormalization(
            epsilon=encoder.layer_norm_epsilon, dtype=dtype, name="fc_norm"
        )
        head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        head = keras.layers.Dense(
            num_classes,
            activation=activation,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=2e-5),
            dtype="float32",
            name="head",
        )

        # === Functional Model ===
        waveform = keras.Input(shape=(None,), name="waveform")
        spectrogram = spec_augment(encoder.frontend(waveform))
        spectrogram = spectrogram_mixup(spectrogram)
        if position_table is None:
            embedded = encoder.embed(spectrogram)
        else:
            embedded = position_table(encoder.patch_embedding(spectrogram))
        tokens, _, _ = patch_dropout(embedded)
        x = encoder.encode(tokens)
        pooled = _global_pool(fc_norm, x[:, 1:])
        outputs = head(head_dropout(pooled))
        super().__init__(inputs=waveform, outputs=outputs, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.fc_norm = fc_norm
        self.head = head
        self.spec_augment = spec_augment
        self.spectrogram_mixup = spectrogram_mixup
        self.position_table = position_table
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.patchout = patchout
        self.freq_mask_param = freq_mask_param
        self.time_mask_param = time_mask_param
        self.spec_augment_grid_seconds = spec_augment_grid_seconds
        self.spec_augment_masks = spec_augment_masks
        self.spec_augment_fill = spec_augment_fill
        self.mixup_alpha = mixup_alpha
        self.patchout_shared = patchout_shared
        self.position_embedding = position_embedding
        self.position_time_patches = position_time_patches
        self.dropout = dropout
        self.activation = activation
        self.seed = seed

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The compiled loss on labels mixed as the training batch was.

        With `mixup_alpha > 0` the spectrogram of a training batch is mixed
        in the forward pass; here its labels get the same weights and
        partners (`SpectrogramMixup.mix_labels`), as in the authors' code.
        Evaluation uses the labels as given.
        """
        if training and self.mixup_alpha and y is not None:
            y = self.spectrogram_mixup.mix_labels(y, self.num_classes)
        return super().compute_loss(
            x=x,
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
            training=training,
        )

    def _statistics_changed(self):
        self.spec_augment.mask_value = _fill_value(
            self.encoder.frontend, self.spec_augment_fill
        )

    def pool(self, patch_tokens):
        """The pooled embedding of encoded patch tokens (no [CLS]).

        Args:
            patch_tokens: tensor `(batch, num_patches, hidden_dim)`: the
                last block's tokens without [CLS] (`encoder.encode(...)
                [:, 1:]`).

        Returns:
            `(batch, hidden_dim)`: the mean over tokens after `fc_norm`,
            which `head` maps to the outputs.
        """
        return _global_pool(self.fc_norm, patch_tokens)

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=None,
        base_learning_rate=FINE_TUNING["base_learning_rate"],
        global_batch_size=FINE_TUNING["global_batch_size"],
        warmup_steps=0,
        total_steps=None,
        weight_decay=FINE_TUNING["weight_decay"],
        layer_decay=FINE_TUNING["layer_decay"],
        label_smoothing=FINE_TUNING["label_smoothing"],
        **kwargs,
    ):
        """Configures fine-tuning with the paper's defaults.

        The defaults are `presets.FINE_TUNING`.

        Args:
            optimizer: `"auto"` for AdamW (betas 0.9/0.999, epsilon 1e-8 as
                PyTorch, weight decay 0.05 except 1-D weights, biases, [CLS]
                and a learned position table, as timm) with layer-wise lr
                decay.
            loss: `"auto"`: `MaskedBinaryCrossentropy` (multi-label; labels
                < 0 are ignored) or `SoftmaxCrossentropy` (integer ids or
                one-hot/mixup labels alike).
            metrics: `"auto"`: accuracy (ids or one-hot), or for
                multi-label a masked PR-AUC (an estimate of mAP). Exact mAP
                is computed by `keras_maskspec.training.metrics`.
            learning_rate: float or schedule; overrides the rule below.
            base_learning_rate: float. `lr = base_lr * batch / 256`.
            global_batch_size: int. Defaults to `256`.
            warmup_steps: int. Defaults to `0`.
            total_steps: int or `None`. Cosine decay to 1e-6 when given.
            weight_decay: float. Defaults to `0.05`.
            layer_decay: float or `None`. Layer-wise lr decay. Defaults to
                `0.75`.
            label_smoothing: float. Defaults to `0.0`.
            **kwargs: passed to `keras.Model.compile`.
        """
        self._record_compile_args(locals(), kwargs)
        from_logits = self.activation is None
        if optimizer == "auto":
            multipliers = None
            positions = self.encoder.position_embedding.trainable_variables
            if self.position_table is not None:
                positions = self.position_table.trainable_variables
            if layer_decay:
                multipliers = layer_decay_multipliers(
                    self.encoder, self, layer_decay
                )
                depth = len(self.encoder.transformer_layers)
                for v in positions:
                    multipliers[v.path] = layer_decay ** (depth + 1)
            optimizer = scheduled_adamw(
                learning_rate,
                base_learning_rate,
                global_batch_size,
                warmup_steps,
                total_steps,
                weight_decay=weight_decay,
                beta_2=FINE_TUNING["beta_2"],
                lr_multipliers=multipliers,
                no_decay_paths=no_decay_paths(
                    self,
                    extra=self.encoder.class_token.trainable_variables
                    + positions,
                ),
            )
        if loss == "auto":
            if self.multi_label:
                loss = MaskedBinaryCrossentropy(
                    from_logits=from_logits, label_smoothing=label_smoothing
                )
            else:
                loss = SoftmaxCrossentropy(
                    from_logits=from_logits, label_smoothing=label_smoothing
                )
        if metrics == "auto":
            if self.multi_label:
                metrics = [
                    MaskedAUC(
                        curve="PR",
                        multi_label=True,
                        num_labels=self.num_classes,
                        from_logits=from_logits,
                        name="pr_auc",
                    )
                ]
            else:
                metrics = [
                    keras.metrics.MeanMetricWrapper(
                        label_accuracy, name="accuracy"
                    )
                ]
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "multi_label": self.multi_label,
            "patchout": self.patchout,
            "freq_mask_param": self.freq_mask_param,
            "time_mask_param": self.time_mask_param,
            "spec_augment_grid_seconds": self.spec_augment_grid_seconds,
            "spec_augment_masks": self.spec_augment_masks,
            "spec_augment_fill": self.spec_augment_fill,
            "mixup_alpha": self.mixup_alpha,
            "patchout_shared": self.patchout_shared,
            "position_embedding": self.position_embedding,
            "position_time_patches": self.position_time_patches,
            "dropout": self.dropout,
            "activation": self.activation,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def _preset_arguments(cls, preset, encoder_kwargs=None, **kwargs):
        """A preset's encoder; `from_preset` takes `encoder_kwargs` (a dict
        of encoder overrides) and classifier arguments (`num_classes`...).

        Examples:
        >>> model = MaskSpecClassifier.from_preset(
        ...     "maskspec_test", num_classes=5, encoder_kwargs={"seed": 1})
        >>> model.encoder.hidden_dim, model.encoder.seed, model.num_classes
        (32, 1, 5)
        """
        encoder = MaskSpecEncoder._preset_arguments(
            preset, **(encoder_kwargs or {})
        )
        return {"encoder": MaskSpecEncoder(**encoder), **kwargs}
