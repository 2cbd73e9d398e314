"""Writing a converted checkpoint as a keras_maskspec run directory."""

import json
import os

from keras_maskspec.convert.checkpoint import read_labels
from keras_maskspec.convert.convert import convert_checkpoint
from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer
from keras_maskspec.utils import jsonable


def convert_to_run_dir(checkpoint, source, out_dir, labels=None, **kwargs):
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
        out_dir: str. Directory to create or fill.
        labels: `None`, a list of class names, or a path to AudioSet's
            `class_labels_indices.csv` (or a file with one name per line).
        **kwargs: passed to `convert_checkpoint` (e.g. `frame_stats`,
            `num_heads`, `time_patches`, `encoder_only`).

    Returns:
        The converted Keras model.

    Examples:
    >>> import numpy as np, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> D = 32
    >>> state = {"patch_embed.proj.weight": rng.normal(size=(D, 1, 16, 16)),
    ...          "patch_embed.proj.bias": np.zeros(D),
    ...          "cls_token": np.zeros((1, 1, D)),
    ...          "pos_embed": rng.normal(size=(1, 1 + 8 * 6, D)),
    ...          "norm.weight": np.ones(D), "norm.bias": np.zeros(D)}
    >>> for name, shape in [("norm1.weight", (D,)), ("norm1.bias", (D,)),
    ...         ("attn.qkv.weight", (3 * D, D)), ("attn.qkv.bias", (3 * D,)),
    ...         ("attn.proj.weight", (D, D)), ("attn.proj.bias", (D,)),
    ...         ("norm2.weight", (D,)), ("norm2.bias", (D,)),
    ...         ("mlp.fc1.weight", (64, D)), ("mlp.fc1.bias", (64,)),
    ...         ("mlp.fc2.weight", (D, 64)), ("mlp.fc2.bias", (D,))]:
    ...     state[f"blocks.0.{name}"] = rng.normal(size=shape) * 0.02
    >>> out = tempfile.mkdtemp()
    >>> _ = convert_to_run_dir(state, "audiomae", out, num_heads=2)
    >>> sorted(os.listdir(out))
    ['config.json', 'encoder.keras']
    """
    model = convert_checkpoint(checkpoint, source, labels=labels, **kwargs)
    os.makedirs(out_dir, exist_ok=True)
    if isinstance(model, (MaskSpecClassifier, MaskSpecPretrainer)):
        encoder = model.encoder
        model.save(os.path.join(out_dir, "model.keras"))
    else:
        encoder = model
    encoder.save(os.path.join(out_dir, "encoder.keras"))
    config = {
        "converted_from": {
            "source": source,
            "checkpoint": (
                os.path.abspath(os.fspath(checkpoint))
                if isinstance(checkpoint, (str, os.PathLike))
                else None
            ),
            "options": jsonable(kwargs),
        },
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
        with open(os.path.join(out_dir, "labels.txt"), "w") as f:
            f.write("\n".join(names) + "\n")
        config["labels"] = "labels.txt"
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return model

