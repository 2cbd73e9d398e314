"""MaskSpec models: encoder (backbone), pre-trainer, classifier, presets."""

from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.presets import ENCODER_PRESETS
from keras_maskspec.models.presets import PRESETS
from keras_maskspec.models.presets import get_preset
