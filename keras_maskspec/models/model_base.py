"""`MaskSpecModel`: what the encoder, pre-trainer and classifier share."""

import hashlib
import os

import keras

from keras_maskspec.models.presets import get_preset

# Every random consumer of a model gets its own seed stream. A stream is an
# offset from one mixed base seed, so streams of one seed never coincide
# (an index, e.g. a block number, must stay below `_STREAM_SIZE`).
SEED_STREAMS = (
    "frontend",
    "encoder_layer",
    "masking",
    "spec_augment",
    "patchout",
    "mixup",
)
_STREAM_SIZE = 2**16


def derive_seed(seed, stream, index=0):
    """An independent seed for one random consumer of a model.

    `seed` is mixed (SHA-256) and offset by the stream's slot, so that a
    fixed `seed` gives the same seeds every time, and different streams or
    indices of one `seed` never share a seed (unlike `seed + 1`, which is
    the next block's seed).

    Args:
        seed: int or `None`. The model's seed; `None` stays `None` (Keras
            then draws a random seed per generator).
        stream: str. One of `SEED_STREAMS`.
        index: int. Position within the stream (e.g. block number).

    Returns:
        An int in `[0, 2**31)` (fits every backend's seed dtype), or `None`.

    Examples:
    >>> derive_seed(0, "encoder_layer", 1) == derive_seed(0, "encoder_layer", 1)
    True
    >>> derive_seed(0, "patchout") == derive_seed(0, "encoder_layer", 1)
    False
    """
    if stream not in SEED_STREAMS:
        raise ValueError(
            f"`stream` must be one of {SEED_STREAMS}. Received: "
            f"stream={stream!r}"
        )
    if not 0 <= index < _STREAM_SIZE:
        raise ValueError(
            f"`index` must be in [0, {_STREAM_SIZE}). Received: index={index}"
        )
    if seed is None:
        return None
    digest = hashlib.sha256(str(int(seed)).encode()).digest()
    base = int.from_bytes(digest[:4], "little")
    offset = SEED_STREAMS.index(stream) * _STREAM_SIZE + index
    return (base + offset) % 2**31


