"""Shared test helpers (keras-hub `TestCase` style, trimmed).

Small models come from the `"maskspec_test"` preset, e.g.
`MaskSpecEncoder.from_preset("maskspec_test", seed=0)`.
"""

import inspect
import json

import keras
import numpy as np

TEST_PRESET = "maskspec_test"


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_config_complete(obj, ignore=("kwargs",)):
    """Every `__init__` argument of `obj` appears in its `get_config()`."""
    params = inspect.signature(type(obj).__init__).parameters
    names = [p for p in params if p not in ("self", *ignore)]
    config = obj.get_config()
    missing = [n for n in names if n not in config]
    assert not missing, f"get_config() misses {missing}"


def same_config(a, b):
    """Config equality up to JSON normalisation (tuples become lists)."""
    dump = lambda c: json.dumps(c, sort_keys=True, default=str)  # noqa: E731
    return dump(a) == dump(b)


def run_layer_test(layer, *inputs, training=False, expected_shape=None):
    """Config completeness, config round trip, and same output after it."""
    assert_config_complete(layer)
    output = layer(*inputs, training=training)
    if expected_shape is not None:
        first = output[0] if isinstance(output, tuple) else output
        assert tuple(first.shape) == tuple(expected_shape)
    clone = type(layer).from_config(layer.get_config())
    assert same_config(clone.get_config(), layer.get_config())
    clone.build(*[np.shape(x) for x in inputs])
    clone.set_weights(layer.get_weights())
    if not training:
        np.testing.assert_allclose(
            _first(to_numpy_tree(clone(*inputs))),
            _first(to_numpy_tree(output)),
            atol=1e-6,
        )
    return output


def to_numpy_tree(x):
    if isinstance(x, (tuple, list)):
        return [to_numpy(v) for v in x]
    return to_numpy(x)


def _first(x):
    return x[0] if isinstance(x, list) else x


def run_serialization_test(obj):
    """Every `__init__` argument in the config; config and Keras
    serialisation round trips give an equal config."""
    assert_config_complete(obj)
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert same_config(clone.get_config(), config)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(obj)
    )
    assert type(revived) is type(obj)
    assert same_config(revived.get_config(), config)
    return clone


def run_symbolic_test(obj, input_shape, expected_output_shape):
    """Called on a `KerasTensor`, `obj` gives a `KerasTensor` of the
    expected shape (a shape, or a dict of shapes for dict outputs).
    `None` in a shape is an unknown size."""
    output = obj(keras.KerasTensor(input_shape))
    if isinstance(expected_output_shape, dict):
        assert sorted(output) == sorted(expected_output_shape)
        for key, shape in expected_output_shape.items():
            assert isinstance(output[key], keras.KerasTensor)
            assert tuple(output[key].shape) == tuple(shape), key
    else:
        first = output[0] if isinstance(output, (tuple, list)) else output
        assert isinstance(first, keras.KerasTensor)
        assert tuple(first.shape) == tuple(expected_output_shape)
    return output


def run_fit_test(model, x, y=None, batch_size=2):
    """One `fit` step (compiled with the model's defaults if needed)
    gives a finite loss and changes the trainable weights."""
    if not model.compiled:
        model.compile()
    before = [to_numpy(v).copy() for v in model.trainable_variables]
    history = model.fit(
        x, y, batch_size=batch_size, epochs=1, steps_per_epoch=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][-1])
    after = [to_numpy(v) for v in model.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    return history


def run_dtype_policy_test(make, inputs, expected_output_dtype="bfloat16"):
    """Built with `make("mixed_bfloat16")`, the object keeps float32
    variables, computes some layers in bfloat16, and returns
    `expected_output_dtype` (a dtype, or a dict of dtypes by output)."""
    obj = make("mixed_bfloat16")
    output = obj(inputs)
    assert obj.weights, "nothing to check: no variables"
    for variable in obj.weights:
        assert variable.dtype == "float32", variable.path
    layers = [obj, *obj._flatten_layers()]
    assert any(
        layer.dtype_policy.compute_dtype == "bfloat16" for layer in layers
    )
    if isinstance(expected_output_dtype, dict):
        for key, dtype in expected_output_dtype.items():
            assert keras.backend.standardize_dtype(output[key].dtype) == dtype
    else:
        first = output[0] if isinstance(output, (tuple, list)) else output
        dtype = keras.backend.standardize_dtype(first.dtype)
        assert dtype == expected_output_dtype
    return output


def run_model_saving_test(model, inputs, tmp_path, atol=1e-5):
    """`.keras` round trip gives the same outputs and the same config."""
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert same_config(restored.get_config(), model.get_config())
    expected = model.predict(inputs, verbose=0)
    actual = restored.predict(inputs, verbose=0)
    if isinstance(expected, dict):
        for key in expected:
            if key == "mask" or key == "reconstruction":
                continue  # random masking: compared via seeds elsewhere
            np.testing.assert_allclose(actual[key], expected[key], atol=atol)
    else:
        np.testing.assert_allclose(actual, expected, atol=atol)
    return restored


def tone_batch(batch=4, seconds=1.0, sample_rate=32000, seed=0, noise=0.01):
    """Harmonic tones with on/off envelopes plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    clips = []
    for _ in range(batch):
        f0 = rng.uniform(150, 2000)
        period = rng.uniform(0.1, 0.4)
        env = (t % period) < period / 2
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
        clips.append(0.3 * tone * env + noise * rng.normal(size=t.shape))
    return np.asarray(clips, "float32")


def pulse_batch(batch=8, seconds=0.5, sample_rate=32000, seed=0):
    """Gated sines, one pitch per clip: easy to reconstruct, quick to learn."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    gate = (t % 0.25) < 0.1
    clips = [
        np.sin(2 * np.pi * (200 + 150 * i) * t) * gate for i in range(batch)
    ]
    clips = np.asarray(clips) + 0.01 * rng.normal(size=(batch, len(t)))
    return clips.astype("float32")
