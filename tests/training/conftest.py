import numpy as np
import pytest

from keras_maskspec.training import FinetuneConfig
from keras_maskspec.training import PretrainConfig
from keras_maskspec.training import pretrain


def tiny_pretrain_config(**overrides):
    """A seconds-long pre-training config (0.5 s clips, "maskspec_test")."""
    base = dict(
        preset="maskspec_test",
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
        preset="maskspec_test",
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


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory):
    """One short pre-training run with pictures, EMA and validation.

    Returns `(run_dir, model, audio)`; shared by run_test and run_dir_test
    (tests may resume the finished run, never change it).
    """
    run_dir = str(tmp_path_factory.mktemp("pretrain"))
    audio = (0.1 * np.random.default_rng(0).normal(size=(8, 16000))).astype(
        "float32"
    )
    config = tiny_pretrain_config(image_every=1, ema=True, ema_momentum=0.5)
    # With its optimizer state, which the EMA tests look at.
    model = pretrain(
        config, audio, run_dir, validation_data=audio[:4], save_optimizer=True
    )
    return run_dir, model, audio