class MaskSpecModel(keras.Model):
    """Base class of the MaskSpec functional models.

    It gives its subclasses three things:

    - Attribute assignment that works on every backend. Under PyTorch a
      Keras model is a `torch.nn.Module`, which refuses a layer attribute
      before `Module.__init__` ran and treats properties as modules; as in
      keras-hub's `Backbone`, such assignments go around the tracking. The
      functional graph tracks every layer anyway. Names listed in
      `_untracked_attributes` are never tracked: a model can hold a
      reference to another model whose layers it shares only in part.
    - `compile()` arguments that survive saving. Keras restores
      `compile()` only for models that do not override it; ours do (paper
      defaults), so `compile` calls `_record_compile_args(locals(),
      kwargs)` and loading replays it, then builds the optimizer so its
      saved state loads (resume).
    - `from_preset(name, **kwargs)`, from `keras_maskspec.models.presets`.
    """

    _untracked_attributes = ()

    def __setattr__(self, name, value):
        if name in self._untracked_attributes:
            return object.__setattr__(self, name, value)
        if keras.config.backend() == "torch":
            is_property = isinstance(getattr(type(self), name, None), property)
            before_init = "_modules" not in self.__dict__
            if is_property or before_init:
                return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)

    # === Compile arguments ===

    def _record_compile_args(self, args, kwargs):
        skip = ("self", "__class__", "kwargs")
        self._compile_args = {
            **{k: v for k, v in args.items() if k not in skip},
            **kwargs,
        }

    def get_compile_config(self):
        args = getattr(self, "_compile_args", None)
        if args is None:
            return None
        return keras.saving.serialize_keras_object(args)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # === Data-set statistics ===

    def set_statistics(self, frame_mean, frame_std):
        """Per-mel-bin standardisation of the front end (MaskSpec's norm file).

        Sets the front end's per-bin `mean`/`std` so that its output is
        `((log_mel + 4.5) / 5 - frame_mean) / frame_std`, as the authors'
        `mel_forward` (see `LogMelSpectrogram.set_statistics`). The values
        are part of the config: saving, `predict`, export and serving use
        them. Compiled train/predict functions are dropped so the next call
        traces the new values.

        Args:
            frame_mean: float or `num_mel_bins` floats: the mean of
                `(log_mel + 4.5) / 5` per bin over the training data.
            frame_std: float or `num_mel_bins` floats: its standard
                deviation (ddof 0).

        Examples:
        >>> from keras_maskspec.models import MaskSpecEncoder
        >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
        >>> encoder.set_statistics([0.1] * 128, [0.5] * 128)
        >>> round(encoder.frontend.mean[0], 6), encoder.frontend.std[0]
        (-4.0, 2.5)
        """
        frontend = self._statistics_frontend()
        if not hasattr(frontend, "set_statistics"):
            raise ValueError(
                "The front end has no per-bin statistics to set. Received: "
                f"frontend={type(frontend).__name__}"
            )
        frontend.set_statistics(frame_mean, frame_std)
        self._statistics_changed()
        self.train_function = None
        self.test_function = None
        self.predict_function = None

    def _statistics_frontend(self):
        encoder = getattr(self, "encoder", None)
        return (encoder or self).frontend

    def _statistics_changed(self):
        """Hook for models whose layers depend on the statistics."""

    # === Presets ===

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Builds the model of a preset: a built-in size or a local folder.

        A built-in name (see `presets.PRESETS`) gives a new model of that
        size with random weights. A local folder in keras-hub's layout
        (`config.json`, `model.weights.h5`, `metadata.json`, written by
        `save_to_preset` or `maskspec convert --to preset`) gives the saved
        model with its weights; asking a folder of a pre-trainer or
        classifier for `MaskSpecEncoder` gives its encoder, and asking an
        encoder's folder for a classifier builds one around it (with
        `kwargs` such as `num_classes`). See `models.preset_folder`.

        Args:
            preset: str. `"maskspec_tiny"`, `"maskspec_small"`,
                `"maskspec_base"`, the test-sized `"maskspec_test"`, or the
                path of a local preset folder.
            **kwargs: constructor arguments that override the preset's.

        Examples:
        >>> import tempfile
        >>> from keras_maskspec.models import MaskSpecEncoder
        >>> encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=0)
        >>> folder = encoder.save_to_preset(tempfile.mkdtemp())
        >>> MaskSpecEncoder.from_preset(folder).hidden_dim
        32
        """
        from keras_maskspec.models import preset_folder

        if preset_folder.is_preset_folder(preset):
            return preset_folder.load_preset_folder(cls, preset, **kwargs)
        if isinstance(preset, str) and ("/" in preset or os.sep in preset):
            raise ValueError(
                f"{preset} is not a preset folder (no "
                f"{preset_folder.CONFIG_FILE}); only local folders are read "
                "(no hub downloads). Received: "
                f"preset={preset!r}"
            )
        return cls(**cls._preset_arguments(get_preset(preset), **kwargs))

    def save_to_preset(self, folder):
        """Writes the model as a local preset folder in keras-hub's layout.

        `config.json` (the model's config), `model.weights.h5` and
        `metadata.json` (versions, parameter count, date); no optimizer.
        `from_preset(folder)` on the same class gives the same model back.

        Args:
            folder: str. The folder to write (created if missing).

        Returns:
            The folder.
        """
        from keras_maskspec.models import preset_folder

        return preset_folder.save_preset_folder(self, folder)

    @classmethod
    def _preset_arguments(cls, preset, **kwargs):
        """Constructor arguments from a preset dict and overrides."""
        raise NotImplementedError(
            f"{cls.__name__} does not define `_preset_arguments`."
        )
