"""AudioSet: pre-training (no labels) and 527-class fine-tuning.

Official metadata (research.google.com/audioset/download.html), at the data
folder's root or in `metadata/` (PANNs), `meta/` or `csv_files/`:

```
class_labels_indices.csv      index,mid,display_name (header)
balanced_train_segments.csv   3 "#" lines, then rows
unbalanced_train_segments.csv   YTID, start_seconds, end_seconds, "m1,m2"
eval_segments.csv             (quoted labels, a space after each comma)
```
The clips are not distributed: users download what still exists, under
several naming conventions, all found by YTID anywhere below the audio
folder (recursively):

- PANNs / PaSST: `audios/<split>/Y<YTID>.wav`
- `<YTID>_<start>_<end>.wav`, `<YTID>_<start>.flac`, `<YTID>.wav`,
  `Y<YTID>_<start>_<end>.wav`, `<YTID>-<start>-<end>.wav`, ...

A YTID is 11 characters of `[A-Za-z0-9_-]` and may itself start with `-`
or `_`, so file names are never split on `_`: the id is read at a fixed
offset and the rest must look like a time suffix. Clips of a CSV that are
not on disk are counted (`missing`) and left out.

Variants: AS-2M fine-tunes on balanced + unbalanced train with
class-balanced sampling (100k clips per epoch); AS-20K on the balanced
train set only. Both evaluate on `eval_segments`.
"""

import csv
import os
import re

import numpy as np

from keras_maskspec.data.formats import AUDIO_EXTENSIONS
from keras_maskspec.recipes import layout as layout_lib
from keras_maskspec.recipes.base import SMOKE_CONFIG
from keras_maskspec.recipes.base import Recipe

NAME = "AudioSet"
CLASS_FILE = "class_labels_indices.csv"
SEGMENT_FILES = {
    "balanced_train": "balanced_train_segments.csv",
    "unbalanced_train": "unbalanced_train_segments.csv",
    "eval": "eval_segments.csv",
}
METADATA_DIRS = ("", "metadata", "meta", "csv_files", "csv")
VARIANTS = {
    "as2m": ("balanced_train", "unbalanced_train"),
    "as20k": ("balanced_train",),
}
YTID_LENGTH = 11
_TIME_SUFFIX = re.compile(r"^([_-]\d+(\.\d+)?){0,2}$")


def find_metadata(root, name):
    """Path of a metadata CSV at `root` or in a usual sub-folder, or None.

    Examples:
    >>> import tempfile
    >>> find_metadata(tempfile.mkdtemp(), CLASS_FILE) is None
    True
    """
    for sub in METADATA_DIRS:
        path = os.path.join(root, sub, name)
        if os.path.isfile(path):
            return path
    return None


def read_class_labels(path):
    """Reads `class_labels_indices.csv` into `(mids, display_names)`.

    Examples:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), CLASS_FILE)
    >>> with open(path, "w") as f:
    ...     _ = f.write('index,mid,display_name\\n0,/m/09x0r,"Speech"\\n'
    ...                 '1,/m/05zppz,"Male speech, man speaking"\\n')
    >>> read_class_labels(path)
    (['/m/09x0r', '/m/05zppz'], ['Speech', 'Male speech, man speaking'])
    """
    rows = layout_lib.read_table(
        path, required=("index", "mid", "display_name"), dataset=NAME
    )
    rows = sorted(rows, key=lambda r: int(r["index"]))
    return [r["mid"] for r in rows], [r["display_name"] for r in rows]


def read_segments(path):
    """Reads an AudioSet segment CSV.

    Args:
        path: str. E.g. `balanced_train_segments.csv`: `#` comment lines,
            then `YTID, start_seconds, end_seconds, "mid1,mid2"` rows.

    Returns:
        list of `(ytid, start, end, [mids])`.

    Examples:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "eval_segments.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('# Segments csv created Sun Mar  5 10:54:31 2017\\n'
    ...                 '# num_ytids=1, num_segs=1, num_unique_labels=2\\n'
    ...                 '# YTID, start_seconds, end_seconds, positive_labels\\n'
    ...                 '--4gqARaEJE, 0.000, 10.000, "/m/068hy,/m/07q6cd_"\\n')
    >>> read_segments(path)
    [('--4gqARaEJE', 0.0, 10.0, ['/m/068hy', '/m/07q6cd_'])]
    """
    segments = []
    with open(path, newline="", encoding="utf-8") as f:
        lines = (line for line in f if not line.lstrip().startswith("#"))
        for number, row in enumerate(csv.reader(lines, skipinitialspace=True)):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 4:
                raise layout_lib.LayoutError(
                    f"{NAME} layout: {path} row {number + 1} must be "
                    'YTID, start, end, "mid1,mid2". Received: row={row}'
                )
            try:
                start, end = float(row[1]), float(row[2])
            except ValueError:
                raise layout_lib.LayoutError(
                    f"{NAME} layout: {path} row {number + 1} has non-numeric "
                    f"start/end seconds. Received: row={row}"
                ) from None
            mids = [m.strip() for m in ",".join(row[3:]).split(",")]
            segments.append(
                (row[0].strip(), start, end, [m for m in mids if m])
            )
    return segments


