import numpy as np
import pytest

from keras_maskspec.data import sampling


def test_weights_follow_audioset_formula():
    labels = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [1, -1, 0]])
    weights = sampling.class_balanced_weights(labels)
    counts = np.array([3, 1, 1])
    raw = np.array([1 / 3 + 1, 1 / 3, 1, 1 / 3])
    np.testing.assert_allclose(weights, raw / raw.sum())
    assert counts.sum() == 5
    ids = sampling.class_balanced_weights([0, 0, 0, 1])
    np.testing.assert_allclose(ids * 6, [1, 1, 1, 3])
    with pytest.raises(ValueError, match="labels.shape"):
        sampling.class_balanced_weights(np.zeros((2, 2, 2)))


def test_weighted_index_dataset_draws_by_weight_and_reshuffles():
    weights = np.array([1.0, 3.0, 0.0, 4.0])
    ds = sampling.weighted_index_dataset(weights, 4000, seed=1)
    first = next(iter(ds.batch(4000))).numpy()
    assert len(first) == 4000
    freq = np.bincount(first, minlength=4) / 4000
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.03)
    second = next(iter(ds.batch(4000))).numpy()
    assert not np.array_equal(first, second)
    again = sampling.weighted_index_dataset(weights, 4000, seed=1)
    np.testing.assert_array_equal(first, next(iter(again.batch(4000))))
    with pytest.raises(ValueError, match="num_samples=0"):
        sampling.weighted_index_dataset(weights, 0)
