"""The HEAR 2021 API wrapper, and `hear-validator` run on it."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal

from keras_maskspec import MaskSpecClassifier
from keras_maskspec import MaskSpecEncoder
from keras_maskspec import hear
from tests.test_case import tone_batch


@pytest.fixture(scope="module")
def model():
    encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=7)
    return hear.MaskSpecHearModel(encoder)


def test_attributes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == 32
    assert model.timestamp_embedding_size == 32
    assert all(
        isinstance(getattr(model, name), int)
        for name in (
            "sample_rate",
            "scene_embedding_size",
            "timestamp_embedding_size",
        )
    )


def test_scene_embeddings_use_resampled_audio(model):
    audio = tone_batch(3, 1.0, sample_rate=16000)
    emb = hear.get_scene_embeddings(audio, model)
    assert emb.dtype.name == "float32" and tuple(emb.shape) == (3, 32)
    # Oracle: scipy's polyphase resampler, then the plain encoder.
    at_32k = scipy.signal.resample_poly(audio, 2, 1, axis=1).astype("float32")
    tokens = model.encoder.predict(at_32k, verbose=0)
    np.testing.assert_allclose(
        emb.numpy(), tokens[:, 1:].mean(axis=1), atol=1e-4
    )


@pytest.mark.parametrize("seconds", [0.1, 1.0, 2.37])
def test_timestamps_regular_and_reach_the_end(model, seconds):
    audio = tone_batch(2, seconds, sample_rate=16000)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    emb, ts = emb.numpy(), ts.numpy()
    assert emb.dtype == np.float32 and ts.dtype == np.float32
    assert emb.shape[:2] == ts.shape and emb.shape[2] == 32
    assert ts.shape[0] == 2
    np.testing.assert_allclose(np.diff(ts, axis=1), hear.TIMESTAMP_HOP_MS)
    duration_ms = 1000 * audio.shape[1] / 16000
    assert ts[0, 0] == 0.0
    assert duration_ms - hear.TIMESTAMP_HOP_MS < ts[0, -1] <= duration_ms
    assert np.isfinite(emb).all()


def test_timestamp_embeddings_interpolate_patch_columns(model):
    audio = tone_batch(1, 2.0, sample_rate=16000)
    _, frames, frame_ms = model.embed(audio)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    emb, ts = emb.numpy()[0], ts.numpy()[0]
    # At a patch centre the embedding is that patch column's vector.
    at = np.flatnonzero(np.isclose(ts, frame_ms[2]))
    if at.size:
        np.testing.assert_allclose(emb[at[0]], frames[0, 2], atol=1e-5)
    # Before the first centre it is held at the first column.
    np.testing.assert_allclose(emb[0], frames[0, 0], atol=1e-6)


def test_load_model_from_files(tmp_path):
    encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=8)
    classifier = MaskSpecClassifier(encoder, num_classes=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    encoder.save(str(run_dir / "encoder.keras"))
    classifier.save(str(tmp_path / "classifier.keras"))
    audio = tone_batch(1, 0.5, sample_rate=16000)
    expected = hear.get_scene_embeddings(
        audio, hear.MaskSpecHearModel(encoder)
    ).numpy()
    for path in (str(run_dir), str(tmp_path / "classifier.keras")):
        loaded = hear.load_model(path)
        assert loaded.scene_embedding_size == 32
        got = hear.get_scene_embeddings(audio, loaded).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_load_model_errors(tmp_path):
    with pytest.raises(ValueError, match="No such file"):
        hear.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(ValueError, match="encoder.keras"):
        hear.load_model(str(tmp_path))
    with pytest.raises(TypeError, match="load_model"):
        hear.get_scene_embeddings(np.zeros((1, 16000)), object())


@pytest.mark.large
@pytest.mark.skipif(
    importlib.util.find_spec("hearvalidator") is None,
    reason="hearvalidator (pip install hearvalidator==2021.0.2) not installed",
)
def test_hear_validator_accepts_the_module():
    validator = os.path.join(os.path.dirname(sys.executable), "hear-validator")
    command = (
        [validator]
        if os.path.exists(validator)
        else [sys.executable, "-m", "hearvalidator.validate"]
    )
    result = subprocess.run(
        [*command, "keras_maskspec.hear"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Looks good!" in result.stdout
    assert "Interval between timestamps is 25.0ms" in result.stdout
