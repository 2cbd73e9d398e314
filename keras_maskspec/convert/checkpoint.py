"""Reading PyTorch checkpoints and label files (torch only here)."""

import argparse
import csv
import os
from collections.abc import Mapping

import numpy as np

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")


def load_state_dict(checkpoint, weights_only=True):
    """Reads a PyTorch checkpoint into `{name: float32 numpy array}`.

    Accepts the files the MaskSpec and Audio-MAE authors publish (a dict
    whose `"model"` entry is the state dict, next to `"optimizer"`,
    `"epoch"` and `"args"`), a bare state dict, or an in-memory mapping.
    DistributedDataParallel's `module.` prefixes are removed.

    Loading uses `torch.load(weights_only=True)`, which refuses arbitrary
    pickled objects; the `argparse.Namespace` of the authors' training
    arguments is allowed explicitly.

    Args:
        checkpoint: str or path-like (a `.pth`/`.pt` file), or a mapping of
            names to tensors/arrays.
        weights_only: bool. Passed to `torch.load`. Set `False` only for a
            file you trust that holds other pickled objects. Defaults to
            `True`.

    Returns:
        dict of str to `np.ndarray` (float32).

    Examples:
    >>> import numpy as np
    >>> sd = load_state_dict({"model": {"module.cls_token": np.zeros(3)}})
    >>> list(sd)
    ['cls_token']
    """
    if isinstance(checkpoint, Mapping):
        obj = checkpoint
    else:
        path = os.fspath(checkpoint)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No checkpoint file at this path. Received: checkpoint={path}"
            )
        try:
            import torch
        except ImportError as error:
            raise ImportError(
                "Reading a PyTorch checkpoint needs torch (only for the "
                "conversion; the converted Keras model does not): "
                "`pip install keras-maskspec[torch]`."
            ) from error
        try:
            with torch.serialization.safe_globals([argparse.Namespace]):
                obj = torch.load(
                    path, map_location="cpu", weights_only=weights_only
                )
        except Exception as error:
            raise ValueError(
                f"torch.load could not read the checkpoint ({error}). If the "
                "file holds pickled objects besides tensors and you trust "
                "it, pass weights_only=False. Received: "
                f"checkpoint={path}"
            ) from error
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise ValueError(
            "The checkpoint is not a state dict (nor a dict with a 'model' "
            f"entry). Received: type={type(obj).__name__}"
        )
    state = {}
    for name, value in obj.items():
        state[name.removeprefix("module.")] = _to_numpy(value)
    return state


def read_labels(labels):
    """Reads class names from a list, a text file or AudioSet's csv.

    `class_labels_indices.csv` (AudioSet's ontology file, columns
    `index,mid,display_name`) is read by its `index` and `display_name`
    columns; any other file is read as one name per line.

    Args:
        labels: list of str, or a path to `class_labels_indices.csv` or to
            a text file with one name per line.

    Returns:
        list of str, in class-index order.

    Examples:
    >>> read_labels(["dog", "cat"])
    ['dog', 'cat']
    """
    if isinstance(labels, (list, tuple)):
        return [str(v) for v in labels]
    path = os.fspath(labels)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No label file at this path. Received: labels={path}"
        )
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    first = text.splitlines()[0] if text else ""
    if "display_name" in first and "index" in first:
        rows = list(csv.DictReader(text.splitlines()))
        rows.sort(key=lambda row: int(row["index"]))
        indices = [int(row["index"]) for row in rows]
        if indices != list(range(len(rows))):
            raise ValueError(
                "The label csv's `index` column is not 0..N-1. Received: "
                f"labels={path}"
            )
        return [row["display_name"] for row in rows]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype="float32")
