"""Local preset folders (keras-hub layout): save_to_preset / from_preset."""

import json
import os

import numpy as np
import pytest

from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from tests.test_case import tone_batch


def _same_outputs(a, b, x):
    out_a, out_b = a.predict(x, verbose=0), b.predict(x, verbose=0)
    if isinstance(out_a, dict):
        assert sorted(out_a) == sorted(out_b)
        for key in out_a:
            np.testing.assert_array_equal(out_a[key], out_b[key])
    else:
        np.testing.assert_array_equal(out_a, out_b)


@pytest.mark.parametrize(
    "build",
    [
        lambda: MaskSpecEncoder.from_preset("maskspec_test", seed=3),
        lambda: MaskSpecPretrainer.from_preset("maskspec_test", seed=3),
        lambda: MaskSpecClassifier.from_preset(
            "maskspec_test", num_classes=4, seed=3
        ),
    ],
    ids=["encoder", "pretrainer", "classifier"],
)
def test_save_to_preset_then_from_preset_predicts_the_same(tmp_path, build):
    model = build()
    # Non-trivial weights everywhere (a fresh head is all zeros).
    rng = np.random.default_rng(0)
    model.set_weights(
        [w + 0.01 * rng.normal(size=w.shape) for w in model.get_weights()]
    )
    folder = model.save_to_preset(str(tmp_path / "preset"))
    assert sorted(os.listdir(folder)) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    metadata = json.loads((tmp_path / "preset" / "metadata.json").read_text())
    assert metadata["class_name"] == type(model).__name__
    assert metadata["parameter_count"] == model.count_params()
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    assert config["registered_name"] == f"keras_maskspec>{type(model).__name__}"

    loaded = type(model).from_preset(folder)
    assert type(loaded) is type(model)
    _same_outputs(model, loaded, tone_batch(2, 1.0))


def test_encoder_and_classifier_from_other_kinds_of_preset(tmp_path):
    pretrainer = MaskSpecPretrainer.from_preset("maskspec_test", seed=1)
    folder = pretrainer.save_to_preset(str(tmp_path / "pretrained"))
    encoder = MaskSpecEncoder.from_preset(folder)
    assert isinstance(encoder, MaskSpecEncoder)
    for a, b in zip(encoder.get_weights(), pretrainer.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    # keras-hub's task-from-backbone: a new head on the saved encoder.
    classifier = MaskSpecClassifier.from_preset(folder, num_classes=5)
    assert classifier.num_classes == 5
    np.testing.assert_array_equal(
        classifier.encoder.get_weights()[0], encoder.get_weights()[0]
    )


def test_a_classifier_preset_with_other_classes_gets_a_new_head(tmp_path):
    model = MaskSpecClassifier.from_preset("maskspec_test", num_classes=3)
    folder = model.save_to_preset(str(tmp_path / "clf"))
    # Arguments that keep the architecture keep every weight.
    same = MaskSpecClassifier.from_preset(folder, num_classes=3)
    for a, b in zip(same.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = MaskSpecClassifier.from_preset(folder, num_classes=7)
    assert other.num_classes == 7
    for a, b in zip(other.encoder.get_weights(), model.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_incomplete_or_unknown_preset_folders_are_refused(tmp_path):
    folder = MaskSpecEncoder.from_preset("maskspec_test").save_to_preset(
        str(tmp_path / "p")
    )
    os.remove(os.path.join(folder, "model.weights.h5"))
    with pytest.raises(ValueError, match=r"'model.weights.h5'\] missing"):
        MaskSpecEncoder.from_preset(folder)
    with pytest.raises(ValueError, match="not a preset folder"):
        MaskSpecEncoder.from_preset(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="Unknown preset"):
        MaskSpecEncoder.from_preset("maskspec_huge")
