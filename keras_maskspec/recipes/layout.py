"""Shared pieces of the dataset layout parsers.

Every parser turns a data set's official on-disk layout into `ClipSet`s:
absolute file paths plus labels in the conventions of
`keras_maskspec.data.classification_dataset` (int class ids, or multi-hot
float32 with -1 = unknown). Files listed by the metadata but absent on disk
are dropped and counted (`ClipSet.missing`), never silently ignored.
"""

import csv
import dataclasses
import os

import numpy as np


class LayoutError(FileNotFoundError):
    """The folder given as a data set does not have the expected layout."""


def require_file(root, relative, dataset, expected):
    """Returns `root/relative`, or raises a `LayoutError` explaining it.

    Args:
        root: str. The data set folder given by the user.
        relative: str. Path of the required file inside `root`.
        dataset: str. Data set name for the message.
        expected: str. What the file should hold (for the message).

    Examples:
    >>> import tempfile
    >>> try:
    ...     require_file(tempfile.mkdtemp(), "meta/esc50.csv", "ESC-50",
    ...                  "the clip list")
    ... except LayoutError as e:
    ...     print(str(e).split(":")[0])
    ESC-50 layout
    """
    path = os.path.join(root, relative)
    if not os.path.isfile(path):
        raise LayoutError(
            f"{dataset} layout: missing {relative} ({expected}) under the "
            f"data folder. Received: data={root}"
        )
    return path


def require_dir(root, dataset):
    """Checks the data folder itself exists.

    Examples:
    >>> try:
    ...     require_dir("/no/such/folder", "ESC-50")
    ... except LayoutError as e:
    ...     print(e)
    ESC-50 data folder not found. Received: data=/no/such/folder
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise LayoutError(
            f"{dataset} data folder not found. Received: data={root}"
        )
    return os.path.abspath(root)


def read_table(path, delimiter=",", required=(), dataset="", hint=""):
    """Reads a CSV/TSV with a header into a list of dicts.

    Args:
        path: str. The file.
        delimiter: str. Field separator.
        required: column names that must be present.
        dataset: str. Data set name for error messages.
        hint: str. Extra text for the missing-column error.

    Returns:
        list of dicts, keys and values stripped.

    Examples:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b\\n1, 2\\n")
    >>> read_table(path, required=("a",))
    [{'a': '1', 'b': '2'}]
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        fields = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in required if c not in fields]
        if missing:
            raise LayoutError(
                f"{dataset} layout: {path} lacks columns {missing}{hint}. "
                f"Received: columns={fields}"
            )
        return [
            {
                (k or "").strip(): (v or "").strip()
                for k, v in row.items()
                if k is not None
            }
            for row in reader
        ]


@dataclasses.dataclass
class ClipSet:
    """Clips of one split: paths and labels, ready for the data pipeline.

    Args:
        files: list of absolute audio paths.
        labels: int64 array `(num_clips,)` of class ids, or float32
            `(num_clips, num_classes)` multi-hot with -1 = unknown.
        class_names: list of str, index = class id.
        multi_label: bool. Whether `labels` is multi-hot.
        missing: int. Clips listed by the metadata but absent on disk.
        keys: optional list of clip ids (file name, YTID, sample key).

    Examples:
    >>> clips = ClipSet(["a.wav", "b.wav"], np.array([0, 1]), ["x", "y"])
    >>> len(clips), clips.num_classes, len(clips.subset([1]))
    (2, 2, 1)
    """

    files: list
    labels: np.ndarray
    class_names: list
    multi_label: bool = False
    missing: int = 0
    keys: list = None

    def __post_init__(self):
        self.files = [os.fspath(f) for f in self.files]
        self.labels = np.asarray(
            self.labels, np.float32 if self.multi_label else np.int64
        )
        if len(self.labels) != len(self.files):
            raise ValueError(
                f"One label per file needed: {len(self.files)} files. "
                f"Received: {len(self.labels)} labels"
            )

    def __len__(self):
        return len(self.files)

    @property
    def num_classes(self):
        """Number of classes (length of `class_names`)."""
        return len(self.class_names)

    def subset(self, indices):
        """The clips at `indices` (int array or boolean mask)."""
        indices = np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        keys = None if self.keys is None else [self.keys[i] for i in indices]
        return ClipSet(
            [self.files[i] for i in indices],
            self.labels[indices],
            self.class_names,
            self.multi_label,
            0,
            keys,
        )

    def head(self, count):
        """The first `count` clips (smoke runs)."""
        return self.subset(np.arange(min(int(count), len(self))))


def keep_existing(files, *columns):
    """Drops entries whose file is missing; returns them and the count.

    Args:
        files: list of paths.
        *columns: sequences aligned with `files`, filtered the same way.

    Returns:
        `(files, columns, num_missing)`.

    Examples:
    >>> keep_existing(["/no/such.wav"], [3])
    ([], [[]], 1)
    """
    keep = [i for i, f in enumerate(files) if os.path.isfile(f)]
    kept_columns = [[column[i] for i in keep] for column in columns]
    return [files[i] for i in keep], kept_columns, len(files) - len(keep)


def require_clips(clips, dataset, split, root, expected):
    """Raises when a split has no clip on disk at all."""
    if len(clips) == 0:
        raise LayoutError(
            f"{dataset} layout: none of the {clips.missing} clips of split "
            f"{split!r} was found; expected {expected}. Received: data={root}"
        )
    return clips
