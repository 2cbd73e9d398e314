import numpy as np
import pytest

from keras_maskspec.training import FinetuneConfig
from keras_maskspec.training import PretrainConfig

TINY_ENCODER = {
    "hidden_dim": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_dim": 32,
}
TINY_DECODER = {
    "decoder_hidden_dim": 32,
    "decoder_num_layers": 1,
    "decoder_num_heads": 2,
    "decoder_intermediate_dim": 32,
}


def tiny_pretrain_config(**overrides):
    """A seconds-long pre-training config (0.5 s clips, hidden 32)."""
    base = dict(
        preset="maskspec_tiny",
        encoder_overrides=TINY_ENCODER,
        **TINY_DECODER,
        batch_size=4,
        epochs=2,
        warmup_epochs=1,
        jit_compile=False,
        image_every=0,
        num_images=1,
        strategy="none",
        verbose=0,
    )
    return PretrainConfig(**{**base, **overrides})


def tiny_finetune_config(**overrides):
    base = dict(
        preset="maskspec_tiny",
        encoder_overrides=TINY_ENCODER,
        num_classes=3,
        multi_label=False,
        batch_size=4,
        epochs=2,
        warmup_epochs=1,
        patchout=4,
        mixup_alpha=0.0,
        class_balanced=False,
        jit_compile=False,
        strategy="none",
        verbose=0,
    )
    return FinetuneConfig(**{**base, **overrides})


@pytest.fixture
def audio():
    """Eight 0.5 s clips at 32 kHz."""
    rng = np.random.default_rng(0)
    return (0.1 * rng.normal(size=(8, 16000))).astype("float32")


@pytest.fixture(scope="session")
def pretrain_config():
    """The `tiny_pretrain_config(**overrides)` factory."""
    return tiny_pretrain_config


@pytest.fixture(scope="session")
def finetune_config():
    """The `tiny_finetune_config(**overrides)` factory."""
    return tiny_finetune_config
