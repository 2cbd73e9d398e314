"""Fine-tuning head on a (pre-trained) MaskSpec encoder."""

import keras
from keras import ops

from keras_maskspec.layers.random_patch_masking import RandomPatchMasking
from keras_maskspec.layers.spec_augment import SpecAugment
from keras_maskspec.models.compile_config import CompileArgsMixin
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.training.losses import MaskedAUC
from keras_maskspec.training.losses import MaskedBinaryCrossentropy
from keras_maskspec.training.losses import SoftmaxCrossentropy
from keras_maskspec.training.losses import label_accuracy
from keras_maskspec.training.optimizers import layer_decay_multipliers
from keras_maskspec.training.optimizers import scheduled_adamw


@keras.saving.register_keras_serializable(package="keras_maskspec")
class MaskSpecClassifier(CompileArgsMixin, keras.Model):
    """Audio classifier: MaskSpec encoder, mean pooling, LayerNorm, linear.

    While training, SpecAugment masks mel bands and frames of the log-mel
    input and patchout drops `patchout` random patch tokens (both identity
    at inference). The patch tokens of the last block (without [CLS]) are
    averaged, normalised (`fc_norm`) and projected to `num_classes` logits,
    as MAE's `global_pool` fine-tuning does. Position codes are fixed
    sin-cos computed per input grid, so clips of any length work, whatever
    length the encoder was pre-trained on.

    Args:
        encoder: a `MaskSpecEncoder` (e.g. `pretrainer.encoder`; its weights
            are shared, not copied), or its config.
        num_classes: int. Number of classes.
        multi_label: bool. Sigmoid/BCE (`True`) or softmax/CE (`False`).
            Defaults to `False`.
        patchout: int. Patch tokens dropped while training. Defaults to `0`.
        freq_mask_param: int. SpecAugment max mel mask (0 = off). Defaults
            to `48`.
        time_mask_param: int. SpecAugment max time mask in frames (0 =
            off). Defaults to `192`.
        dropout: float. Dropout before the head. Defaults to `0.0`.
        activation: `None` (the model outputs logits) or `"softmax"` /
            `"sigmoid"`. Defaults to `None`.
        seed: int or `None`. Seed for SpecAugment and patchout.

    Input shape:
        `(batch, samples)` waveforms at `encoder.sample_rate`.

    Output shape:
        `(batch, num_classes)` logits (or probabilities with `activation`).

    Examples:
    >>> import numpy as np
    >>> encoder = MaskSpecEncoder(hidden_dim=32, num_layers=1, num_heads=2,
    ...                           intermediate_dim=64)
    >>> model = MaskSpecClassifier(encoder, num_classes=3)
    >>> model.compile()
    >>> audio = np.zeros((4, 16000), "float32")
    >>> _ = model.fit(audio, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    >>> tuple(model.predict(audio, verbose=0).shape)
    (4, 3)
    """

    def __init__(
        self,
        encoder,
        num_classes,
        multi_label=False,
        patchout=0,
        freq_mask_param=48,
        time_mask_param=192,
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
        dtype = encoder._layer_dtype
        spec_augment = SpecAugment(
            freq_mask_param=freq_mask_param,
            time_mask_param=time_mask_param,
            seed=seed,
            name="spec_augment",
        )
        patch_dropout = RandomPatchMasking(
            num_masked=patchout,
            seed=None if seed is None else seed + 1,
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
        tokens, _, _ = patch_dropout(encoder.embed(spectrogram))
        x = encoder.encode(tokens)
        pooled = fc_norm(ops.mean(x[:, 1:], axis=1))
        outputs = head(head_dropout(pooled))
        super().__init__(inputs=waveform, outputs=outputs, **kwargs)

        # === Config ===
        # Not a tracked attribute: the classifier uses every encoder layer
        # but `final_norm` (fc_norm replaces it, as in MAE), and tracking the
        # whole encoder would hand the optimizer two gradient-less weights.
        # The shared layers are tracked through the functional graph.
        object.__setattr__(self, "_encoder", encoder)
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.patchout = patchout
        self.freq_mask_param = freq_mask_param
        self.time_mask_param = time_mask_param
        self.dropout = dropout
        self.activation = activation
        self.seed = seed

    @property
    def encoder(self):
        """The `MaskSpecEncoder` whose layers this classifier shares."""
        return self._encoder

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=None,
        base_learning_rate=1e-3,
        global_batch_size=256,
        warmup_steps=0,
        total_steps=None,
        weight_decay=0.05,
        layer_decay=0.75,
        label_smoothing=0.0,
        **kwargs,
    ):
        """Configures fine-tuning with the paper's defaults.

        Args:
            optimizer: `"auto"` for AdamW (betas 0.9/0.999, weight decay
                0.05 except norms/biases/tokens) with layer-wise lr decay.
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
            if layer_decay:
                multipliers = layer_decay_multipliers(
                    self.encoder, self, layer_decay
                )
            optimizer = scheduled_adamw(
                learning_rate,
                base_learning_rate,
                global_batch_size,
                warmup_steps,
                total_steps,
                weight_decay=weight_decay,
                beta_2=0.999,
                lr_multipliers=multipliers,
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
            "dropout": self.dropout,
            "activation": self.activation,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
