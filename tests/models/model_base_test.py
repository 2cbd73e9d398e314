import keras
import numpy as np
import pytest

from keras_maskspec.models.model_base import SEED_STREAMS
from keras_maskspec.models.model_base import MaskSpecModel
from keras_maskspec.models.model_base import derive_seed


class EarlyAssignment(MaskSpecModel):
    """Assigns a layer before the functional `__init__` (fails on a plain
    `keras.Model` under PyTorch)."""

    def __init__(self, **kwargs):
        self.dense = keras.layers.Dense(2, name="dense")
        inputs = keras.Input((3,))
        super().__init__(inputs, self.dense(inputs), **kwargs)


def test_layer_assigned_before_init_works_on_every_backend():
    model = EarlyAssignment()
    out = model.predict(np.ones((4, 3), "float32"), verbose=0)
    assert out.shape == (4, 2)
    assert len(model.trainable_variables) == 2


def test_derived_seeds_are_distinct_and_repeatable():
    for seed in (0, 1, 2**31 - 1):
        seeds = [
            derive_seed(seed, stream, index)
            for stream in SEED_STREAMS
            for index in range(64)
        ]
        assert len(set(seeds)) == len(seeds)
        assert all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(7, "masking") == derive_seed(7, "masking")
    assert derive_seed(None, "masking") is None


def test_derive_seed_bad_arguments():
    with pytest.raises(ValueError, match="Received: stream="):
        derive_seed(0, "decoder")
    with pytest.raises(ValueError, match="Received: index="):
        derive_seed(0, "encoder_layer", 2**16)
