"""ESC-50: 50 environmental sound classes, 5 s clips, 5-fold CV.

Official layout (the GitHub repository `karolpiczak/ESC-50`):

```
ESC-50/
  audio/1-100032-A-0.wav ...        2000 clips, 5 s, 44.1 kHz mono
  meta/esc50.csv                    filename,fold,target,category,esc10,
                                    src_file,take
```
"""

import os

import numpy as np

from keras_maskspec.recipes import layout as layout_lib
from keras_maskspec.recipes.base import Recipe

NAME = "ESC-50"
NUM_CLASSES = 50
NUM_FOLDS = 5
COLUMNS = ("filename", "fold", "target", "category")


def read_esc50(root):
    """Parses an ESC-50 folder.

    Args:
        root: str. The `ESC-50` folder (holding `audio/` and `meta/`).

    Returns:
        `(clips, folds)`: a `ClipSet` of every clip found (labels = the
        `target` ids, class names from `category`) and an int array of each
        clip's fold (1-5).

    Examples:
    >>> import tempfile
    >>> try:
    ...     read_esc50(tempfile.mkdtemp())
    ... except layout_lib.LayoutError as e:
    ...     print(str(e)[:40])
    ESC-50 layout: missing meta/esc50.csv (t
    """
    root = layout_lib.require_dir(root, NAME)
    meta = layout_lib.require_file(
        root,
        os.path.join("meta", "esc50.csv"),
        NAME,
        "the clip list with columns " + ",".join(COLUMNS),
    )
    rows = layout_lib.read_table(meta, required=COLUMNS, dataset=NAME)
    if not rows:
        raise layout_lib.LayoutError(
            f"{NAME} layout: {meta} lists no clip. Received: data={root}"
        )
    names = [f"class_{i}" for i in range(NUM_CLASSES)]
    try:
        targets = [int(r["target"]) for r in rows]
        folds = [int(r["fold"]) for r in rows]
    except ValueError as exc:
        raise layout_lib.LayoutError(
            f"{NAME} layout: {meta} has a non-integer fold/target ({exc}). "
            f"Received: data={root}"
        ) from None
    for row, target in zip(rows, targets):
        if not 0 <= target < NUM_CLASSES:
            raise layout_lib.LayoutError(
                f"{NAME} layout: target must be in [0, {NUM_CLASSES}). "
                f"Received: target={target} for {row['filename']}"
            )
        names[target] = row["category"]
    files = [os.path.join(root, "audio", r["filename"]) for r in rows]
    files, (targets, folds), missing = layout_lib.keep_existing(
        files, targets, folds
    )
    clips = layout_lib.ClipSet(
        files,
        np.array(targets, np.int64),
        names,
        missing=missing,
        keys=[os.path.basename(f) for f in files],
    )
    layout_lib.require_clips(clips, NAME, "all", root, "audio/*.wav")
    return clips, np.array(folds, np.int64)


class ESC50(Recipe):
    """ESC-50 fine-tuning with 5-fold cross-validation (accuracy)."""

    name = "esc50"
    title = "ESC-50"
    task = "50 environmental sound classes, 5 s clips, 5-fold CV"
    metric = "accuracy"
    paper = {
        "maskspec_tiny": 0.822,
        "maskspec_small": 0.907,
        "maskspec_base": 0.896,
    }
    hours = 0.5
    config_defaults = {
        "num_classes": NUM_CLASSES,
        "multi_label": False,
        "patchout": 100,
        "mixup_alpha": 0.3,
        "frame_stats": "audioset",
        "label_smoothing": 0.0,
        "class_balanced": False,
        "clip_seconds": 5.0,
        "epochs": 80,
        "base_learning_rate": 1e-3,
    }
    option_defaults = {"folds": [1, 2, 3, 4, 5]}
    smoke_options = {"folds": [1]}

    def read(self, data):
        return read_esc50(data)

    def runs(self, data, options):
        clips, folds = self.read(data)
        for fold in options["folds"]:
            test = folds == int(fold)
            if not test.any() or test.all():
                raise layout_lib.LayoutError(
                    f"{NAME} layout: fold {fold} has "
                    f"{'no' if not test.any() else 'every'} clip; "
                    f"folds present: {sorted(set(folds.tolist()))}. "
                    f"Received: folds={options['folds']}"
                )
            train = clips.subset(~test)
            train.missing = clips.missing
            yield f"fold{fold}", train, clips.subset(test), {}

    def summarize(self, per_run):
        accs = [r["metrics"]["accuracy"] for r in per_run.values()]
        folds = {name: r["metrics"] for name, r in per_run.items()}
        return {"accuracy": float(np.mean(accs)), "folds": folds}
