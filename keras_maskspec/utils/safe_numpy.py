"""Reading `.npy`/`.npz` files without ever executing code from them.

`np.load(..., allow_pickle=True)` runs whatever a pickle asks for: a data
file can start a shell. Some official files still hold pickled objects
(OpenMIC-2018's `sample_key`, an object array of strings; the MaskSpec
authors' `mean_std_128.npy`, a pickled dict of arrays). `load_npy` and
`load_npz` read plain arrays with `allow_pickle=False` and unpickle object
arrays through a restricted unpickler that admits only numpy arrays and
dtypes, strings, bytes, numbers, lists, tuples and dicts; anything else is
refused with an error naming the file.
"""

import io
import os
import pickle
import zipfile

import numpy as np
from numpy.lib import format as npy_format

# (module, name) pairs a pickle of plain arrays/strings/dicts may reference.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "complex"),
    ("builtins", "bool"),
    ("collections", "OrderedDict"),
}


class UnsafeDataError(ValueError):
    """A data file asked to run code (or build an object we do not admit)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafeDataError(
            f"{self._source} holds a pickled object of type {module}.{name}, "
            "which is refused: only arrays, strings, numbers, lists and "
            "dicts are read from data files (nothing that could run code)."
        )


def _check_plain(value, source):
    """Object arrays may only hold plain values (no class instances)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            for item in value.flat:
                _check_plain(item, source)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(k, source)
            _check_plain(v, source)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _check_plain(v, source)
        return
    if value is None or isinstance(
        value, (str, bytes, bytearray, int, float, complex, bool, np.generic)
    ):
        return
    raise UnsafeDataError(  # pragma: no cover - find_class refuses first
        f"{source} holds a {type(value).__name__}, which is refused."
    )


def _read_array(fp, source):
    version = npy_format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
    else:
        shape, fortran, dtype = npy_format._read_array_header(fp, version)
    if not dtype.hasobject:
        fp.seek(0)
        return npy_format.read_array(fp, allow_pickle=False)
    try:
        value = _RestrictedUnpickler(fp, source).load()
    except UnsafeDataError:
        raise
    except Exception as exc:
        raise ValueError(
            f"{source} holds an object array that could not be read "
            f"({type(exc).__name__}: {exc})."
        ) from None
    _check_plain(value, source)
    return value


def load_npy(path):
    """Reads a `.npy` file; object arrays through a restricted unpickler.

    Args:
        path: str or path-like. The `.npy` file.

    Returns:
        The array; for an object array holding a single pickled dict (as
        `np.save(path, {...})` writes) the dict itself, like
        `np.load(path, allow_pickle=True).item()`.

    Raises:
        UnsafeDataError: the file references anything but arrays, strings,
            numbers, lists and dicts. The message names the file.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "stats.npy")
    >>> np.save(path, {"frame_mean": np.zeros(3), "frame_std": np.ones(3)})
    >>> sorted(load_npy(path))
    ['frame_mean', 'frame_std']
    """
    source = os.fspath(path)
    with open(source, "rb") as fp:
        value = _read_array(fp, source)
    if (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.shape == ()
    ):
        return value.item()
    return value


def load_npz(path):
    """Reads every array of an `.npz` file without executing pickled code.

    Args:
        path: str or path-like. The `.npz` file.

    Returns:
        dict mapping each array's name to the array (object arrays, e.g.
        of strings, are read through the restricted unpickler).

    Raises:
        UnsafeDataError: an entry references anything but plain values.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.npz")
    >>> np.savez(path, X=np.zeros((2, 3)),
    ...          sample_key=np.array(["a", "b"], dtype=object))
    >>> data = load_npz(path)
    >>> data["X"].shape, list(data["sample_key"])
    ((2, 3), ['a', 'b'])
    """
    source = os.fspath(path)
    out = {}
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise ValueError(
            f"{source} is not an .npz archive (bad zip file)."
        ) from None
    with archive:
        for member in archive.namelist():
            name = member[:-4] if member.endswith(".npy") else member
            data = archive.read(member)
            out[name] = _read_array(io.BytesIO(data), f"{source}[{name}]")
    return out
