"""MaskSpec models: encoder (backbone), pre-trainer, classifier."""

from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer
from keras_maskspec.models.presets import ENCODER_PRESETS
