"""Saving of a custom `compile()`'s arguments with the model."""

import keras


class CompileArgsMixin:
    """Lets `.keras` files re-run a model's own `compile(**args)` on load.

    Keras only restores `compile()` for models that do not override it; our
    models do (paper defaults), so they record their arguments with
    `_record_compile_args` and this mixin serialises and replays them,
    then builds the optimizer so its saved state can be loaded (resume).
    """

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
