"""Training: configs, resumable runs, distribution, callbacks, losses."""

from keras_maskspec.training.losses import MaskedBinaryCrossentropy
from keras_maskspec.training.losses import MaskedPatchMSE
from keras_maskspec.training.optimizers import LayerDecayAdamW
from keras_maskspec.training.optimizers import layer_decay_multipliers
from keras_maskspec.training.optimizers import make_adamw
from keras_maskspec.training.optimizers import scaled_learning_rate
from keras_maskspec.training.optimizers import warmup_cosine
from keras_maskspec.training.callbacks import EpochCSVLogger
from keras_maskspec.training.callbacks import NonFiniteLossError
from keras_maskspec.training.callbacks import ReconstructionImages
from keras_maskspec.training.callbacks import RunCheckpoint
from keras_maskspec.training.callbacks import StopOnNonFiniteLoss
from keras_maskspec.training.callbacks import TrainingMonitor
from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.training.config import PretrainConfig
from keras_maskspec.training.config import load_config
from keras_maskspec.training.distribution import get_strategy
from keras_maskspec.training.distribution import num_replicas
from keras_maskspec.training.plotting import plot_reconstruction
from keras_maskspec.training.plotting import reconstruction_figure
from keras_maskspec.training.run import finetune
from keras_maskspec.training.run import load_encoder
from keras_maskspec.training.run import load_run
from keras_maskspec.training.run import pretrain
