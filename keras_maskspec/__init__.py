"""keras_maskspec: MaskSpec self-supervised audio pre-training for Keras 3.

Examples:
>>> import keras_maskspec
>>> keras_maskspec.MaskSpecPretrainer.from_preset("maskspec_tiny").mask_ratio
0.75
"""

from keras_maskspec import layers
from keras_maskspec import models
from keras_maskspec import training
from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.version import __version__
