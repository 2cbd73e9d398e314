import keras
import numpy as np
import pytest

from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.models.optimizers import LayerDecayAdamW
from keras_maskspec.models.presets import FINE_TUNING
from tests.test_case import TEST_PRESET
from tests.test_case import assert_config_complete
from tests.test_case import run_dtype_policy_test
from tests.test_case import run_fit_test
from tests.test_case import run_model_saving_test
from tests.test_case import run_serialization_test
from tests.test_case import run_symbolic_test
from tests.test_case import to_numpy
from tests.test_case import tone_batch


def make_encoder(**kwargs):
    return MaskSpecEncoder.from_preset(TEST_PRESET, seed=0, **kwargs)


def labelled(n=16, seconds=0.5, seed=0):
    """Two classes: low tones vs high tones."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 32000)) / 32000
    labels = np.arange(n) % 2
    f0 = np.where(labels == 0, 300.0, 4000.0) * rng.uniform(0.9, 1.1, n)
    x = np.sin(2 * np.pi * f0[:, None] * t) + 0.05 * rng.normal(
        size=(n, len(t))
    )
    return x.astype("float32"), labels


def test_classifier_trains_from_the_pretrained_encoder():
    pretrainer = MaskSpecPretrainer.from_preset(
        TEST_PRESET, encoder_kwargs={"seed": 0}, seed=0
    )
    pretrainer.compile(learning_rate=1e-3)
    pretrainer.fit(tone_batch(8, 0.5), batch_size=4, epochs=2, verbose=0)
    model = MaskSpecClassifier(
        pretrainer.encoder,
        num_classes=2,
        time_mask_param=8,
        freq_mask_param=8,
        patchout=4,
        seed=0,
    )
    # Weights are shared, not copied.
    assert model.encoder is pretrainer.encoder
    x, y = labelled()
    model.compile(learning_rate=3e-3, layer_decay=None)
    history = model.fit(x, y, batch_size=8, epochs=12, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    accuracy = (model.predict(x, verbose=0).argmax(-1) == y).mean()
    assert accuracy >= 0.9


def test_multi_label_ignores_unlabelled_entries():
    model = MaskSpecClassifier(make_encoder(), num_classes=3, multi_label=True)
    model.compile()
    x = tone_batch(4, 0.5)
    y = np.array([[1, -1, 0], [0, 1, -1], [-1, -1, 1], [1, 0, 0]], "float32")
    loss_a = model.evaluate(x, y, verbose=0)[0]
    # Changing the prediction target of unlabelled entries changes nothing.
    y2 = np.where(y < 0, -1.0, y)
    assert model.evaluate(x, y2, verbose=0)[0] == pytest.approx(loss_a)


def test_layer_decay_gives_lower_rates_to_lower_blocks():
    model = MaskSpecClassifier(make_encoder(), num_classes=2)
    model.compile(layer_decay=0.5)
    assert isinstance(model.optimizer, LayerDecayAdamW)
    mult = model.optimizer.lr_multipliers
    enc = model.encoder
    assert mult[enc.transformer_layers[0].qkv.kernel.path] == 0.25
    assert mult[enc.transformer_layers[1].qkv.kernel.path] == 0.5
    assert mult[enc.patch_embedding.weights[0].path] == 0.125
    head = model.head.kernel
    assert mult[head.path] == 1.0


def test_layer_decay_changes_the_update_size():
    def step_sizes(decay):
        keras.utils.set_random_seed(1)
        model = MaskSpecClassifier(
            make_encoder(),
            num_classes=2,
            time_mask_param=0,
            freq_mask_param=0,
        )
        model.compile(learning_rate=1e-2, layer_decay=decay, weight_decay=0)
        kernel = model.encoder.transformer_layers[0].fc1.kernel
        before = to_numpy(kernel).copy()
        x, y = labelled(4)
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        return np.abs(to_numpy(kernel) - before).mean()

    # Adam's first step moves every weight by ~lr: the multiplier shows.
    ratio = step_sizes(0.5) / step_sizes(None)
    assert ratio == pytest.approx(0.25, rel=0.1)


def test_patchout_and_spec_augment_only_while_training():
    model = MaskSpecClassifier(
        make_encoder(), num_classes=2, patchout=10, seed=0
    )
    x = tone_batch(2, 0.5)
    a = to_numpy(model(x, training=False))
    b = to_numpy(model(x, training=False))
    np.testing.assert_allclose(a, b)
    assert not np.allclose(to_numpy(model(x, training=True)), a)


def test_config_and_saving(tmp_path):
    model = MaskSpecClassifier(make_encoder(), num_classes=3, patchout=5)
    model.compile(label_smoothing=0.1)
    x = tone_batch(4, 0.5)
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    assert_config_complete(model)
    run_serialization_test(model)
    restored = run_model_saving_test(model, x, tmp_path)
    assert restored.encoder.hidden_dim == 32


def test_bad_arguments():
    encoder = make_encoder()
    with pytest.raises(ValueError, match="num_classes"):
        MaskSpecClassifier(encoder, num_classes=0)
    with pytest.raises(ValueError, match="encoder"):
        MaskSpecClassifier("maskspec_tiny", num_classes=2)


def test_from_preset_and_defaults():
    model = MaskSpecClassifier.from_preset(TEST_PRESET, num_classes=4)
    assert model.encoder.hidden_dim == 32
    assert model.freq_mask_param == FINE_TUNING["freq_mask_param"]
    assert model.time_mask_param == FINE_TUNING["time_mask_param"]


def test_pool_and_head_give_the_models_output():
    model = MaskSpecClassifier(make_encoder(), num_classes=3)
    x = tone_batch(2, 0.5)
    encoder = model.encoder
    tokens = encoder.encode(encoder.embed(encoder.frontend(x)))
    pooled = model.pool(tokens[:, 1:])
    assert tuple(pooled.shape) == (2, 32)
    np.testing.assert_allclose(
        to_numpy(model.head(pooled)), to_numpy(model(x)), atol=1e-5
    )


def test_encoder_is_shared_but_not_tracked_twice():
    model = MaskSpecClassifier(make_encoder(), num_classes=2)
    paths = {v.path for v in model.trainable_variables}
    assert model.encoder.final_norm.gamma.path not in paths
    assert model.encoder.transformer_layers[0].qkv.kernel.path in paths


def test_symbolic_call():
    model = MaskSpecClassifier(make_encoder(), num_classes=3)
    run_symbolic_test(model, (None, 16000), (None, 3))
    run_symbolic_test(model, (None, None), (None, 3))


def test_fit_step():
    model = MaskSpecClassifier(make_encoder(), num_classes=3, patchout=4)
    run_fit_test(model, tone_batch(4, 0.5), np.array([0, 1, 2, 0]))


def test_mixed_bfloat16_policy():
    run_dtype_policy_test(
        lambda dtype: MaskSpecClassifier(
            make_encoder(dtype=dtype), num_classes=3
        ),
        tone_batch(2, 0.5),
        "float32",
    )


def test_augmentation_seed_streams_differ_from_the_blocks():
    # Patchout used to take `seed + 1`: the seed of encoder block 1.
    model = MaskSpecClassifier(
        make_encoder(dropout=0.1), num_classes=2, patchout=4, seed=0
    )
    seeds = [
        model.get_layer("spec_augment").seed,
        model.get_layer("patchout").seed,
        model.encoder.frontend.seed,
        *[block.seed for block in model.encoder.transformer_layers],
    ]
    assert len(set(seeds)) == len(seeds)
    x = tone_batch(2, 0.5)
    again = MaskSpecClassifier(
        make_encoder(dropout=0.1), num_classes=2, patchout=4, seed=0
    )
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(
        to_numpy(model(x, training=True)), to_numpy(again(x, training=True))
    )


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_spectrogram_mixup_loss_equals_the_numpy_mixed_loss():
    from keras_maskspec.layers import LogMelSpectrogram
    from keras_maskspec.layers import SpectrogramMixup

    frontend = LogMelSpectrogram(fmin_jitter=0, fmax_jitter=0)
    model = MaskSpecClassifier(
        make_encoder(frontend=frontend),
        num_classes=3,
        mixup_alpha=0.3,
        freq_mask_param=0,
        time_mask_param=0,
        seed=0,
    )
    model.compile(learning_rate=0.0, weight_decay=0.0, layer_decay=None)
    # A head far from its 2e-5 init, so that logits differ per clip.
    head = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    model.head.kernel.assign(head)
    x = tone_batch(6, 0.5)
    y = np.array([0, 1, 2, 0, 1, 2])
    start = to_numpy(model.spectrogram_mixup.seed_generator.state).copy()
    loss = model.fit(
        x, y, batch_size=6, epochs=1, shuffle=False, verbose=0
    ).history["loss"][0]
    # The oracle: the batch's (lam, perm), the spectrogram mixed in numpy,
    # the rest of the network, soft cross-entropy on labels mixed alike.
    replay = SpectrogramMixup(0.3)
    replay.seed_generator.state.assign(start)
    lam, perm = (to_numpy(v) for v in replay.draw(6, replay.seed_generator))
    assert len(set(perm.tolist())) == 6 and (lam >= 0.5).all()
    spec = to_numpy(model.encoder.frontend(x))
    mixed = lam[:, None, None] * spec + (1 - lam[:, None, None]) * spec[perm]
    enc = model.encoder
    tokens = enc.encode(enc.embed(mixed.astype("float32")))
    logits = to_numpy(model.head(model.pool(tokens[:, 1:])))
    onehot = np.eye(3)[y]
    targets = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[perm]
    expected = -(targets * _log_softmax(logits)).sum(-1).mean()
    assert loss == pytest.approx(expected, rel=1e-4)
    unmixed = -(onehot * _log_softmax(logits)).sum(-1).mean()
    assert abs(expected - unmixed) > 1e-3  # the mixing shows
    # Evaluation neither mixes inputs nor labels.
    plain = to_numpy(model(x, training=False))
    want = -(onehot * _log_softmax(plain)).sum(-1).mean()
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(want, rel=1e-4)


def test_spec_augment_follows_the_authors_defaults():
    model = MaskSpecClassifier(make_encoder(), num_classes=2, seed=0)
    layer = model.spec_augment
    assert layer.grid_frames == 1000  # 10 s at 32 kHz, hop 320
    assert layer.masks == "batch"
    # A log-mel 0 after (x + 4.5) / 5.
    assert layer.mask_value == pytest.approx(0.9)
    assert model.get_layer("patchout").shared


def test_statistics_are_stored_in_the_model_and_survive_saving(tmp_path):
    rng = np.random.default_rng(0)
    fm = rng.uniform(-1.0, 1.0, 128)
    fs = rng.uniform(0.3, 1.0, 128)
    model = MaskSpecClassifier(make_encoder(), num_classes=2, patchout=2)
    x = tone_batch(2, 0.5)
    before = to_numpy(model.predict(x, verbose=0))
    spec = to_numpy(model.encoder.frontend(x))
    model.set_statistics(fm, fs)
    np.testing.assert_allclose(
        to_numpy(model.encoder.frontend(x)),
        ((spec * 5 - 4.5 + 4.5) / 5 - fm) / fs,
        rtol=1e-4,
        atol=1e-4,
    )
    after = to_numpy(model.predict(x, verbose=0))
    assert not np.allclose(before, after)  # predict traced the new values
    np.testing.assert_allclose(
        model.spec_augment.mask_value, (0.9 - fm) / fs, rtol=1e-5, atol=1e-6
    )
    restored = run_model_saving_test(model, x, tmp_path)
    np.testing.assert_allclose(
        restored.encoder.frontend.frame_statistics()[0], fm, atol=1e-6
    )
    np.testing.assert_allclose(
        restored.spec_augment.mask_value, model.spec_augment.mask_value
    )


def test_weight_decay_sets_follow_timm():
    from keras_maskspec.models.optimizers import no_decay_paths

    model = MaskSpecClassifier(make_encoder(), num_classes=2)
    model.compile()
    skip = set(model.optimizer.no_decay_paths)
    enc = model.encoder
    assert enc.class_token.token.path in skip
    assert enc.transformer_layers[0].qkv.bias.path in skip
    assert model.fc_norm.gamma.path in skip
    assert enc.transformer_layers[0].qkv.kernel.path not in skip
    assert model.head.kernel.path not in skip
    # Pre-training (timm's add_weight_decay, empty skip list): tokens decay.
    pretrainer = MaskSpecPretrainer.from_preset(
        TEST_PRESET, encoder_kwargs={"seed": 0}
    )
    pretrainer.compile()
    skip = set(pretrainer.optimizer.no_decay_paths)
    assert pretrainer.encoder.class_token.token.path not in skip
    mask_token = pretrainer.get_layer("mask_tokens").mask_token
    assert mask_token.path not in skip
    expected = {
        v.path
        for v in pretrainer.trainable_variables
        if v.ndim == 1 or v.path.endswith("bias")
    }
    assert skip == expected == set(no_decay_paths(pretrainer))


def test_learned_position_table_starts_from_the_sincos_codes(tmp_path):
    encoder = make_encoder()
    fixed = MaskSpecClassifier(encoder, num_classes=2)
    model = MaskSpecClassifier(
        encoder,
        num_classes=2,
        position_embedding="learned",
        position_time_patches=6,
        freq_mask_param=0,
        time_mask_param=0,
    )
    model.head.kernel.assign(to_numpy(fixed.head.kernel) + 1.0)
    fixed.head.kernel.assign(to_numpy(model.head.kernel))
    x = tone_batch(4, 0.5)  # 3 of the table's 6 time patches
    np.testing.assert_allclose(
        to_numpy(model(x)), to_numpy(fixed(x)), rtol=1e-5, atol=1e-6
    )
    model.compile(learning_rate=1e-2, layer_decay=0.5)
    table = model.position_table.table
    depth = len(model.encoder.transformer_layers)
    assert model.optimizer.lr_multipliers[table.path] == 0.5 ** (depth + 1)
    assert table.path in model.optimizer.no_decay_paths
    before = to_numpy(table).copy()
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    assert not np.allclose(to_numpy(table), before)
    assert_config_complete(model)
    restored = run_model_saving_test(model, x, tmp_path)
    assert restored.position_time_patches == 6
    with pytest.raises(ValueError, match="position_time_patches"):
        MaskSpecClassifier(encoder, 2, position_embedding="learned")
