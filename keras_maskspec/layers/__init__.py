"""Keras layers of keras_maskspec (keras.ops only: every backend)."""

from keras_maskspec.layers.class_token import ClassToken
from keras_maskspec.layers.cosine_window_transformer_block import (
    CosineWindowTransformerBlock,
)
from keras_maskspec.layers.drop_path import DropPath
from keras_maskspec.layers.kaldi_fbank import KaldiFbank
from keras_maskspec.layers.learned_position_embedding import (
    LearnedPositionEmbedding,
)
from keras_maskspec.layers.log_mel_spectrogram import LogMelSpectrogram
from keras_maskspec.layers.log_mel_spectrogram import mel_filterbank
from keras_maskspec.layers.mask_token_restore import MaskTokenRestore
from keras_maskspec.layers.patch_embedding import PatchEmbedding
from keras_maskspec.layers.patching import Patchify
from keras_maskspec.layers.patching import patchify
from keras_maskspec.layers.patching import sincos_position_embedding
from keras_maskspec.layers.patching import unpatchify
from keras_maskspec.layers.random_patch_masking import RandomPatchMasking
from keras_maskspec.layers.sin_cos_position_embedding import (
    SinCosPositionEmbedding,
)
from keras_maskspec.layers.spec_augment import SpecAugment
from keras_maskspec.layers.spectrogram_mixup import SpectrogramMixup
from keras_maskspec.layers.transformer_block import TransformerBlock
from keras_maskspec.layers.window_transformer_block import (
    WindowTransformerBlock,
)
