import numpy as np
import pytest

from keras_maskspec.models import ENCODER_PRESETS
from keras_maskspec.models import MaskSpecEncoder
from tests.test_case import TINY_ENCODER
from tests.test_case import assert_config_complete
from tests.test_case import run_model_saving_test
from tests.test_case import tone_batch


@pytest.mark.parametrize("seconds,patches", [(1.0, 6 * 8), (5.0, 31 * 8)])
def test_any_clip_length(seconds, patches):
    encoder = MaskSpecEncoder(**TINY_ENCODER)
    out = encoder.predict(tone_batch(2, seconds), verbose=0)
    assert out.shape == (2, 1 + patches, 32)
    assert encoder.num_patches(int(seconds * 32000)) == patches


def test_ten_seconds_gives_the_papers_grid():
    encoder = MaskSpecEncoder(**TINY_ENCODER)
    assert encoder.num_patches(320000) == 62 * 8
    assert encoder.mel_patches() == 8


@pytest.mark.parametrize(
    "preset,width,heads",
    [
        ("maskspec_tiny", 192, 3),
        ("maskspec_small", 384, 6),
        ("maskspec_base", 768, 12),
    ],
)
def test_presets_follow_the_paper(preset, width, heads):
    config = ENCODER_PRESETS[preset]
    assert (config["hidden_dim"], config["num_heads"]) == (width, heads)
    assert config["num_layers"] == 12
    assert config["intermediate_dim"] == 4 * width


def test_tiny_preset_parameter_count():
    encoder = MaskSpecEncoder.from_preset("maskspec_tiny")
    # ViT-Ti/16 on one input channel: 12 blocks of ~444k + patch embed.
    assert 5.3e6 < encoder.count_params() < 5.6e6


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="maskspec_huge"):
        MaskSpecEncoder.from_preset("maskspec_huge")


def test_config_and_saving(tmp_path):
    encoder = MaskSpecEncoder(**TINY_ENCODER, drop_path_rate=0.1)
    assert_config_complete(encoder)
    restored = run_model_saving_test(encoder, tone_batch(2, 0.5), tmp_path)
    assert restored.transformer_layers[1].drop_path == pytest.approx(0.1)


def test_min_num_samples_is_one_patch():
    encoder = MaskSpecEncoder(**TINY_ENCODER)
    n = encoder.min_num_samples()
    assert encoder.num_patches(n) == 8
    assert encoder.num_patches(n - 1) == 0
    out = encoder.predict(np.zeros((1, n), "float32"), verbose=0)
    assert out.shape == (1, 9, 32)
