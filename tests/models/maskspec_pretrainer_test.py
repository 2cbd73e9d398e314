import keras
import numpy as np
import pytest

from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from tests.test_case import TINY_DECODER
from tests.test_case import TINY_ENCODER
from tests.test_case import assert_config_complete
from tests.test_case import pulse_batch
from tests.test_case import run_model_saving_test
from tests.test_case import tone_batch


def tiny_pretrainer(**kwargs):
    encoder = MaskSpecEncoder(**TINY_ENCODER)
    return MaskSpecPretrainer(encoder, **TINY_DECODER, seed=0, **kwargs)


def test_default_is_the_papers_base_model():
    model = MaskSpecPretrainer()
    assert model.encoder.hidden_dim == 768
    assert model.encoder.num_heads == 12
    assert model.decoder_hidden_dim == 512
    assert model.decoder_num_layers == 8
    assert model.decoder_num_heads == 16
    assert model.mask_ratio == 0.75


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
    encoder = MaskSpecEncoder(**TINY_ENCODER)
    low = MaskSpecPretrainer(encoder, **TINY_DECODER, mask_ratio=0.5)
    high = MaskSpecPretrainer(encoder, **TINY_DECODER, mask_ratio=0.9)
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
    restored = run_model_saving_test(model, tone_batch(2, 0.5), tmp_path)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    # The optimizer state comes back too (resumable).
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 2


def test_overlapping_patches_are_refused():
    encoder = MaskSpecEncoder(**TINY_ENCODER, patch_stride=(10, 16))
    with pytest.raises(ValueError, match="non-overlapping"):
        MaskSpecPretrainer(encoder, **TINY_DECODER)


def test_from_preset():
    model = MaskSpecPretrainer.from_preset(
        "maskspec_tiny", encoder_kwargs={"num_layers": 2}, mask_ratio=0.8
    )
    assert model.encoder.hidden_dim == 192
    assert len(model.encoder.transformer_layers) == 2
    assert model.mask_ratio == 0.8
