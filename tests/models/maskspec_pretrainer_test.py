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
    # MAE's int(L * (1 - r)): 49.6 -> 49.
    assert high.masking.num_visible(496) == 49


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


# --- Masking strategies and Audio-MAE's local decoder ----------------------


@pytest.mark.parametrize(
    "masking, ratio",
    [
        ("random", 0.75),
        ("time", 0.5),
        ("frequency", 0.5),
        ("time_frequency", (0.5, 0.25)),
        ("block", 0.75),
        ("inverse_block", 0.75),
    ],
)
def test_masking_strategies_reach_the_pretrainer(masking, ratio):
    model = tiny_pretrainer(masking=masking, mask_ratio=ratio)
    assert model.masking.strategy == masking
    assert model.get_config()["masking"] == masking
    out = model.predict(tone_batch(3, 1.0), verbose=0)
    hidden = 48 - model.masking.num_visible(48)
    np.testing.assert_array_equal(out["mask"].sum(1), [hidden] * 3)
    grid = out["mask"].reshape(3, 6, 8)  # (time, mel) patches
    if masking == "time":
        assert set(grid.sum(2).ravel()) == {0.0, 8.0}
    if masking == "frequency":
        assert set(grid.sum(1).ravel()) == {0.0, 6.0}
    if masking == "time_frequency":
        assert hidden == 48 - 3 * 6
        np.testing.assert_array_equal(grid.all(2).sum(1), [3] * 3)
    clone = MaskSpecPretrainer.from_config(model.get_config())
    assert clone.masking.get_config() == model.masking.get_config()


def test_local_decoder_layers_windows_and_shifts():
    model = tiny_pretrainer(
        decoder_attention="local",
        decoder_window=(2, 4),
        decoder_num_layers=3,
    )
    blocks = [model.get_layer(f"decoder_layer_{i}") for i in range(3)]
    assert [type(b).__name__ for b in blocks] == ["WindowTransformerBlock"] * 3
    assert [b.shift_size for b in blocks] == [(0, 0), (1, 2), (0, 0)]
    assert {b.window_size for b in blocks} == {(2, 4)}
    assert {b.frequency_patches for b in blocks} == {8}
    out = model.predict(tone_batch(2, 1.0), verbose=0)
    assert out["reconstruction"].shape == (2, 48, 256)
    # Audio-MAE's own shift, (2, 0), can be set.
    model = tiny_pretrainer(
        decoder_attention="local", decoder_shift=(2, 0), decoder_num_layers=2
    )
    assert model.get_layer("decoder_layer_1").shift_size == (2, 0)


def test_local_decoder_fits_and_saves(tmp_path):
    model = tiny_pretrainer(
        decoder_attention="local", masking="block", decoder_num_layers=2
    )
    run_fit_test(model, tone_batch(4, 0.5))
    assert_config_complete(model)
    run_serialization_test(model)
    restored = run_model_saving_test(model, tone_batch(2, 0.5), tmp_path)
    assert restored.decoder_attention == "local"
    assert restored.masking.strategy == "block"


def test_local_decoder_symbolic_call():
    run_symbolic_test(
        tiny_pretrainer(decoder_attention="local", decoder_num_layers=2),
        (None, 16000),
        {
            "reconstruction": (None, 24, 256),
            "target": (None, 24, 256),
            "mask": (None, 24),
            "spectrogram": (None, 50, 128),
        },
    )


def test_swinv2_decoder_blocks_fit_and_save(tmp_path):
    model = tiny_pretrainer(
        decoder_attention="swinv2",
        decoder_window=(2, 4),
        decoder_shift=(1, 0),
        decoder_num_layers=2,
    )
    blocks = [model.get_layer(f"decoder_layer_{i}") for i in range(2)]
    assert [type(b).__name__ for b in blocks] == [
        "CosineWindowTransformerBlock"
    ] * 2
    assert [b.shift_size for b in blocks] == [(0, 0), (1, 0)]
    run_fit_test(model, tone_batch(4, 0.5))
    assert_config_complete(model)
    restored = run_model_saving_test(model, tone_batch(2, 0.5), tmp_path)
    assert restored.decoder_attention == "swinv2"
    assert type(restored.get_layer("decoder_layer_1")).__name__ == (
        "CosineWindowTransformerBlock"
    )


