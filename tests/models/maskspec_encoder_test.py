import keras
import numpy as np
import pytest

from keras_maskspec.models import ENCODER_PRESETS
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models.presets import get_preset
from tests.test_case import TEST_PRESET
from tests.test_case import assert_config_complete
from tests.test_case import run_dtype_policy_test
from tests.test_case import run_model_saving_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import tone_batch


def make_encoder(**kwargs):
    return MaskSpecEncoder.from_preset(TEST_PRESET, seed=0, **kwargs)


@pytest.mark.parametrize("seconds,patches", [(1.0, 6 * 8), (5.0, 31 * 8)])
def test_any_clip_length(seconds, patches):
    encoder = make_encoder()
    out = encoder.predict(tone_batch(2, seconds), verbose=0)
    assert out.shape == (2, 1 + patches, 32)
    assert encoder.num_patches(int(seconds * 32000)) == patches


def test_ten_seconds_gives_the_papers_grid():
    encoder = make_encoder()
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


def test_constructor_defaults_are_the_base_preset():
    encoder = MaskSpecEncoder(num_layers=1)
    base = get_preset("maskspec_base")
    assert encoder.hidden_dim == base["hidden_dim"]
    assert encoder.num_heads == base["num_heads"]
    assert encoder.intermediate_dim == base["intermediate_dim"]


def test_test_preset_sizes():
    encoder = make_encoder()
    assert (encoder.hidden_dim, encoder.num_layers) == (32, 2)
    assert (encoder.num_heads, encoder.intermediate_dim) == (2, 64)


def test_tiny_preset_parameter_count():
    encoder = MaskSpecEncoder.from_preset("maskspec_tiny")
    # ViT-Ti/16 on one input channel: 12 blocks of ~444k + patch embed.
    assert 5.3e6 < encoder.count_params() < 5.6e6


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="maskspec_huge"):
        MaskSpecEncoder.from_preset("maskspec_huge")


def test_config_and_saving(tmp_path):
    encoder = make_encoder(drop_path_rate=0.1)
    assert_config_complete(encoder)
    run_serialization_test(encoder)
    restored = run_model_saving_test(encoder, tone_batch(2, 0.5), tmp_path)
    assert restored.transformer_layers[1].drop_path == pytest.approx(0.1)


def test_symbolic_call():
    encoder = make_encoder()
    run_symbolic_test(encoder, (None, 16000), (None, 1 + 3 * 8, 32))
    run_symbolic_test(encoder, (None, None), (None, None, 32))


def test_mixed_bfloat16_policy():
    run_dtype_policy_test(
        lambda dtype: make_encoder(dtype=dtype), tone_batch(2, 0.5)
    )
    model = make_encoder(dtype="mixed_bfloat16")
    assert model.layer_dtype == "mixed_bfloat16"
    assert model.frontend.dtype_policy.name == "float32"


def test_every_random_layer_has_its_own_seed():
    encoder = make_encoder(dropout=0.1, drop_path_rate=0.1)
    seeds = [encoder.frontend.seed]
    seeds += [block.seed for block in encoder.transformer_layers]
    assert None not in seeds
    assert len(set(seeds)) == len(seeds)
    # A fixed seed gives the same streams (and so the same outputs).
    again = make_encoder(dropout=0.1, drop_path_rate=0.1)
    assert [again.frontend.seed] + [
        block.seed for block in again.transformer_layers
    ] == seeds
    x = tone_batch(2, 0.5)
    again.set_weights(encoder.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(encoder(x, training=True)),
        keras.ops.convert_to_numpy(again(x, training=True)),
    )


def test_min_num_samples_is_one_patch():
    encoder = make_encoder()
    n = encoder.min_num_samples()
    assert encoder.num_patches(n) == 8
    assert encoder.num_patches(n - 1) == 0
    out = encoder.predict(np.zeros((1, n), "float32"), verbose=0)
    assert out.shape == (1, 9, 32)


def test_drop_path_schedule_is_timms_linspace():
    # timm VisionTransformer: dpr = torch.linspace(0, drop_path_rate, depth).
    encoder = MaskSpecEncoder.from_preset(
        TEST_PRESET, seed=0, num_layers=5, drop_path_rate=0.1
    )
    rates = [block.drop_path for block in encoder.transformer_layers]
    np.testing.assert_allclose(rates, np.linspace(0.0, 0.1, 5), atol=1e-12)
    assert encoder.final_norm.epsilon == 1e-6  # timm's norm_layer eps
