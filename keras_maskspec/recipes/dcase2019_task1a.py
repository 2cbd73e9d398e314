"""DCASE2019 Task 1A: 10 acoustic scenes, 10 s binaural clips.

Official layout (TAU Urban Acoustic Scenes 2019, development set):

```
TAU-urban-acoustic-scenes-2019-development/
  audio/airport-barcelona-0-0-a.wav ...   48 kHz, 24-bit, stereo, 10 s
  evaluation_setup/fold1_train.csv        tab-separated, header
  evaluation_setup/fold1_evaluate.csv     "filename<TAB>scene_label",
                                          filename = "audio/<name>.wav"
  meta.csv
```
The paper trains one model per channel (left, right, mid = (L + R) / 2)
and reports the accuracy of their ensemble (mean of the three models'
class probabilities) on `fold1_evaluate`.
"""

import os

import numpy as np

from keras_maskspec.recipes import layout as layout_lib
from keras_maskspec.recipes.base import Recipe
from keras_maskspec.training import metrics as metrics_lib

NAME = "DCASE2019 Task 1A"
SCENES = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)
SETUP = {
    "train": os.path.join("evaluation_setup", "fold1_train.csv"),
    "evaluate": os.path.join("evaluation_setup", "fold1_evaluate.csv"),
}
CHANNELS = ("left", "right", "mid")


def _read_setup(root, relative):
    path = layout_lib.require_file(
        root,
        relative,
        NAME,
        "tab-separated 'filename<TAB>scene_label' rows with a header",
    )
    with open(path, encoding="utf-8") as f:
        header = f.readline()
    if "\t" not in header:
        raise layout_lib.LayoutError(
            f"{NAME} layout: {path} must be tab-separated with a header "
            f"'filename<TAB>scene_label'. Received: header={header.strip()!r}"
        )
    rows = layout_lib.read_table(
        path,
        delimiter="\t",
        required=("filename", "scene_label"),
        dataset=NAME,
    )
    return path, rows


def read_dcase2019_task1a(root):
    """Parses a TAU Urban Acoustic Scenes 2019 development folder.

    Args:
        root: str. The folder holding `audio/` and `evaluation_setup/`.

    Returns:
        dict with `train` and `evaluate` `ClipSet`s (class ids = index in
        `SCENES`).

    Examples:
    >>> import tempfile
    >>> try:
    ...     read_dcase2019_task1a(tempfile.mkdtemp())
    ... except layout_lib.LayoutError as e:
    ...     print(str(e)[:60])
    DCASE2019 Task 1A layout: missing evaluation_setup/fold1_tra
    """
    root = layout_lib.require_dir(root, NAME)
    index = {scene: i for i, scene in enumerate(SCENES)}
    splits = {}
    for split, relative in SETUP.items():
        path, rows = _read_setup(root, relative)
        unknown = sorted({r["scene_label"] for r in rows} - set(index))
        if unknown:
            raise layout_lib.LayoutError(
                f"{NAME} layout: {path} has unknown scenes {unknown}; "
                f"expected {list(SCENES)}. Received: data={root}"
            )
        files = [os.path.join(root, *r["filename"].split("/")) for r in rows]
        labels = [index[r["scene_label"]] for r in rows]
        files, (labels,), missing = layout_lib.keep_existing(files, labels)
        clips = layout_lib.ClipSet(
            files,
            np.array(labels, np.int64),
            list(SCENES),
            missing=missing,
            keys=[os.path.basename(f) for f in files],
        )
        splits[split] = layout_lib.require_clips(
            clips, NAME, split, root, "audio/<name>.wav as listed"
        )
    return splits


class DCASE2019Task1A(Recipe):
    """DCASE2019 Task 1A: per-channel models and their ensemble."""

    name = "dcase2019_task1a"
    title = "DCASE2019 Task 1A"
    task = "10 acoustic scenes, 10 s stereo; left/right/mid + ensemble"
    metric = "accuracy"
    paper = {
        "maskspec_tiny": 0.742,
        "maskspec_small": 0.804,
        "maskspec_base": 0.801,
    }
    hours = 4.0
    config_defaults = {
        "num_classes": len(SCENES),
        "multi_label": False,
        "patchout": 200,
        "mixup_alpha": 0.2,
        "frame_stats": "train",
        # The authors' statistics: the first 1 s (32 000 samples) of each
        # training clip (`dcase19/get_mean_std.py:30`).
        "stats_clip_seconds": 1.0,
        "label_smoothing": 0.0,
        "class_balanced": False,
        "clip_seconds": 10.0,
        "epochs": 200,
        "base_learning_rate": 5e-3,
    }
    option_defaults = {"channels": list(CHANNELS)}
    smoke_options = {"channels": ["left", "mid"]}

    def read(self, data):
        return read_dcase2019_task1a(data)

    def runs(self, data, options):
        splits = self.read(data)
        for channel in options["channels"]:
            if channel not in CHANNELS:
                raise ValueError(
                    f"Each channel must be one of {CHANNELS}. Received: "
                    f"channels={options['channels']}"
                )
            kwargs = {"channels": channel}
            yield channel, splits["train"], splits["evaluate"], kwargs

    def summarize(self, per_run):
        result = {name: r["metrics"] for name, r in per_run.items()}
        first = next(iter(per_run.values()))
        if len(per_run) > 1:
            # The authors average the three models' logits
            # (dcase19/engine_run.py:159), then take the arg max.
            logits = np.mean([r["y_score"] for r in per_run.values()], axis=0)
            result["ensemble"] = {
                "accuracy": metrics_lib.accuracy(first["y_true"], logits)
            }
        headline = result[
            "ensemble" if len(per_run) > 1 else next(iter(per_run))
        ]
        result["accuracy"] = headline["accuracy"]
        return result
