import numpy as np
import pytest
import tensorflow as tf

from keras_maskspec.data import normalization
from keras_maskspec.data import synthetic


def _frontend(x):
    x = np.asarray(x)
    frames = x[:, : (x.shape[1] // 64) * 64].reshape(x.shape[0], -1, 64)
    return np.log(np.abs(np.fft.rfft(frames, axis=-1))[..., :8] + 1e-3)


def test_stats_match_numpy_over_all_frames():
    x, _, _ = synthetic.synthetic_corpus(10, 8000, 0.5)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(10))).batch(3)
    mean, std = normalization.compute_normalization_stats(ds, _frontend)
    feats = _frontend(x).reshape(-1, 8)
    np.testing.assert_allclose(mean, feats.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std, feats.std(0), rtol=1e-4, atol=1e-5)
    assert mean.dtype == np.float32 and mean.shape == (8,)
    m2, _ = normalization.compute_normalization_stats(
        ds, _frontend, max_batches=1
    )
    np.testing.assert_allclose(m2, _frontend(x[:3]).reshape(-1, 8).mean(0),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_stats_from_sources(tmp_path):
    synthetic.write_synthetic_corpus(tmp_path, 4, 8000, 0.5)
    mean, std = normalization.compute_normalization_stats(
        str(tmp_path), _frontend, sample_rate=8000, clip_seconds=0.5,
        batch_size=2,
    )  # fmt: skip
    x, _, _ = synthetic.synthetic_corpus(4, 8000, 0.5)
    np.testing.assert_allclose(
        mean, _frontend(x).reshape(-1, 8).mean(0), atol=0.05
    )
    assert (std > 0).all()


def test_errors():
    with pytest.raises(TypeError, match="frontend"):
        normalization.compute_normalization_stats([np.ones((1, 64))], None)
    with pytest.raises(ValueError, match="No data"):
        normalization.compute_normalization_stats([], _frontend)
