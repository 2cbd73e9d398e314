import csv

import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression

from keras_maskspec.data import synthetic


def test_corpus_is_deterministic_balanced_and_bounded():
    x, y, names = synthetic.synthetic_corpus(21, 8000, 1.0, seed=3)
    x2, y2, _ = synthetic.synthetic_corpus(7, 8000, 1.0, seed=3)
    np.testing.assert_array_equal(x[:7], x2)
    np.testing.assert_array_equal(y[:7], y2)
    assert x.dtype == np.float32 and x.shape == (21, 8000)
    assert np.bincount(y).tolist() == [3] * len(names)
    assert np.abs(x).max() <= 1.0 and np.isfinite(x).all()
    assert (np.sqrt((x**2).mean(-1)) > 1e-3).all()
    other, _, _ = synthetic.synthetic_corpus(7, 8000, 1.0, seed=4)
    assert not np.allclose(other, x2)


def test_event_types_are_learnable():
    x, y, _ = synthetic.synthetic_corpus(140, 8000, 1.0, seed=0)
    frames = x.reshape(140, 20, 400)
    spec = np.abs(np.fft.rfft(frames * np.hanning(400), axis=-1)) ** 2
    logspec = np.log(spec + 1e-6)
    feats = np.concatenate([logspec.mean(1), logspec.std(1)], axis=-1)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    clf = LogisticRegression(max_iter=2000).fit(feats[:105], y[:105])
    # Crude features, 15 clips a class: well above chance (1/7) is enough.
    assert clf.score(feats[105:], y[105:]) > 0.35


def test_write_synthetic_corpus(tmp_path):
    path = synthetic.write_synthetic_corpus(
        tmp_path, num_clips=3, sample_rate=8000, clip_seconds=0.5,
        format="flac",
    )  # fmt: skip
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["class_name"] for r in rows] == ["tone", "chord", "chirp"]
    data, rate = sf.read(tmp_path / rows[1]["path"])
    assert rate == 8000 and data.shape == (4000,)
    expected, _ = synthetic.synthetic_clip(1, 8000, 0.5)
    np.testing.assert_allclose(data, expected, atol=1 / 16384)
