"""Load the MaskSpec and Audio-MAE authors' PyTorch checkpoints into Keras.

`convert_checkpoint(path, source="maskspec"|"audiomae")` returns a
`MaskSpecEncoder`, `MaskSpecClassifier` or `MaskSpecPretrainer` whose
outputs match the PyTorch model's on the same waveform (front end
included); `convert_to_run_dir` saves it as a run directory and
`convert_to_preset` as a keras-hub style preset folder. torch is
needed to read the `.pth` file only.
"""

from keras_maskspec.convert.checkpoint import load_state_dict
from keras_maskspec.convert.checkpoint import read_labels
from keras_maskspec.convert.convert import CheckpointMismatchError
from keras_maskspec.convert.convert import convert_checkpoint
from keras_maskspec.convert.run_dir import convert_to_preset
from keras_maskspec.convert.run_dir import convert_to_run_dir

__all__ = [
    "CheckpointMismatchError",
    "convert_checkpoint",
    "convert_to_preset",
    "convert_to_run_dir",
    "load_state_dict",
    "read_labels",
]
