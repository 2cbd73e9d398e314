"""Turning user `sources` (files, folders, manifests, shards) into paths.

Accepted sources, alone or in a list:

- an audio file (any extension libsndfile reads);
- a folder, searched recursively for `formats.AUDIO_EXTENSIONS` (symbolic
  links followed, each real folder and file listed once, so a link loop
  neither hangs nor repeats files; any file name, `#...` included);
- a manifest: `.txt` with one path per line or `.csv` with a `path` (or
  `file`, `filename`) column; relative paths are relative to the
  manifest's folder; a UTF-8 byte order mark is ignored. In a `.txt`,
  blank lines and lines whose first non-blank character is `#` are
  comments and surrounding blanks are stripped: list a file whose name
  starts with `#` as `./#name.wav` (or by its full path). `.csv` rows have
  no comments (`#` is part of the path);
- a glob pattern of audio files (`"clips/*.flac"`); a path that exists is
  taken literally even if it holds `*`, `?` or `[ ]`;
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
    try:
        return _read_manifest(path, root)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"Manifest {path} is not a UTF-8 text/CSV file ({exc}). "
            f"Received: path={path}"
        ) from None


def _clean_row(row):
    # Extra fields land under the key None as a list; short rows give None.
    return {
        (k or "").strip().lower(): (v if isinstance(v, str) else "").strip()
        for k, v in row.items()
    }


def _read_manifest(path, root):
    rows = None
    with open(path, newline="", encoding="utf-8-sig") as f:
        if path.lower().endswith(".csv"):
            reader = csv.DictReader(f)
            fields = [c.strip().lower() for c in reader.fieldnames or []]
            column = next((c for c in PATH_COLUMNS if c in fields), None)
            if column is None:
                raise ValueError(
                    f"CSV manifest {path} has no path column (one of "
                    f"{PATH_COLUMNS}). Received: columns={reader.fieldnames}"
                )
            rows = [_clean_row(r) for r in reader]
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
    """Audio files under `folder`, each real folder walked once.

    Symbolic links are followed; a folder reached twice (a link loop, or
    two links to one folder) is skipped the second time, and a file seen
    under two names is listed once.
    """
    found, seen_dirs, seen_files = [], set(), set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen_dirs:
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs[:] = sorted(
            d
            for d in dirs
            if os.path.realpath(os.path.join(root, d)) not in seen_dirs
        )
        for name in sorted(names):
            path = os.path.join(root, name)
            if not formats.is_audio_path(name):
                continue
            key = os.path.realpath(path)
            if key not in seen_files:
                seen_files.add(key)
                found.append(path)
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
        if _is_pattern(source) and not os.path.exists(source):
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
