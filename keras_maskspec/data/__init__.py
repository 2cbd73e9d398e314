"""`tf.data` pipelines: decode, resample, crop, augment, sample, shard.

One concept per module: `formats` (extensions, header sniffing), `decode`
(file -> clip), `resampling`, `clips` (channels, crop, windows), `augment`,
`sampling`, `sources`, `shards`, `pipelines` (the two entry points).

The public API of `keras_maskspec.data`. TF is used here whatever the Keras
backend: the pipelines yield tensors any backend's `fit` accepts.
"""

from keras_maskspec.data.audio_windows import AudioFileWindows
from keras_maskspec.data.augment import extra_augment
from keras_maskspec.data.augment import random_gain
from keras_maskspec.data.augment import random_time_roll
from keras_maskspec.data.augment import waveform_mixup
from keras_maskspec.data.bad_clips import AudioReadError
from keras_maskspec.data.bad_clips import BadClipLogger
from keras_maskspec.data.bad_clips import BadClipReport
from keras_maskspec.data.clips import CHANNEL_MODES
from keras_maskspec.data.clips import crop_or_pad
from keras_maskspec.data.clips import mix_channels
from keras_maskspec.data.clips import sliding_windows
from keras_maskspec.data.clips import tf_mix_channels
from keras_maskspec.data.decode import load_audio
from keras_maskspec.data.decode import tfio_available
from keras_maskspec.data.formats import AUDIO_EXTENSIONS
from keras_maskspec.data.normalization import cached_frame_statistics
from keras_maskspec.data.normalization import check_frame_statistics
from keras_maskspec.data.normalization import compute_frame_statistics
from keras_maskspec.data.normalization import compute_normalization_stats
from keras_maskspec.data.pipelines import classification_dataset
from keras_maskspec.data.pipelines import pretraining_dataset
from keras_maskspec.data.resampling import resample
from keras_maskspec.data.resampling import tf_resample
from keras_maskspec.data.sampling import class_balanced_weights
from keras_maskspec.data.sampling import draw_without_replacement
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
    "AudioFileWindows",
    "CHANNEL_MODES",
    "SYNTHETIC_CLASS_NAMES",
    "AudioReadError",
    "BadClipLogger",
    "BadClipReport",
    "class_balanced_weights",
    "classification_dataset",
    "cached_frame_statistics",
    "compute_frame_statistics",
    "compute_normalization_stats",
    "check_frame_statistics",
    "crop_or_pad",
    "draw_without_replacement",
    "extra_augment",
    "load_audio",
    "mix_channels",
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
    "waveform_mixup",
    "weighted_index_dataset",
    "write_shards",
    "write_synthetic_corpus",
]
