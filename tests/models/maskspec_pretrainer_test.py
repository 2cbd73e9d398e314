import keras
import numpy as np
import pytest

from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.models.presets import PRETRAINING
from keras_maskspec.models.presets import get_decoder_preset
from tests.test_case import TEST_PRESET
from tests.test_case import assert_config_complete
from tests.test_case import pulse_batch
from tests.test_case import run_dtype_policy_test
from tests.test_case import run_fit_test
from tests.test_case import run_model_saving_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import tone_batch

TEST_DECODER = get_decoder_preset(TEST_PRESET)


def make_encoder(**kwargs):
    return MaskSpecEncoder.from_preset(TEST_PRESET, seed=0, **kwargs)


def tiny_pretrainer(encoder_kwargs=None, **kwargs):
    encoder_kwargs = {"seed": 0, **(encoder_kwargs or {})}
    return MaskSpecPretrainer.from_preset(
        TEST_PRESET, encoder_kwargs=encoder_kwargs, seed=0, **kwargs
    )


def test_default_is_the_papers_base_model():
    model = MaskSpecPretrainer()
    assert model.encoder.hidden_dim == 768
    assert model.encoder.num_heads == 12
    assert model.decoder_hidden_dim == 512
    assert model.decoder_num_layers == 8
    assert model.decoder_num_heads == 16
    assert model.mask_ratio == 0.75 == PRETRAINING["mask_ratio"]


def test_encoder_only_sees_visible_patches():
    model = tiny_pretrainer()
    seen = []
    for block in model.encoder.transformer_layers:
        call = block.call

        def recording_call(inputs, *args, _call=call, **kwargs):
            seen.append(tuple(inputs.shape)[1:])
            return _call(inputs, *args, **kwargs)

        block.call = recording_call
    model(tone_batch(2, 1.0), training=True)
    # Every encoder block sees [CLS] + 25% of the 6 x 8 patches, no more.
    assert seen == [(1 + 12, 32)] * 2
    out = model.predict(tone_batch(2, 1.0), verbose=0)
    assert out["reconstruction"].shape == (2, 48, 256)
    np.testing.assert_array_equal(out["mask"].sum(1), [36, 36])


def test_encoder_cost_does_not_grow_with_hidden_patches():
    encoder = make_encoder()
    low = MaskSpecPretrainer(encoder, **TEST_DECODER, mask_ratio=0.5)
    high = MaskSpecPretrainer(encoder, **TEST_DECODER, mask_ratio=0.9)
    assert low.masking.num_visible(496) == 248
    assert high.masking.num_visible(496) == 50


def test_loss_falls_clearly_below_predicting_zeros():
    model = tiny_pretrainer()
    model.compile(learning_rate=5e-3)
    x = pulse_batch(8, 0.5)
    first = model.evaluate(x, batch_size=8, verbose=0)
    assert 0.9 < first < 1.6  # about 1: predicting zeros scores exactly 1
    history = model.fit(x, batch_size=8, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.8
    assert model.evaluate(x, batch_size=8, verbose=0) < 0.8


def test_unnormalised_targets_switch():
    model = tiny_pretrainer(normalize_targets=False)
    model.compile()
    assert model.reconstruction_loss.normalize_targets is False


def test_reconstruct_shapes_and_mask_fraction():
    model = tiny_pretrainer()
    spec, mask, recon = model.reconstruct(tone_batch(2, 1.0))
    assert spec.shape == mask.shape == recon.shape == (2, 96, 128)
    assert mask.mean() == pytest.approx(0.75)


def test_config_and_saving(tmp_path):
    model = tiny_pretrainer()
    model.compile()
    model.fit(tone_batch(4, 0.5), batch_size=2, epochs=1, verbose=0)
    assert_config_complete(model)
    run_serialization_test(model)
    restored = run_model_saving_test(model, tone_batch(2, 0.5), tmp_path)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    # The optimizer state comes back too (resumable).
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 2


def test_overlapping_patches_are_refused():
    encoder = make_encoder(patch_stride=(10, 16))
    with pytest.raises(ValueError, match="non-overlapping"):
        MaskSpecPretrainer(encoder, **TEST_DECODER)


def test_from_preset():
    model = MaskSpecPretrainer.from_preset(
        "maskspec_tiny", encoder_kwargs={"num_layers": 2}, mask_ratio=0.8
    )
    assert model.encoder.hidden_dim == 192
    assert len(model.encoder.transformer_layers) == 2
    assert model.mask_ratio == 0.8


def test_from_test_preset():
    model = tiny_pretrainer()
    assert model.encoder.hidden_dim == 32
    assert model.decoder_hidden_dim == TEST_DECODER["decoder_hidden_dim"]
    assert model.decoder_num_layers == 1


def test_symbolic_call():
    run_symbolic_test(
        tiny_pretrainer(),
        (None, 16000),
        {
            "reconstruction": (None, 24, 256),
            "target": (None, 24, 256),
            "mask": (None, 24),
            "spectrogram": (None, 50, 128),
        },
    )


def test_fit_step():
    run_fit_test(tiny_pretrainer(), tone_batch(4, 0.5))


def test_mixed_bfloat16_policy():
    run_dtype_policy_test(
        lambda dtype: tiny_pretrainer(encoder_kwargs={"dtype": dtype}),
        tone_batch(2, 0.5),
        {"reconstruction": "float32", "spectrogram": "float32"},
    )


def test_masking_has_its_own_seed_stream():
    model = tiny_pretrainer()
    seeds = [model.masking.seed, model.encoder.frontend.seed]
    seeds += [block.seed for block in model.encoder.transformer_layers]
    assert len(set(seeds)) == len(seeds)
    # Same seed, same masks.
    x = tone_batch(2, 0.5)
    a = keras.ops.convert_to_numpy(tiny_pretrainer()(x)["mask"])
    b = keras.ops.convert_to_numpy(tiny_pretrainer()(x)["mask"])
    np.testing.assert_array_equal(a, b)
