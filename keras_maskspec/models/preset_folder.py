"""Local preset folders in keras-hub's layout.

A preset folder holds three files, as keras-hub's `save_to_preset` writes
them for a backbone:

```
config.json         keras.saving.serialize_keras_object(model)
model.weights.h5    model.save_weights(...)
metadata.json       keras / keras_maskspec versions, parameter count, date
```

`MaskSpecModel.save_to_preset(folder)` writes one and
`MaskSpecModel.from_preset(folder)` reads one back (as keras-hub's
`Backbone.from_preset("./folder")` does); `maskspec convert --to preset`
writes one from the authors' checkpoints. Unlike a `.keras` file a preset
carries no optimizer and no compile state: it is the model to use or to
fine-tune.
"""

import datetime
import json
import os
import warnings

import keras

from keras_maskspec.utils import atomic_path
from keras_maskspec.utils import atomic_write_text
from keras_maskspec.utils import jsonable

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)


def is_preset_folder(path):
    """Whether `path` is a folder holding a preset's `config.json`.

    Examples:
    >>> import tempfile
    >>> is_preset_folder(tempfile.mkdtemp()), is_preset_folder("maskspec_tiny")
    (False, False)
    """
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(
        os.path.join(os.fspath(path), CONFIG_FILE)
    )


def save_preset_folder(model, folder, metadata=None):
    """Writes `model` as a preset folder (config, weights, metadata).

    Each file is written atomically; an existing preset in `folder` is
    replaced file by file.

    Args:
        model: a built, registered Keras model (e.g. a `MaskSpecEncoder`).
        folder: str. The folder (created if missing).
        metadata: optional dict of extra JSON-ready entries for
            `metadata.json` (e.g. where converted weights came from).

    Returns:
        The folder.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_preset_folder(MaskSpecEncoder.from_preset("maskspec_test"),
    ...                        folder)
    >>> sorted(os.listdir(folder))
    ['config.json', 'metadata.json', 'model.weights.h5']
    """
    from keras_maskspec.version import __version__

    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(
            f"A preset is a folder; {folder} is a file. Received: "
            f"folder={folder!r}"
        )
    os.makedirs(folder, exist_ok=True)
    config = keras.saving.serialize_keras_object(model)
    atomic_write_text(
        os.path.join(folder, CONFIG_FILE), json.dumps(config, indent=2) + "\n"
    )
    with atomic_path(
        os.path.join(folder, WEIGHTS_FILE), suffix=".weights.h5"
    ) as tmp:
        model.save_weights(tmp)
    info = {
        "keras_version": keras.version(),
        "keras_maskspec_version": __version__,
        "class_name": type(model).__name__,
        "parameter_count": int(model.count_params()),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }
    info.update(jsonable(metadata or {}))
    atomic_write_text(
        os.path.join(folder, METADATA_FILE),
        json.dumps(info, indent=2, sort_keys=True) + "\n",
    )
    return folder


def load_preset_folder(cls, folder, **kwargs):
    """Builds a `cls` from a preset folder and loads its weights.

    - The folder holds a `cls` (or a subclass): that model, its config
      updated with `kwargs` (e.g. `dtype`), with the saved weights; if
      `kwargs` change the architecture so the weights no longer fit (e.g.
      a classifier's `num_classes`), a new `cls(encoder=saved_encoder,
      **kwargs)` as below.
    - `cls` is the encoder and the folder a pre-trainer or classifier:
      that model's encoder.
    - The folder holds an encoder (or a model with one) and `cls` takes
      an `encoder`: a new `cls(encoder=loaded_encoder, **kwargs)`, e.g. a
      classifier with a fresh head on a pre-trained encoder (keras-hub's
      task-from-backbone-preset).

    Args:
        cls: the model class `from_preset` was called on.
        folder: str. A preset folder (see `save_preset_folder`).
        **kwargs: config overrides (same class) or constructor arguments
            (new model around the loaded encoder).

    Returns:
        The model.
    """
    import keras_maskspec.models  # noqa: F401  (registers every class)

    folder = os.fspath(folder)
    missing = [
        name
        for name in (CONFIG_FILE, WEIGHTS_FILE)
        if not os.path.isfile(os.path.join(folder, name))
    ]
    if missing:
        raise ValueError(
            f"{folder} is not a complete preset folder: {missing} missing "
            f"(a preset holds {list(PRESET_FILES)}). Received: "
            f"preset={folder!r}"
        )
    with open(os.path.join(folder, CONFIG_FILE)) as f:
        config = json.load(f)
    saved_cls = keras.saving.get_registered_object(
        config.get("registered_name") or ""
    )
    if saved_cls is None:
        raise ValueError(
            f"{folder}/{CONFIG_FILE} names no keras_maskspec model. "
            f"Received: registered_name={config.get('registered_name')!r}"
        )
    weights = os.path.join(folder, WEIGHTS_FILE)
    same = issubclass(saved_cls, cls)
    if same and kwargs:
        changed = {**config, "config": {**config["config"], **kwargs}}
        model = keras.saving.deserialize_keras_object(changed)
        # Keras warns (a layer left freshly initialised) and/or raises when
        # the saved weights do not fit; either means another architecture.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(weights)
                fits = True
            except ValueError:
                fits = False
        if fits and not caught:
            return model
        if "encoder" not in config["config"]:
            raise ValueError(
                f"The weights in {folder} do not fit a {cls.__name__} with "
                f"these arguments. Received: kwargs={kwargs}"
            )
        # E.g. a classifier's `num_classes`: a new model around the saved
        # encoder, below.
    saved = keras.saving.deserialize_keras_object(config)
    saved.load_weights(weights)
    if same and not kwargs:
        return saved
    encoder = getattr(saved, "encoder", None)
    from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder

    if isinstance(saved, MaskSpecEncoder):
        encoder = saved
    if encoder is None:
        raise ValueError(
            f"{folder} holds a {saved_cls.__name__}, from which no "
            f"{cls.__name__} can be made. Received: preset={folder!r}"
        )
    if issubclass(MaskSpecEncoder, cls):
        return encoder
    return cls(encoder=encoder, **kwargs)
