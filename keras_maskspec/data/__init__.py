"""`tf.data` pipelines: decode, resample, crop, augment, sample, shard.

The public API of `keras_maskspec.data`. TF is used here whatever the Keras
backend: the pipelines yield tensors any backend's `fit` accepts.
"""

from keras_maskspec.data.audio import AUDIO_EXTENSIONS
from keras_maskspec.data.audio import CHANNEL_MODES
from keras_maskspec.data.audio import AudioReadError
from keras_maskspec.data.audio import crop_or_pad
from keras_maskspec.data.audio import load_audio
from keras_maskspec.data.audio import mix_channels
from keras_maskspec.data.audio import resample
from keras_maskspec.data.audio import sliding_windows
from keras_maskspec.data.audio import tf_mix_channels
from keras_maskspec.data.audio import tf_resample
from keras_maskspec.data.audio import tfio_available
from keras_maskspec.data.augment import mixup
from keras_maskspec.data.augment import random_gain
from keras_maskspec.data.augment import random_time_roll
from keras_maskspec.data.bad_clips import BadClipLogger
from keras_maskspec.data.bad_clips import BadClipReport
from keras_maskspec.data.normalization import compute_normalization_stats
from keras_maskspec.data.pipelines import classification_dataset
from keras_maskspec.data.pipelines import pretraining_dataset
from keras_maskspec.data.sampling import class_balanced_weights
from keras_maskspec.data.sampling import weighted_index_dataset
from keras_maskspec.data.shards import read_shards
from keras_maskspec.data.shards import write_shards
from keras_maskspec.data.sources import read_manifest
from keras_maskspec.data.sources import resolve_sources
from keras_maskspec.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASS_NAMES
from keras_maskspec.data.synthetic import synthetic_clip
from keras_maskspec.data.synthetic import synthetic_corpus
from keras_maskspec.data.synthetic import write_synthetic_corpus

__all__ = [
    "AUDIO_EXTENSIONS",
    "CHANNEL_MODES",
    "SYNTHETIC_CLASS_NAMES",
    "AudioReadError",
    "BadClipLogger",
    "BadClipReport",
    "class_balanced_weights",
    "classification_dataset",
    "compute_normalization_stats",
    "crop_or_pad",
    "load_audio",
    "mix_channels",
    "mixup",
    "pretraining_dataset",
    "random_gain",
    "random_time_roll",
    "read_manifest",
    "read_shards",
    "resample",
    "resolve_sources",
    "sliding_windows",
    "synthetic_clip",
    "synthetic_corpus",
    "tf_mix_channels",
    "tf_resample",
    "tfio_available",
    "weighted_index_dataset",
    "write_shards",
    "write_synthetic_corpus",
]
