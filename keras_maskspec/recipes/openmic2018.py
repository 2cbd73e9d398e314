"""OpenMIC-2018: 20 instruments, 10 s clips, partial (masked) labels.

Official layout (`openmic-2018-v1.0.0.tgz`, extracted):

```
openmic-2018/
  openmic-2018.npz          X (VGGish), Y_true (N, 20) float confidences,
                            Y_mask (N, 20) bool, sample_key (N,) object
  class-map.json            {"accordion": 0, ...}
  audio/000/000046_3840.ogg ... audio/<first 3 chars of key>/<key>.ogg
                            (44.1 kHz stereo)
  partitions/split01_train.csv, split01_test.csv   one sample key a line
```
`Y_true` is 0.5 wherever `Y_mask` is false: an unknown label, not a
half-positive. Known entries with `Y_true >= 0.5` are positives (the
official baseline's rule); unknown entries become -1 so the classifier's
masked loss and the masked mAP skip them.
"""

import json
import os

import numpy as np

from keras_maskspec.recipes import layout as layout_lib
from keras_maskspec.recipes.base import Recipe
from keras_maskspec.training import metrics as metrics_lib
from keras_maskspec.utils import load_npz

NAME = "OpenMIC-2018"
INSTRUMENTS = (
    "accordion",
    "banjo",
    "bass",
    "cello",
    "clarinet",
    "cymbals",
    "drums",
    "flute",
    "guitar",
    "mallet_percussion",
    "mandolin",
    "organ",
    "piano",
    "saxophone",
    "synthesizer",
    "trombone",
    "trumpet",
    "ukulele",
    "violin",
    "voice",
)
NPZ_KEYS = ("Y_true", "Y_mask", "sample_key")


def _class_names(root, num_classes):
    path = os.path.join(root, "class-map.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            mapping = json.load(f)
        names = [None] * len(mapping)
        for name, index in mapping.items():
            names[int(index)] = name
        if len(names) == num_classes and None not in names:
            return names
    if num_classes == len(INSTRUMENTS):
        return list(INSTRUMENTS)
    return [f"class_{i}" for i in range(num_classes)]


def read_openmic2018(root, split="split01"):
    """Parses an OpenMIC-2018 folder.

    Args:
        root: str. The folder holding `openmic-2018.npz`, `audio/` and
            `partitions/`.
        split: str. Partition name prefix. Defaults to `"split01"`.

    Returns:
        dict with `train` and `test` `ClipSet`s (multi-hot labels, -1 =
        unknown) and `y_true`/`y_mask` dicts of the raw arrays per split.

    Examples:
    >>> import tempfile
    >>> try:
    ...     read_openmic2018(tempfile.mkdtemp())
    ... except layout_lib.LayoutError as e:
    ...     print(str(e)[:50])
    OpenMIC-2018 layout: missing openmic-2018.npz (Y_t
    """
    root = layout_lib.require_dir(root, NAME)
    npz_path = layout_lib.require_file(
        root,
        "openmic-2018.npz",
        NAME,
        "Y_true, Y_mask and sample_key arrays",
    )
    # `sample_key` is an object array: read through the restricted reader,
    # which refuses anything that could run code (UnsafeDataError).
    npz = load_npz(npz_path)
    absent = [k for k in NPZ_KEYS if k not in npz]
    if absent:
        raise layout_lib.LayoutError(
            f"{NAME} layout: {npz_path} lacks arrays {absent}. "
            f"Received: arrays={sorted(npz)}"
        )
    y_true = np.asarray(npz["Y_true"], np.float32)
    y_mask = np.asarray(npz["Y_mask"]).astype(bool)
    keys = [str(k) for k in npz["sample_key"]]
    if y_true.shape != y_mask.shape or y_true.shape[0] != len(keys):
        raise layout_lib.LayoutError(
            f"{NAME} layout: Y_true {y_true.shape}, Y_mask {y_mask.shape} and "
            f"sample_key ({len(keys)},) disagree. Received: file={npz_path}"
        )
    row_of = {k: i for i, k in enumerate(keys)}
    names = _class_names(root, y_true.shape[1])
    # Positives are `Y_true > 0.5`, strictly, as in the authors' loss and
    # metric (openmic18/engine_run.py:43-44,109-110).
    labels = np.where(y_mask, (y_true > 0.5).astype(np.float32), -1.0)
    out = {"y_true": {}, "y_mask": {}}
    for part in ("train", "test"):
        relative = os.path.join("partitions", f"{split}_{part}.csv")
        path = layout_lib.require_file(
            root, relative, NAME, "one sample key per line"
        )
        with open(path, encoding="utf-8") as f:
            wanted = [line.strip() for line in f if line.strip()]
        unknown = [k for k in wanted if k not in row_of]
        if unknown:
            raise layout_lib.LayoutError(
                f"{NAME} layout: {len(unknown)} keys of {path} are not in "
                f"{npz_path}'s sample_key, e.g. {unknown[:3]}. "
                f"Received: data={root}"
            )
        rows = [row_of[k] for k in wanted]
        files = [os.path.join(root, "audio", k[:3], k + ".ogg") for k in wanted]
        files, (rows,), missing = layout_lib.keep_existing(files, rows)
        rows = np.array(rows, np.int64)
        clips = layout_lib.ClipSet(
            files,
            labels[rows] if len(rows) else np.zeros((0, len(names))),
            names,
            multi_label=True,
            missing=missing,
            keys=[keys[r] for r in rows],
        )
        out[part] = layout_lib.require_clips(
            clips, NAME, part, root, "audio/<key[:3]>/<key>.ogg"
        )
        out["y_true"][part] = y_true[rows]
        out["y_mask"][part] = y_mask[rows]
    return out


class OpenMIC2018(Recipe):
    """OpenMIC-2018 fine-tuning; masked mAP over labelled entries."""

    name = "openmic2018"
    title = "OpenMIC-2018"
    task = "20 instruments, partial labels, loss and mAP where Y_mask is set"
    metric = "map"
    paper = {
        "maskspec_tiny": 0.791,
        "maskspec_small": 0.818,
        "maskspec_base": 0.814,
    }
    hours = 1.5
    config_defaults = {
        "num_classes": len(INSTRUMENTS),
        "multi_label": True,
        "patchout": 200,
        "mixup_alpha": 0.0,
        # The authors: --wavmix False, --specmix False; loss mean over all
        # B x 20 entries.
        "mixup_rate": 0.0,
        "loss_normalize": "all",
        "frame_stats": "train",
        # The authors' statistics: the first 1 s (32 000 samples) of each
        # training clip (`openmic18/get_mean_std.py:31`).
        "stats_clip_seconds": 1.0,
        "label_smoothing": 0.0,
        "class_balanced": False,
        "clip_seconds": 10.0,
        "epochs": 80,
        "base_learning_rate": 1e-3,
    }
    option_defaults = {"split": "split01"}

    def read(self, data, split="split01"):
        return read_openmic2018(data, split=split)

    def runs(self, data, options):
        parts = self.read(data, options["split"])
        yield "model", parts["train"], parts["test"], {}

    def score(self, y_true, y_score):
        result = {
            "map": metrics_lib.masked_mean_average_precision(y_true, y_score)
        }
        try:
            result["mauc"] = metrics_lib.mean_auc(y_true, y_score)
        except ValueError:
            result["mauc"] = float("nan")
        return result