def ytid_candidates(stem):
    """YTIDs a file name (without extension) may stand for.

    The id is read at a fixed offset (0, or 1 after a `Y` prefix) and the
    rest must be empty or a time suffix like `_30.000_40.000`, `_30000` or
    `-30-40`; the whole stem and the stem without `Y` are candidates too.

    Examples:
    >>> ytid_candidates("Y-0RWZT-miFs")
    ['-0RWZT-miFs', 'Y-0RWZT-miFs']
    >>> ytid_candidates("_abcdefghij_30.000_40.000")
    ['_abcdefghij', '_abcdefghij_30.000_40.000']
    """
    out = []
    offsets = (1, 0) if stem.startswith("Y") else (0,)
    for offset in offsets:
        ytid = stem[offset : offset + YTID_LENGTH]
        if len(ytid) == YTID_LENGTH and _TIME_SUFFIX.match(
            stem[offset + YTID_LENGTH :]
        ):
            out.append(ytid)
    for extra in (stem, stem[1:] if stem.startswith("Y") else None):
        if extra and extra not in out:
            out.append(extra)
    return out


def index_clips(audio_root, wanted):
    """Finds the audio file of each wanted YTID below `audio_root`.

    Args:
        audio_root: str. Folder searched recursively.
        wanted: set of YTIDs.

    Returns:
        dict `ytid -> [paths]` (several when a clip was downloaded twice).

    Examples:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "Y_abcdefghij.wav"), "wb").close()
    >>> {k: [os.path.basename(p) for p in v]
    ...  for k, v in index_clips(folder, {"_abcdefghij"}).items()}
    {'_abcdefghij': ['Y_abcdefghij.wav']}
    """
    found = {}
    for base, dirs, names in os.walk(audio_root, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in AUDIO_EXTENSIONS:
                continue
            for ytid in ytid_candidates(stem):
                if ytid in wanted:
                    found.setdefault(ytid, []).append(os.path.join(base, name))
                    break
    return found


def _pick(paths, split):
    for path in paths:
        if split in path:
            return path
    return paths[0]


def read_audioset(root, audio_dir=None, splits=None, require_labels=True):
    """Parses AudioSet metadata and finds the downloaded clips.

    Args:
        root: str. Folder holding the metadata CSVs (at its root or in
            `metadata/`, `meta/`, `csv_files/`).
        audio_dir: str. Folder searched for clips. Defaults to `root`.
        splits: names among `balanced_train`, `unbalanced_train`, `eval`.
            Defaults to every split whose CSV exists.
        require_labels: bool. Whether `class_labels_indices.csv` must exist
            (fine-tuning); pre-training does without it.

    Returns:
        dict `split -> ClipSet` (multi-hot labels over the 527 classes,
        `keys` = YTIDs, `missing` = CSV rows without a file); also
        `"class_names"` and `"mids"` entries.

    Examples:
    >>> import tempfile
    >>> try:
    ...     read_audioset(tempfile.mkdtemp())
    ... except layout_lib.LayoutError as e:
    ...     print(str(e)[:56])
    AudioSet layout: missing class_labels_indices.csv (index
    """
    root = layout_lib.require_dir(root, NAME)
    audio_dir = (
        root if audio_dir is None else layout_lib.require_dir(audio_dir, NAME)
    )
    class_path = find_metadata(root, CLASS_FILE)
    if class_path is None and require_labels:
        raise layout_lib.LayoutError(
            f"{NAME} layout: missing {CLASS_FILE} (index,mid,display_name) at "
            f"the data folder's root or in one of {METADATA_DIRS[1:]}. "
            f"Received: data={root}"
        )
    mids, names = read_class_labels(class_path) if class_path else ([], [])
    column = {mid: i for i, mid in enumerate(mids)}
    if splits is None:
        splits = [s for s, f in SEGMENT_FILES.items() if find_metadata(root, f)]
    segments = {}
    for split in splits:
        if split not in SEGMENT_FILES:
            raise ValueError(
                f"Unknown AudioSet split. Known: {sorted(SEGMENT_FILES)}. "
                f"Received: split={split!r}"
            )
        path = find_metadata(root, SEGMENT_FILES[split])
        if path is None:
            raise layout_lib.LayoutError(
                f"{NAME} layout: missing {SEGMENT_FILES[split]} (segment list "
                f"'YTID, start, end, \"mids\"') at the data folder's root or "
                f"in one of {METADATA_DIRS[1:]}. Received: data={root}"
            )
        segments[split] = read_segments(path)
    if not segments:
        raise layout_lib.LayoutError(
            f"{NAME} layout: no segment CSV ({sorted(SEGMENT_FILES.values())}) "
            f"found. Received: data={root}"
        )
    wanted = {seg[0] for rows in segments.values() for seg in rows}
    found = index_clips(audio_dir, wanted)
    out = {"class_names": names, "mids": mids}
    for split, rows in segments.items():
        rows = [r for r in rows if r[0] in found]
        labels = np.zeros((len(rows), len(mids)), np.float32)
        for i, (_, _, _, row_mids) in enumerate(rows):
            for mid in row_mids:
                if mid in column:
                    labels[i, column[mid]] = 1.0
        out[split] = layout_lib.ClipSet(
            [_pick(found[r[0]], split) for r in rows],
            labels,
            names,
            multi_label=True,
            missing=len(segments[split]) - len(rows),
            keys=[r[0] for r in rows],
        )
    return out


class AudioSet(Recipe):
    """AudioSet fine-tuning (AS-2M / AS-20K) and pre-training."""

    name = "audioset"
    title = "AudioSet"
    task = "527 classes, multi-label; AS-2M / AS-20K; also pre-training"
    metric = "map"
    paper = {
        "maskspec_small (AS-20K)": 0.289,
        "maskspec_base (AS-20K)": 0.323,
        "maskspec_base (AS-2M)": 0.471,
    }
    hours = 3.0
    config_defaults = {
        "num_classes": 527,
        "multi_label": True,
        "patchout": 200,
        "mixup_alpha": 0.3,
        # timm 0.5.4's BinaryCrossEntropy ignores smoothing for multi-hot
        # targets, so the authors' AudioSet runs had none.
        "label_smoothing": 0.0,
        # 8 GPUs x 64 (scripts/finetune_vit.sh); lr = 1e-3 * 512 / 256.
        "batch_size": 512,
        "frame_stats": "audioset",
        "class_balanced": True,
        "samples_per_epoch": 100_000,
        "clip_seconds": 10.0,
        "epochs": 80,
        "base_learning_rate": 1e-3,
    }
    # AS-20K: the paper gives AS-2M's settings only; these follow the
    # usual AS-20K practice (Audio-MAE, PaSST): no class balancing, one pass
    # over the 20k clips per epoch.
    variant_defaults = {
        "as2m": {},
        "as20k": {"class_balanced": False, "samples_per_epoch": None},
    }
    option_defaults = {"variant": "as2m", "audio_dir": None}
    pretrain_defaults = {}
    smoke_pretrain = {
        "preset": "maskspec_test",
        "epochs": 1,
        "steps_per_epoch": 2,
        "batch_size": 2,
        "warmup_epochs": 0,
        "clip_seconds": SMOKE_CONFIG["clip_seconds"],
        "jit_compile": False,
        "image_every": 0,
        "verbose": 0,
    }

    def defaults(self):
        from keras_maskspec.training.config import PretrainConfig

        result = super().defaults()
        result["variants"] = {
            k: dict(v) for k, v in self.variant_defaults.items()
        }
        result["pretrain"] = (
            PretrainConfig().replace(**self.pretrain_defaults).to_dict()
        )
        return result

    def resolve(self, smoke=False, **overrides):
        variant = overrides.get("variant", self.option_defaults["variant"])
        if variant not in VARIANTS:
            raise ValueError(
                f"`variant` must be one of {sorted(VARIANTS)}. "
                f"Received: variant={variant!r}"
            )
        config, options = super().resolve(smoke=smoke, **overrides)
        changes = {
            k: v
            for k, v in self.variant_defaults[variant].items()
            if k not in overrides and not (smoke and k in SMOKE_CONFIG)
        }
        return config.replace(**changes), options

    def read(self, data, audio_dir=None, splits=None):
        return read_audioset(data, audio_dir=audio_dir, splits=splits)

    def runs(self, data, options):
        train_splits = VARIANTS[options["variant"]]
        parsed = self.read(
            data, options["audio_dir"], splits=[*train_splits, "eval"]
        )
        trains = [parsed[s] for s in train_splits]
        train = layout_lib.ClipSet(
            [f for c in trains for f in c.files],
            np.concatenate([c.labels for c in trains]),
            parsed["class_names"],
            multi_label=True,
            missing=sum(c.missing for c in trains),
            keys=[k for c in trains for k in c.keys],
        )
        layout_lib.require_clips(
            train, NAME, "+".join(train_splits), data, "clips named by YTID"
        )
        layout_lib.require_clips(
            parsed["eval"], NAME, "eval", data, "clips named by YTID"
        )
        yield options["variant"], train, parsed["eval"], {}

    def pretrain(self, data, out=None, smoke=False, **overrides):
        """Pre-trains MaskSpec (no labels) on AudioSet clips or shards.

        Args:
            data: str or list. TFRecord shards (`*.tfrecord` paths or
                patterns, see `keras_maskspec.data.write_shards`), or an
                AudioSet folder: the clips of the variant's training
                segment CSVs (AS-2M: balanced + unbalanced); a folder
                without segment CSVs is used whole.
            out: str or `None`. Run directory (`None`: a temporary one,
                removed afterwards).
            smoke: bool. Tiny encoder/decoder, a few steps.
            **overrides: `PretrainConfig` fields, `variant` or `audio_dir`.

        Returns:
            dict: `sources` (clips or shards used), `missing_clips`,
            `loss` (last epoch) and `run_dir` (`None` for a temporary
            run).
        """
        import shutil
        import tempfile

        from keras_maskspec import training
        from keras_maskspec.training.config import PretrainConfig

        options = dict(self.option_defaults)
        options.update(
            {k: overrides.pop(k) for k in list(overrides) if k in options}
        )
        config = PretrainConfig().replace(**self.pretrain_defaults)
        if smoke:
            config = config.replace(**self.smoke_pretrain)
        config = config.replace(**overrides)
        sources, missing = self._pretrain_sources(data, options)
        from keras_maskspec import data as data_lib

        if smoke:
            sources = sources[:8]
        dataset = data_lib.pretraining_dataset(
            sources,
            sample_rate=config.audio_sample_rate(),
            clip_seconds=config.clip_seconds,
            batch_size=config.batch_size,
            seed=config.seed,
            crop=config.data_crop(),
        )
        if config.steps_per_epoch:
            dataset = dataset.repeat()
        owned = out is None
        run_dir = (
            tempfile.mkdtemp(prefix="maskspec_pretrain_") if owned else out
        )
        try:
            training.pretrain(config, dataset, run_dir)
            loss = _last_loss(os.path.join(run_dir, "metrics.csv"))
            return {
                "sources": len(sources),
                "missing_clips": int(missing),
                "loss": None if loss is None else float(loss),
                "run_dir": None if owned else os.path.abspath(run_dir),
            }
        finally:
            if owned:
                shutil.rmtree(run_dir, ignore_errors=True)

    def _pretrain_sources(self, data, options):
        paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        paths = [os.fspath(p) for p in paths]
        if any(".tfrec" in p.lower() for p in paths):
            return paths, 0
        if len(paths) != 1 or not os.path.isdir(paths[0]):
            raise layout_lib.LayoutError(
                f"{NAME} pre-training needs an AudioSet folder or TFRecord "
                f"shards. Received: data={data!r}"
            )
        root = paths[0]
        splits = [
            s
            for s in VARIANTS[options["variant"]]
            if find_metadata(root, SEGMENT_FILES[s])
        ]
        if not splits:
            # No segment lists: every clip under the folder, unlabelled.
            from keras_maskspec.data import resolve_sources

            return resolve_sources(root)[1], 0
        parsed = read_audioset(
            root, options["audio_dir"], splits=splits, require_labels=False
        )
        files = [f for s in splits for f in parsed[s].files]
        missing = sum(parsed[s].missing for s in splits)
        if not files:
            raise layout_lib.LayoutError(
                f"{NAME} layout: none of the {missing} clips of {splits} was "
                f"found below the audio folder. Received: data={root}"
            )
        return files, missing


def _last_loss(metrics_csv):
    """The `loss` of the last epoch in a run's `metrics.csv`, or `None`."""
    if not os.path.exists(metrics_csv):
        return None
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in reversed(rows):
        try:
            return float(row["loss"])
        except (KeyError, TypeError, ValueError):
            continue
    return float("nan") if rows else None
