"""Turning numpy values, tuples and paths into JSON-ready Python."""

import os

import numpy as np


def jsonable(value):
    """`value` with numpy scalars/arrays, tuples and paths made JSON-ready.

    Dicts and sequences are converted recursively; anything else that JSON
    cannot hold is replaced by its type name (a config records what it can,
    never fails on what it cannot).

    Args:
        value: any Python or numpy value.

    Returns:
        A value `json.dumps` accepts.

    Examples:
    >>> import numpy as np
    >>> jsonable({"a": np.float32(0.5), "b": (1, np.arange(2))})
    {'a': 0.5, 'b': [1, [0, 1]]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return repr(type(value).__name__)
