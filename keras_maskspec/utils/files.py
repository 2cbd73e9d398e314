"""Atomic file writes: a reader (or a resumed run) sees the old file or the
new one, never half of one, even after a kill or a full disk.

The pattern is the same everywhere: write a temporary file in the same
folder, flush and `fsync` it, `os.replace` it over the target, then `fsync`
the folder so the rename itself survives a power cut.
"""

import contextlib
import os
import tempfile


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without dir fsync
        pass
    finally:
        os.close(fd)


def _temp_path(path, suffix=""):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.",
        suffix=f".tmp{suffix}",
        dir=folder,
    )
    os.close(fd)
    # mkstemp makes the file private (0600); the renamed result should get
    # the permissions any other new file would (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically (temporary file, fsync, rename).

    Args:
        path: str or path-like. The file to (re)write.
        data: bytes.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write_bytes(path, b"abc")
    >>> import pathlib
    >>> pathlib.Path(path).read_bytes()
    b'abc'
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()


def atomic_write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically.

    Args:
        path: str or path-like.
        text: str.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> atomic_write_text(path, "{}\\n")
    >>> import pathlib
    >>> pathlib.Path(path).read_text()
    '{}\\n'
    """
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """A temporary path beside `path` that replaces `path` on success.

    For writers that need a file name (TFRecord writers, `model.save`): on
    a clean exit the temporary file is fsynced and renamed over `path`; on
    any error (a kill leaves only a hidden `.tmp` file) `path` is untouched.

    Args:
        path: str or path-like. The final file.
        suffix: str. Extension the temporary name must end with (e.g.
            `".keras"`, which `model.save` checks). Defaults to `""`.

    Examples:
    >>> import os, pathlib, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.txt")
    >>> with atomic_path(path) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> pathlib.Path(path).read_text()
    'done'
    """
    path = os.fspath(path)
    tmp = _temp_path(path, suffix)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_save_model(model, path, **kwargs):
    """`model.save(path)` through a temporary `.keras` file and a rename.

    Args:
        model: `keras.Model`.
        path: str. Target `.keras` path.
        **kwargs: passed to `model.save` (e.g. `include_optimizer`).

    Examples:
    >>> import os, tempfile, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> atomic_save_model(model, path)
    >>> os.path.exists(path)
    True
    """
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp, **kwargs)
