"""Small helpers shared by every layer of the package (no Keras, no TF).

`files` writes atomically; `jsonable` turns numpy and path values into
JSON-ready Python;
`safe_numpy` reads `.npy`/`.npz` files without executing pickled code.
"""

from keras_maskspec.utils.files import atomic_path
from keras_maskspec.utils.files import atomic_save_model
from keras_maskspec.utils.files import atomic_write_bytes
from keras_maskspec.utils.files import atomic_write_text
from keras_maskspec.utils.jsonable import jsonable
from keras_maskspec.utils.safe_numpy import UnsafeDataError
from keras_maskspec.utils.safe_numpy import load_npy
from keras_maskspec.utils.safe_numpy import load_npz

__all__ = [
    "UnsafeDataError",
    "atomic_path",
    "atomic_save_model",
    "atomic_write_bytes",
    "atomic_write_text",
    "jsonable",
    "load_npy",
    "load_npz",
]
