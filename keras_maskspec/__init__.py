"""keras_maskspec: MaskSpec self-supervised audio pre-training for Keras 3.

`layers` and `models` load with the package; the run machinery
(`training`, `load_model`), `data`, `recipes`, `inference`, `export` and
`hear` load on first use, so `import keras_maskspec.models` stays light.

Examples:
>>> import keras_maskspec
>>> keras_maskspec.MaskSpecPretrainer.from_preset("maskspec_tiny").mask_ratio
0.75
"""

import importlib
import os
import sys

from keras_maskspec.version import __version__


def _console_script():
    # Run as the `maskspec` command, the CLI imports Keras itself (quietly,
    # and not at all for `--help`): the console script imports this package
    # before `keras_maskspec.cli`, so nothing heavy may load here then.
    # `python -m keras_maskspec[.cli]` is the same command.
    argv = getattr(sys, "argv", None) or [""]
    if os.path.basename(argv[0]) in ("maskspec", "maskspec.exe"):
        return True
    orig = list(getattr(sys, "orig_argv", ()))
    for i, arg in enumerate(orig[:-1]):
        if arg == "-m":
            return orig[i + 1] in ("keras_maskspec", "keras_maskspec.cli")
    return False


if not _console_script():
    from keras_maskspec import layers
    from keras_maskspec import models
    from keras_maskspec.models import MaskSpecClassifier
    from keras_maskspec.models import MaskSpecEncoder
    from keras_maskspec.models import MaskSpecPretrainer

_LAZY_MODULES = (
    "convert",
    "data",
    "export",
    "hear",
    "inference",
    "recipes",
    "training",
    "utils",
)


_EAGER = ("MaskSpecClassifier", "MaskSpecEncoder", "MaskSpecPretrainer")


def __getattr__(name):
    if name in ("layers", "models"):
        return importlib.import_module(f"keras_maskspec.{name}")
    if name in _EAGER:
        return getattr(importlib.import_module("keras_maskspec.models"), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"keras_maskspec.{name}")
    if name == "load_model":
        from keras_maskspec.training.run_dir import load_model

        return load_model
    raise AttributeError(f"module 'keras_maskspec' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_MODULES) + ["load_model"])
