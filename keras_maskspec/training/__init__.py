"""Training utilities: optimizers, schedules, losses."""

from keras_maskspec.training.losses import MaskedBinaryCrossentropy
from keras_maskspec.training.losses import MaskedPatchMSE
from keras_maskspec.training.optimizers import LayerDecayAdamW
from keras_maskspec.training.optimizers import layer_decay_multipliers
from keras_maskspec.training.optimizers import make_adamw
from keras_maskspec.training.optimizers import scaled_learning_rate
from keras_maskspec.training.optimizers import warmup_cosine
