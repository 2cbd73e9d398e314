"""Small helpers shared by every layer of the package (no Keras, no TF).

`files` writes atomically; `jsonable` turns numpy and path values into
JSON-ready Python;
`safe_numpy` reads `.npy`/`.npz` files without executing pickled code;
`frame_stats` reads and writes per-mel-bin statistics files with it;
`cpus` counts the cores this process may use.
"""

from keras_maskspec.utils.cpus import usable_cpu_count
from keras_maskspec.utils.files import atomic_path
from keras_maskspec.utils.files import atomic_save_model
from keras_maskspec.utils.files import atomic_write_bytes
from keras_maskspec.utils.files import atomic_write_text
from keras_maskspec.utils.frame_stats import FRAME_STATS_FILE
from keras_maskspec.utils.frame_stats import load_frame_statistics
from keras_maskspec.utils.frame_stats import save_frame_statistics
from keras_maskspec.utils.jsonable import jsonable
from keras_maskspec.utils.safe_numpy import UnsafeDataError
from keras_maskspec.utils.safe_numpy import load_npy
from keras_maskspec.utils.safe_numpy import load_npz

__all__ = [
    "FRAME_STATS_FILE",
    "UnsafeDataError",
    "atomic_path",
    "atomic_save_model",
    "atomic_write_bytes",
    "atomic_write_text",
    "jsonable",
    "load_frame_statistics",
    "load_npy",
    "load_npz",
    "save_frame_statistics",
]