def test_learned_decoder_position_starts_at_sincos_and_round_trips(tmp_path):
    sincos = tiny_pretrainer(mask_ratio=0.0)
    learned = tiny_pretrainer(
        mask_ratio=0.0,
        decoder_position="learned",
        decoder_position_grid=(6, 8),
    )
    others = [w for w in learned.weights if "decoder_position" not in w.path]
    assert len(others) == len(sincos.weights)
    for a, b in zip(sincos.weights, others):
        b.assign(keras.ops.convert_to_numpy(a))
    table = learned.get_layer("decoder_position_embedding").table
    assert tuple(table.shape) == (6, 8, 32)
    # Same weights, and the learned table starts as the sin-cos code: the
    # two models reconstruct the same (shorter clips crop the table).
    audio = tone_batch(2, 0.5)
    np.testing.assert_allclose(
        learned.predict(audio, verbose=0)["reconstruction"],
        sincos.predict(audio, verbose=0)["reconstruction"],
        atol=1e-5,
    )
    assert_config_complete(learned)
    restored = run_model_saving_test(learned, audio, tmp_path)
    assert restored.decoder_position_grid == (6, 8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decoder_position": "rope"},
        {"decoder_position": "learned"},
        {"decoder_position": "learned", "decoder_position_grid": (6, 4)},
    ],
)
def test_bad_decoder_position(kwargs):
    with pytest.raises(ValueError, match="Received"):
        tiny_pretrainer(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"masking": "spiral"},
        {"decoder_attention": "sparse"},
        {"decoder_attention": "local", "decoder_window": (2, 2, 2)},
        {"decoder_attention": "local", "decoder_shift": (4, 0)},
        {"masking": "random", "mask_ratio": (0.5, 0.5)},
    ],
)
def test_bad_masking_and_decoder_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        tiny_pretrainer(**kwargs)


@pytest.mark.large
def test_audiomae_preset():
    model = MaskSpecPretrainer.from_preset("audiomae_base")
    assert type(model.encoder.frontend).__name__ == "KaldiFbank"
    assert model.encoder.sample_rate == 16000
    assert model.encoder.frontend.target_length == 1024
    assert model.encoder.hidden_dim == 768
    assert model.mask_ratio == 0.8
    assert model.masking.strategy == "random"
    assert model.decoder_num_layers == 16
    shifts = [
        model.get_layer(f"decoder_layer_{i}").shift_size for i in range(16)
    ]
    assert shifts == [(0, 0), (2, 0)] * 8
    assert model.get_layer("decoder_layer_0").window_size == (4, 4)
    # 1024 frames x 128 bins: 64 x 8 patches, 80% hidden.
    assert model.masking.num_visible(512) == 102


def test_reconstruct_views_differ_by_the_true_patch_statistics():
    model = MaskSpecPretrainer.from_preset("maskspec_test", seed=0)
    audio = tone_batch(1, 1.0)
    # The masking seed generator advances per call: same seed, two models.
    twin = MaskSpecPretrainer.from_preset("maskspec_test", seed=0)
    twin.set_weights(model.get_weights())
    spec, mask, shown = model.reconstruct(audio)
    _, _, raw = twin.reconstruct(audio, view="raw")
    # Denormalised = raw * std + mean of the true 16 x 16 patch.
    patches = lambda a: a[0].reshape(-1, 16, 8, 16).transpose(0, 2, 1, 3)  # noqa: E731
    true = patches(spec).reshape(-1, 256).astype("float64")
    ddof = getattr(model.reconstruction_loss, "variance_ddof", 0)
    std = np.sqrt(true.var(-1, keepdims=True, ddof=ddof) + 1e-6)
    mean = true.mean(-1, keepdims=True)
    expected = patches(raw).reshape(-1, 256) * std + mean
    np.testing.assert_allclose(
        patches(shown).reshape(-1, 256), expected, rtol=1e-4, atol=1e-4
    )
    with pytest.raises(ValueError, match="Received: view='both'"):
        model.reconstruct(audio, view="both")


def test_class_and_mask_tokens_start_as_mae_normal_002():
    # The authors (`models_mae.py:176-177`): `normal_(std=.02)` for both.
    model = MaskSpecPretrainer.from_preset("maskspec_base")
    tokens = {
        "class": keras.ops.convert_to_numpy(model.encoder.class_token.token),
        "mask": keras.ops.convert_to_numpy(
            model.get_layer("mask_tokens").mask_token
        ),
    }
    # Encoder width 768, decoder width 512.
    assert tokens["class"].size == 768 and tokens["mask"].size == 512
    for name, token in tokens.items():
        # 512-768 draws: the sample std is within ~15 % of 0.02.
        assert abs(token.std() - 0.02) < 0.003, (name, token.std())
        assert abs(token.mean()) < 0.004, (name, token.mean())
