"""Named inference outputs and sliding-window inference on long clips."""

import numpy as np
import pytest

from keras_maskspec import MaskSpecClassifier
from keras_maskspec import MaskSpecEncoder
from keras_maskspec import MaskSpecPretrainer
from keras_maskspec.inference import frame_times
from keras_maskspec.inference import inference_model
from keras_maskspec.inference import sliding_window_inference
from keras_maskspec.inference import window_starts
from tests.test_case import tone_batch


@pytest.fixture(scope="module")
def classifier():
    encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=3)
    return MaskSpecClassifier(encoder, num_classes=4, multi_label=True)


def test_classifier_outputs_match_predict(classifier):
    x = tone_batch(2, 1.0)
    out = inference_model(classifier).predict(x, verbose=0)
    expected = classifier.predict(x, verbose=0)
    np.testing.assert_allclose(out["scores"], expected, atol=1e-5)
    np.testing.assert_allclose(
        out["probabilities"], 1 / (1 + np.exp(-expected)), atol=1e-5
    )
    assert out["embedding"].shape == (2, 32)
    assert out["frame_embeddings"].shape == (2, 6, 32)


def test_pretrainer_gives_its_encoder_outputs():
    pretrainer = MaskSpecPretrainer.from_preset("maskspec_test", seed=4)
    x = tone_batch(1, 1.0)
    out = inference_model(pretrainer).predict(x, verbose=0)
    tokens = pretrainer.encoder.predict(x, verbose=0)
    np.testing.assert_allclose(
        out["embedding"], tokens[:, 1:].mean(axis=1), atol=1e-5
    )


def test_frame_times_are_patch_centres(classifier):
    times = frame_times(classifier, 4)
    np.testing.assert_allclose(np.diff(times), 0.16)
    assert times[0] == pytest.approx(7.5 * 0.01)


@pytest.mark.parametrize(
    "num_samples, window, hop, expected",
    [
        (100, 40, 30, [0, 30, 60]),
        (100, 40, 40, [0, 40, 60]),
        (40, 40, 10, [0]),
        (10, 40, 10, [0]),
    ],
)
def test_window_starts(num_samples, window, hop, expected):
    starts = window_starts(num_samples, window, hop)
    assert starts == expected
    assert starts[-1] + window >= num_samples  # the end is covered


def test_sliding_windows_match_per_window_predictions(classifier):
    clip = tone_batch(1, 3.2, seed=5)[0]
    out = sliding_window_inference(
        classifier, clip, window_seconds=1.0, hop_seconds=0.75, batch_size=2
    )
    np.testing.assert_allclose(out["starts"], [0.0, 0.75, 1.5, 2.2])
    windows = np.stack(
        [clip[int(s * 32000) : int(s * 32000) + 32000] for s in out["starts"]]
    )
    expected = classifier.predict(windows, verbose=0)
    np.testing.assert_allclose(out["windows"]["scores"], expected, atol=1e-5)
    np.testing.assert_allclose(out["mean"]["scores"], expected.mean(0), 1e-5)
    np.testing.assert_allclose(out["max"]["scores"], expected.max(0), 1e-5)
    assert out["windows"]["frame_embeddings"].shape == (4, 6, 32)
    assert "frame_embeddings" not in out["mean"]


def test_inference_model_is_reused_as_is(classifier):
    clip = tone_batch(1, 1.5, seed=7)[0]
    infer = inference_model(classifier)
    direct = sliding_window_inference(infer, clip, window_seconds=1.0)
    rebuilt = sliding_window_inference(classifier, clip, window_seconds=1.0)
    np.testing.assert_allclose(
        direct["windows"]["scores"], rebuilt["windows"]["scores"], atol=1e-6
    )


def test_short_clip_is_one_window(classifier):
    out = sliding_window_inference(classifier, np.zeros(1000, "float32"))
    assert out["starts"].tolist() == [0.0]
    assert out["mean"]["scores"].shape == (4,)


def test_sliding_windows_on_exported_model(classifier, tmp_path):
    tf = pytest.importorskip("tensorflow")
    from keras_maskspec.export import export_saved_model

    export_saved_model(classifier, str(tmp_path / "1"))
    served = tf.saved_model.load(str(tmp_path / "1"))
    clip = tone_batch(1, 2.0, seed=6)[0]
    from_export = sliding_window_inference(served, clip, window_seconds=1.0)
    from_keras = sliding_window_inference(classifier, clip, window_seconds=1.0)
    np.testing.assert_allclose(
        from_export["mean"]["probabilities"],
        from_keras["mean"]["probabilities"],
        atol=1e-5,
    )


def test_errors(classifier):
    with pytest.raises(ValueError, match="1-D"):
        sliding_window_inference(classifier, np.zeros((2, 100)))
    with pytest.raises(ValueError, match="window_seconds"):
        sliding_window_inference(classifier, np.zeros(100), window_seconds=0)
    with pytest.raises(ValueError, match="MaskSpecClassifier"):
        inference_model(object())
