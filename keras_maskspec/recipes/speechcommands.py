"""Speech Commands v0.02: 35 keywords, 1 s clips, official test split.

Official layout (`speech_commands_v0.02.tar.gz`, extracted):

```
speech_commands_v0.02/
  backward/0165e0e8_nohash_0.wav ...  one folder per word (35), 16 kHz
  _background_noise_/*.wav            long noise recordings (not a class)
  validation_list.txt                 "right/a69b9b3e_nohash_0.wav" lines
  testing_list.txt                    (forward-slash relative paths)
```
Training clips are every clip of a word folder that neither list names.
Many clips are shorter than 1 s; the pipeline zero-pads them.
"""

import os

import numpy as np

from keras_maskspec.recipes import layout as layout_lib
from keras_maskspec.recipes.base import Recipe

NAME = "Speech Commands"
LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
NUM_CLASSES_V2 = 35


def _read_list(path):
    with open(path, encoding="utf-8") as f:
        entries = [line.strip() for line in f]
    return {e.replace("\\", "/") for e in entries if e}


def read_speech_commands(root):
    """Parses a Speech Commands (v0.02 or v0.01) folder.

    Args:
        root: str. The extracted archive's folder.

    Returns:
        dict with `train`, `validation` and `test` `ClipSet`s (class ids
        = index of the word in the sorted word folders) and
        `background_noise`, the list of `_background_noise_` files.

    Examples:
    >>> import tempfile
    >>> try:
    ...     read_speech_commands(tempfile.mkdtemp())
    ... except layout_lib.LayoutError as e:
    ...     print(str(e)[:47])
    Speech Commands layout: missing validation_list
    """
    root = layout_lib.require_dir(root, NAME)
    lists = {
        split: _read_list(
            layout_lib.require_file(
                root,
                name,
                NAME,
                "one forward-slash relative path per line, e.g. "
                "'right/a69b9b3e_nohash_0.wav'",
            )
        )
        for split, name in LISTS.items()
    }
    words = sorted(
        d
        for d in os.listdir(root)
        if not d.startswith(("_", ".")) and os.path.isdir(os.path.join(root, d))
    )
    if not words:
        raise layout_lib.LayoutError(
            f"{NAME} layout: no word folders (e.g. yes/, no/) next to "
            f"{LISTS['test']}. Received: data={root}"
        )
    on_disk = {}
    for label, word in enumerate(words):
        for name in sorted(os.listdir(os.path.join(root, word))):
            if name.lower().endswith(".wav"):
                on_disk[f"{word}/{name}"] = label
    splits = {}
    listed = set().union(*lists.values())
    for split, entries in (
        ("train", sorted(set(on_disk) - listed)),
        ("validation", sorted(lists["validation"])),
        ("test", sorted(lists["test"])),
    ):
        entries_found = [e for e in entries if e in on_disk]
        clips = layout_lib.ClipSet(
            [os.path.join(root, *e.split("/")) for e in entries_found],
            np.array([on_disk[e] for e in entries_found], np.int64),
            words,
            missing=len(entries) - len(entries_found),
            keys=entries_found,
        )
        splits[split] = layout_lib.require_clips(
            clips, NAME, split, root, "<word>/<clip>.wav files"
        )
    noise_dir = os.path.join(root, "_background_noise_")
    noise = []
    if os.path.isdir(noise_dir):
        noise = sorted(
            os.path.join(noise_dir, n)
            for n in os.listdir(noise_dir)
            if n.lower().endswith(".wav")
        )
    splits["background_noise"] = noise
    return splits


class SpeechCommands(Recipe):
    """Speech Commands V2 (35 words) fine-tuning; test-split accuracy."""

    name = "speechcommands"
    title = "Speech Commands V2"
    task = "35 keywords, 1 s clips, official validation/test lists"
    metric = "accuracy"
    paper = {
        "maskspec_tiny": 0.967,
        "maskspec_small": 0.973,
        "maskspec_base": 0.977,
    }
    hours = 1.5
    config_defaults = {
        "num_classes": NUM_CLASSES_V2,
        "multi_label": False,
        "patchout": 0,
        "mixup_alpha": 0.3,
        "label_smoothing": 0.0,
        "class_balanced": False,
        "clip_seconds": 1.0,
        "frame_stats": "train",
        "epochs": 80,
        "base_learning_rate": 1e-3,
    }
    option_defaults = {"eval_split": "test"}
    smoke_config = {"patchout": 0}

    def read(self, data):
        return read_speech_commands(data)

    def runs(self, data, options):
        splits = self.read(data)
        split = options["eval_split"]
        if split not in ("validation", "test"):
            raise ValueError(
                "`eval_split` must be 'validation' or 'test'. "
                f"Received: eval_split={split!r}"
            )
        yield "model", splits["train"], splits[split], {}
