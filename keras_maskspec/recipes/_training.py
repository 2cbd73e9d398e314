"""Glue between recipes and `keras_maskspec.training` (run directories)."""

import os

from keras_maskspec.training import run as run_lib


def finetune(config, encoder, train_data, run_dir, validation_data=None):
    """`keras_maskspec.training.finetune`, resuming an existing run dir."""
    return run_lib.finetune(
        config, encoder, train_data, run_dir, validation_data=validation_data
    )


def pretrain(config, train_data, run_dir):
    """Pre-trains; returns `(pretrainer, history dict from metrics.csv)`."""
    model = run_lib.pretrain(config, train_data, run_dir)
    return model, _read_history(os.path.join(run_dir, "metrics.csv"))


def _read_history(path):
    import csv

    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    history = {}
    for row in rows:
        for key, value in row.items():
            try:
                history.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                continue
    return history


def fresh_encoder(init):
    """What to hand `finetune` for one run: a run dir, None, or a copy.

    A `MaskSpecEncoder` object is passed as is: `finetune` rebuilds it and
    copies its weights, so every fold/channel starts from the same ones.
    """
    if init is None or isinstance(init, (str, os.PathLike)):
        return None if init is None else os.fspath(init)
    return init


def as_encoder(model):
    """A `MaskSpecEncoder` from an encoder, a model with `.encoder` or a
    run directory."""
    from keras_maskspec.models import MaskSpecEncoder

    if isinstance(model, (str, os.PathLike)):
        return run_lib.load_encoder(os.fspath(model))
    if isinstance(model, MaskSpecEncoder):
        return model
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, MaskSpecEncoder):
        return encoder
    raise ValueError(
        "Probing needs a MaskSpecEncoder, a model with `.encoder` or a run "
        f"directory. Received: model={model!r}"
    )


def as_classifier(model, run_name):
    """The classifier of `run_name` from a model, a dict or a folder.

    Returns `None` when a dict or folder has nothing for `run_name`.
    """
    if isinstance(model, dict):
        return model.get(run_name)
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        sub = os.path.join(folder, run_name)
        if os.path.isdir(sub):
            return run_lib.load_run(sub)
        if os.path.exists(os.path.join(folder, "config.json")):
            return run_lib.load_run(folder)
        return None
    return model
