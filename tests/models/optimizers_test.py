import keras
import numpy as np
import pytest

from keras_maskspec.models.optimizers import make_adamw
from tests.test_case import to_numpy


def torch_adamw(p, grads, lr, wd, b1, b2, eps):
    """`torch.optim.AdamW.step` in numpy (decoupled decay first)."""
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
    return p


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_three_steps_match_torch_adamw(scale):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3)).astype("float64")
    # Gradients near epsilon, where its placement matters.
    grads = [rng.normal(size=(4, 3)) * 1e-7 for _ in range(3)]
    lr, wd = 1e-2, 0.05
    variable = keras.Variable(p0.astype("float32"), name="w")
    opt = make_adamw(
        lr,
        weight_decay=wd,
        beta_2=0.999,
        lr_multipliers={variable.path: scale},
    )
    assert opt.epsilon == 1e-8
    for g in grads:
        opt.apply_gradients([(g.astype("float32"), variable)])
    want = torch_adamw(p0, grads, lr * scale, wd, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(to_numpy(variable), want, rtol=1e-5, atol=1e-7)
    # Keras' own epsilon placement is measurably different here.
    keras_variable = keras.Variable(p0.astype("float32"), name="w")
    keras_opt = make_adamw(
        lr,
        weight_decay=wd,
        beta_2=0.999,
        lr_multipliers={keras_variable.path: scale},
        torch_epsilon=False,
    )
    for g in grads:
        keras_opt.apply_gradients([(g.astype("float32"), keras_variable)])
    assert np.abs(to_numpy(keras_variable) - want).max() > 1e-4 * scale


def test_no_decay_paths_skip_decay_and_round_trip():
    kept = keras.Variable(np.ones((2, 2), "float32"), name="kept")
    decayed = keras.Variable(np.ones((2, 2), "float32"), name="decayed")
    opt = make_adamw(0.1, weight_decay=0.5, no_decay_paths=[kept.path])
    zero = np.zeros((2, 2), "float32")
    opt.apply_gradients([(zero, kept), (zero, decayed)])
    np.testing.assert_allclose(to_numpy(kept), 1.0)
    np.testing.assert_allclose(to_numpy(decayed), 1.0 - 0.1 * 0.5)
    config = opt.get_config()
    assert config["no_decay_paths"] == [kept.path]
    assert config["torch_epsilon"] is True
    clone = type(opt).from_config(config)
    assert clone.no_decay_paths == [kept.path]


def test_variables_with_different_multipliers_update_together():
    # One `apply_gradients` over variables in two multiplier groups (under
    # the torch backend: the grouped `torch._foreach_*` update).
    rng = np.random.default_rng(1)
    p0 = [rng.normal(size=(3, 2)), rng.normal(size=(5,))]
    grads = [[rng.normal(size=p.shape) for p in p0] for _ in range(3)]
    variables = [
        keras.Variable(p.astype("float32"), name=f"w{i}")
        for i, p in enumerate(p0)
    ]
    scales = [1.0, 0.25]
    opt = make_adamw(
        1e-2,
        weight_decay=0.05,
        beta_2=0.999,
        lr_multipliers={v.path: s for v, s in zip(variables, scales)},
    )
    for step in grads:
        opt.apply_gradients(
            [(g.astype("float32"), v) for g, v in zip(step, variables)]
        )
    for i, variable in enumerate(variables):
        want = torch_adamw(
            p0[i],
            [s[i] for s in grads],
            1e-2 * scales[i],
            0.05,
            0.9,
            0.999,
            1e-8,
        )
        np.testing.assert_allclose(
            to_numpy(variable), want, rtol=1e-5, atol=1e-6
        )
