"""Writing a converted checkpoint as a keras_maskspec run directory."""

import json
import os

from keras_maskspec.convert.checkpoint import read_labels
from keras_maskspec.convert.convert import convert_checkpoint
from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer
from keras_maskspec.utils import atomic_save_model
from keras_maskspec.utils import atomic_write_text
from keras_maskspec.utils import jsonable

# What a conversion writes; with `overwrite=True` these (and only these)
# are replaced, and those the new conversion does not write are removed.
OUTPUTS = ("config.json", "encoder.keras", "model.keras", "labels.txt")


def _check_output(out_dir, overwrite):
    if not os.path.isdir(out_dir):
        if os.path.exists(out_dir):
            raise ValueError(
                f"{out_dir} exists and is not a folder. Received: "
                f"out_dir={out_dir!r}"
            )
        return
    names = sorted(os.listdir(out_dir))
    if not names:
        return
    if not overwrite:
        raise FileExistsError(
            f"{out_dir} already exists and is not empty ({', '.join(names[:8])}"
            f"{' ...' if len(names) > 8 else ''}); nothing was written. Pass "
            "overwrite=True (`--overwrite`) to replace a previous "
            f"conversion there. Received: out_dir={out_dir!r}"
        )
    if os.path.exists(os.path.join(out_dir, ".maskspec-run")):
        raise FileExistsError(
            f"{out_dir} holds a training run; a conversion never replaces "
            f"one. Choose another folder. Received: out_dir={out_dir!r}"
        )


def convert_to_run_dir(
    checkpoint, source, out_dir, labels=None, overwrite=False, **kwargs
):
    """Converts a checkpoint and saves it as a run directory.

    Writes `encoder.keras` (the `MaskSpecEncoder`), `model.keras` (the
    whole converted model: classifier or pre-trainer; absent for a bare
    encoder), `config.json` (where the weights came from and what was
    built) and, when `labels` are given, `labels.txt` (one class name per
    line, in output order). This is what `maskspec convert --from
    maskspec|audiomae CHECKPOINT --out RUN_DIR` runs.

    Args:
        checkpoint: path to the authors' `.pth` file (or a state dict).
        source: str. `"maskspec"` or `"audiomae"`.
        out_dir: str. Directory to create (or an empty one).
        labels: `None`, a list of class names, or a path to AudioSet's
            `class_labels_indices.csv` (or a file with one name per line).
        overwrite: bool. Replace the files of a previous conversion in a
            folder that is not empty (`OUTPUTS` only: a stale `model.keras`
            or `labels.txt` the new conversion does not write is removed;
            other files stay). Without it a non-empty `out_dir` is an
            error and nothing is written. Defaults to `False`.
        **kwargs: passed to `convert_checkpoint` (e.g. `frame_stats`,
            `num_heads`, `time_patches`, `encoder_only`).

    Returns:
        The converted Keras model.

    Examples:
    >>> import json, os, tempfile
    >>> from keras_maskspec.convert.convert import _example_state
    >>> state = _example_state()  # a 1-block, 32-wide Audio-MAE encoder
    >>> out = tempfile.mkdtemp()
    >>> _ = convert_to_run_dir(state, "audiomae", out, num_heads=2)
    >>> sorted(os.listdir(out))
    ['config.json', 'encoder.keras']
    >>> with open(os.path.join(out, "config.json")) as f:
    ...     json.load(f)["converted_from"]["source"]
    'audiomae'
    """
    out_dir = os.fspath(out_dir)
    _check_output(out_dir, overwrite)
    model = convert_checkpoint(checkpoint, source, labels=labels, **kwargs)
    os.makedirs(out_dir, exist_ok=True)
    written = ["config.json", "encoder.keras"]
    if isinstance(model, (MaskSpecClassifier, MaskSpecPretrainer)):
        encoder = model.encoder
        atomic_save_model(model, os.path.join(out_dir, "model.keras"))
        written.append("model.keras")
    else:
        encoder = model
    atomic_save_model(encoder, os.path.join(out_dir, "encoder.keras"))
    config = {
        "converted_from": _provenance(checkpoint, source, kwargs),
        "model": type(model).__name__,
        "sample_rate": encoder.sample_rate,
        "frontend": type(encoder.frontend).__name__,
        "position_embedding": encoder.position_embedding_kind,
        "encoder": {
            "hidden_dim": encoder.hidden_dim,
            "num_layers": encoder.num_layers,
            "num_heads": encoder.num_heads,
            "intermediate_dim": encoder.intermediate_dim,
            "patch_size": list(encoder.patch_size),
        },
    }
    if isinstance(model, MaskSpecClassifier):
        config["num_classes"] = model.num_classes
        config["multi_label"] = model.multi_label
    if labels is not None:
        names = read_labels(labels)
        atomic_write_text(
            os.path.join(out_dir, "labels.txt"), "\n".join(names) + "\n"
        )
        config["labels"] = "labels.txt"
        written.append("labels.txt")
    atomic_write_text(
        os.path.join(out_dir, "config.json"), json.dumps(config, indent=2)
    )
    for name in OUTPUTS:
        stale = os.path.join(out_dir, name)
        if name not in written and os.path.isfile(stale):
            os.remove(stale)
    return model


def _provenance(checkpoint, source, options):
    """Where converted weights came from (for config or metadata JSON)."""
    return {
        "source": source,
        "checkpoint": (
            os.path.abspath(os.fspath(checkpoint))
            if isinstance(checkpoint, (str, os.PathLike))
            else None
        ),
        "options": jsonable(options),
    }


def convert_to_preset(
    checkpoint, source, out_dir, labels=None, overwrite=False, **kwargs
):
    """Converts a checkpoint and saves it as a keras-hub style preset folder.

    Writes `config.json`, `model.weights.h5` and `metadata.json` (with
    `converted_from` and, when given, the class names as `labels`), the
    layout `MaskSpecModel.from_preset(folder)` reads; `MaskSpecEncoder.
    from_preset(folder)` gives the encoder of a converted classifier or
    pre-trainer. This is what `maskspec convert --to preset` runs.

    Args:
        checkpoint: path to the authors' `.pth` file (or a state dict).
        source: str. `"maskspec"` or `"audiomae"`.
        out_dir: str. The preset folder to create (or an empty one).
        labels: `None`, a list of class names, or a path to AudioSet's
            `class_labels_indices.csv` (or a file with one name per line).
        overwrite: bool. Replace the files of a previous preset in a folder
            that is not empty. Defaults to `False`.
        **kwargs: passed to `convert_checkpoint`.

    Returns:
        The converted Keras model.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec.convert.convert import _example_state
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> out = tempfile.mkdtemp()
    >>> _ = convert_to_preset(_example_state(), "audiomae", out, num_heads=2)
    >>> sorted(os.listdir(out))
    ['config.json', 'metadata.json', 'model.weights.h5']
    >>> MaskSpecEncoder.from_preset(out).hidden_dim
    32
    """
    from keras_maskspec.models.preset_folder import save_preset_folder

    out_dir = os.fspath(out_dir)
    _check_output(out_dir, overwrite)
    model = convert_checkpoint(checkpoint, source, labels=labels, **kwargs)
    metadata = {"converted_from": _provenance(checkpoint, source, kwargs)}
    if labels is not None:
        metadata["labels"] = list(read_labels(labels))
    save_preset_folder(model, out_dir, metadata=metadata)
    return model
