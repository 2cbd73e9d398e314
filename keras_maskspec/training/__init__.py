"""Training: configs, resumable runs and run folders, distribution,
callbacks, exact metrics.

The loss and the optimizer belong to the method and live in
`keras_maskspec.models` (`losses`, `optimizers`); they are re-exported here
for convenience.
"""

from keras_maskspec.models.losses import MaskedAUC
from keras_maskspec.models.losses import MaskedBinaryCrossentropy
from keras_maskspec.models.losses import MaskedPatchMSE
from keras_maskspec.models.losses import SoftmaxCrossentropy
from keras_maskspec.models.losses import label_accuracy
from keras_maskspec.models.optimizers import LayerDecayAdamW
from keras_maskspec.models.optimizers import layer_decay_multipliers
from keras_maskspec.models.optimizers import make_adamw
from keras_maskspec.models.optimizers import scaled_learning_rate
from keras_maskspec.models.optimizers import scheduled_adamw
from keras_maskspec.models.optimizers import warmup_cosine
from keras_maskspec.training.callbacks import AugmentedBatchImage
from keras_maskspec.training.callbacks import EpochCSVLogger
from keras_maskspec.training.callbacks import EpochTestScores
from keras_maskspec.training.callbacks import NonFiniteLossError
from keras_maskspec.training.callbacks import ReconstructionImages
from keras_maskspec.training.callbacks import RunCheckpoint
from keras_maskspec.training.callbacks import StepLossLogger
from keras_maskspec.training.callbacks import StopOnNonFiniteLoss
from keras_maskspec.training.callbacks import TrainingMonitor
from keras_maskspec.training.callbacks import ValidationMeanAveragePrecision
from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.training.config import PretrainConfig
from keras_maskspec.training.config import RunConfig
from keras_maskspec.training.config import load_config
from keras_maskspec.training.distribution import get_strategy
from keras_maskspec.training.distribution import num_replicas
from keras_maskspec.training.metrics import masked_mean_average_precision
from keras_maskspec.training.plotting import augmented_batch_figure
from keras_maskspec.training.plotting import plot_augmented_batch
from keras_maskspec.training.plotting import plot_loss
from keras_maskspec.training.plotting import plot_reconstruction
from keras_maskspec.training.plotting import plot_reconstructions
from keras_maskspec.training.plotting import reconstruction_figure
from keras_maskspec.training.run import finetune
from keras_maskspec.training.run import pretrain
from keras_maskspec.training.run_dir import load_encoder
from keras_maskspec.training.run_dir import load_model
from keras_maskspec.training.run_dir import load_run
