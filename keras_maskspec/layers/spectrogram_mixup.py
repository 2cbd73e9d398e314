"""In-model spectrogram mixup whose labels are mixed in the loss."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_maskspec")
class SpectrogramMixup(keras.layers.Layer):
    """Mixes every training batch with a permutation of itself.

    MaskSpec's fine-tuning (`models_vit.py`, `VisionTransformer.mixup`)
    mixes the normalised, SpecAugmented spectrogram of every training batch:
    a partner `perm = randperm(batch)`, weights `lam_i ~ Beta(alpha, alpha)`
    folded to `max(lam_i, 1 - lam_i)`, `x_i <- lam_i x_i + (1 - lam_i)
    x_perm(i)`, and the labels alike. Identity at inference or with
    `alpha=0`.

    The labels are not an input of the model, so the layer remembers where
    its random stream stood before the batch's draw (in a second
    `SeedGenerator`, which is not a weight), and `mix_labels` replays the
    same draw for the loss: `MaskSpecClassifier.compute_loss` calls it. The
    replay is part of the training step's state, so it works on every
    backend (under JAX the loss sees the updated non-trainable state).

    Args:
        alpha: float >= 0. Beta concentration (0 turns mixing off).
            Defaults to `0.0`.
        seed: int or `None`. Random seed.

    Input shape:
        `(batch, ...)`. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> from keras import ops
    >>> layer = SpectrogramMixup(alpha=0.3, seed=0)
    >>> x = np.eye(4, dtype="float32")[:, :, None]
    >>> mixed = ops.convert_to_numpy(layer(x, training=True))[..., 0]
    >>> labels = ops.convert_to_numpy(layer.mix_labels(np.arange(4), 4))
    >>> bool(np.allclose(mixed, labels))
    True
    """

    def __init__(self, alpha=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise ValueError(
                f"`alpha` must be a float >= 0. Received: alpha={alpha}"
            )
        self.alpha = float(alpha)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The stream state before the last draw (see `mix_labels`).
        self.replay_generator = keras.random.SeedGenerator(seed)

    def draw(self, batch, seed_generator):
        """`(lam, perm)`: folded Beta weights `(batch,)` and a partner
        permutation `(batch,)` int32, drawn from `seed_generator`."""
        lam = keras.random.beta(
            (batch,), self.alpha, self.alpha, seed=seed_generator
        )
        lam = ops.maximum(lam, 1.0 - lam)
        noise = keras.random.uniform((batch,), seed=seed_generator)
        perm = ops.cast(ops.argsort(noise), "int32")
        return lam, perm

    def call(self, inputs, training=None):
        if not training or not self.alpha:
            return inputs
        batch = ops.shape(inputs)[0]
        self.replay_generator.state.assign(self.seed_generator.state.value)
        lam, perm = self.draw(batch, self.seed_generator)
        return mix(inputs, lam, perm)

    def mix_labels(self, labels, num_classes=None):
        """The labels of the last training batch, mixed like its inputs.

        Args:
            labels: `(batch,)` integer ids (one-hot encoded first, needs
                `num_classes`) or `(batch, classes)` float targets. Entries
                < 0 (unknown, partial multi-label sets) stay -1 when either
                side of a pair is unknown.
            num_classes: int or `None`. For integer ids.

        Returns:
            `(batch, classes)` float32 targets.
        """
        labels = ops.convert_to_tensor(labels)
        dense = len(labels.shape) >= 2 and (
            num_classes is None or labels.shape[-1] == num_classes
        )
        if not dense:
            if num_classes is None:
                raise ValueError(
                    "Integer labels need `num_classes`. Received: "
                    f"labels.shape={labels.shape}, num_classes=None"
                )
            ids = ops.reshape(ops.cast(labels, "int32"), (-1,))
            labels = ops.one_hot(ids, num_classes)
        labels = ops.cast(labels, "float32")
        if not self.alpha:
            return labels
        batch = ops.shape(labels)[0]
        # Replay the batch's draw, then rewind so that calls repeat.
        start = self.replay_generator.state.value * 1
        lam, perm = self.draw(batch, self.replay_generator)
        self.replay_generator.state.assign(start)
        partner = ops.take(labels, perm, axis=0)
        mixed = mix(labels, lam, perm)
        unknown = ops.logical_or(labels < 0, partner < 0)
        return ops.where(unknown, -1.0, mixed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "seed": self.seed})
        return config


def mix(x, lam, perm):
    """`lam_i * x_i + (1 - lam_i) * x_perm(i)` along the first axis.

    Examples:
    >>> import numpy as np
    >>> x = np.array([[1.0], [3.0]], "float32")
    >>> out = mix(x, np.array([0.75, 0.5], "float32"), np.array([1, 0]))
    >>> ops.convert_to_numpy(out)[:, 0].tolist()
    [1.5, 2.0]
    """
    x = ops.convert_to_tensor(x)
    lam = ops.cast(lam, x.dtype)
    lam = ops.reshape(lam, (-1,) + (1,) * (len(x.shape) - 1))
    return lam * x + (1.0 - lam) * ops.take(x, perm, axis=0)
