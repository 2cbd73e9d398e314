"""Turning user `sources` (files, folders, manifests, shards) into paths.

Accepted sources, alone or in a list:

- an audio file (any extension libsndfile reads);
- a folder, searched recursively for `formats.AUDIO_EXTENSIONS`;
- a manifest: `.txt` with one path per line (blank lines and `#` comments
  ignored) or `.csv` with a `path` (or `file`, `filename`) column; relative
  paths are relative to the manifest's folder;
- a glob pattern of audio files (`"clips/*.flac"`);
- TFRecord shards written by `write_shards` (a `*.tfrecord` path or pattern).

Every top-level source is checked before training starts: a missing file or
folder, a pattern matching nothing, an empty folder or manifest raises an
error naming it. Files listed inside manifests are not stat'ed up front (a
2M-line manifest would cost minutes on network storage); a missing one is
skipped and counted at read time like any other bad clip.
"""

import csv
import glob
import os

from keras_maskspec.data import formats

PATH_COLUMNS = ("path", "file", "filename", "filepath")
SHARD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrec")


def _is_pattern(path):
    return any(ch in path for ch in "*?[")


def _is_shard(path):
    base = path.lower()
    return any(base.endswith(s) or s + "-" in base for s in SHARD_SUFFIXES)


def read_manifest(path):
    """Reads a `.txt` or `.csv` manifest.

    Args:
        path: str. The manifest file.

    Returns:
        `(paths, rows)`: absolute audio paths, and for a CSV the rows as
        dicts (for a `.txt`, `rows` is `None`).

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> manifest = os.path.join(folder, "list.csv")
    >>> with open(manifest, "w") as f:
    ...     _ = f.write("path,label\\na.wav,3\\nsub/b.flac,1\\n")
    >>> paths, rows = read_manifest(manifest)
    >>> [os.path.relpath(p, folder) for p in paths], rows[1]["label"]
    (['a.wav', 'sub/b.flac'], '1')
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Manifest not found. Received: path={path}")
    root = os.path.dirname(os.path.abspath(path))
    rows = None
    with open(path, newline="", encoding="utf-8") as f:
        if path.lower().endswith(".csv"):
            reader = csv.DictReader(f)
            fields = [c.strip().lower() for c in reader.fieldnames or []]
            column = next((c for c in PATH_COLUMNS if c in fields), None)
            if column is None:
                raise ValueError(
                    f"CSV manifest {path} has no path column (one of "
                    f"{PATH_COLUMNS}). Received: columns={reader.fieldnames}"
                )
            rows = [
                {k.strip().lower(): (v or "").strip() for k, v in r.items()}
                for r in reader
            ]
            rows = [r for r in rows if r[column]]
            entries = [r[column] for r in rows]
        else:
            entries = [line.strip() for line in f]
            entries = [e for e in entries if e and not e.startswith("#")]
    if not entries:
        raise ValueError(f"Manifest is empty. Received: path={path}")
    paths = [os.path.normpath(os.path.join(root, e)) for e in entries]
    return paths, rows


def _audio_under(folder):
    found = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            if formats.is_audio_path(name):
                found.append(os.path.join(root, name))
    return found


def resolve_sources(sources):
    """Expands `sources` into audio file paths or TFRecord shard paths.

    Args:
        sources: str, path-like, or a list of them (see the module
            docstring for what each may be).

    Returns:
        `(kind, paths)`: `kind` is `"files"` or `"shards"`.

    Raises:
        FileNotFoundError: a source does not exist or a pattern matches
            nothing.
        ValueError: a folder holds no audio, a manifest is empty, or
            audio files and shards are mixed.

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(folder, "x"))
    >>> for name in ("x/b.flac", "a.wav", "notes.txt"):
    ...     open(os.path.join(folder, name), "wb").close()
    >>> kind, paths = resolve_sources(folder)
    >>> kind, [os.path.relpath(p, folder) for p in paths]
    ('files', ['a.wav', 'x/b.flac'])
    """
    if isinstance(sources, (str, bytes, os.PathLike)):
        sources = [sources]
    sources = [os.fsdecode(s) for s in sources]
    if not sources:
        raise ValueError(f"No sources given. Received: sources={sources}")
    files, shards = [], []
    for source in sources:
        if _is_pattern(source):
            matches = sorted(glob.glob(source, recursive=True))
            if not matches:
                raise FileNotFoundError(
                    f"No file matches the pattern. Received: source={source}"
                )
            (shards if _is_shard(source) else files).extend(matches)
        elif os.path.isdir(source):
            found = _audio_under(source)
            if not found:
                raise ValueError(
                    "No audio files (extensions "
                    f"{formats.AUDIO_EXTENSIONS}) under folder. "
                    f"Received: source={source}"
                )
            files.extend(found)
        elif not os.path.exists(source):
            raise FileNotFoundError(
                f"Source file or folder not found. Received: source={source}"
            )
        elif source.lower().endswith((".txt", ".csv")):
            files.extend(read_manifest(source)[0])
        elif _is_shard(source):
            shards.append(source)
        else:
            files.append(source)
    if files and shards:
        raise ValueError(
            "Mix either audio files or TFRecord shards, not both. "
            f"Received: sources={sources}"
        )
    return ("shards", shards) if shards else ("files", files)
