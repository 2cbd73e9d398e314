"""The authors' AudioSet-2M sampler (docs/parity.md, row A "balancing
weights" / "draws per epoch"), against numpy statements of the rule."""

import numpy as np
import pytest
import tensorflow as tf

from keras_maskspec.data import sampling


def test_weights_follow_the_authors_formula():
    # w_i = sum_c y_ic * 1000 / (n_c + 100), counts over the whole table.
    toy = [[1, 0], [1, 0], [1, 0], [0, 1]]
    np.testing.assert_allclose(
        sampling.class_balanced_weights(toy), [1000 / 103] * 3 + [1000 / 101]
    )
    labels = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [1, -1, 0], [0, 0, 0]])
    counts = np.array([3, 1, 1])
    want = (labels > 0) @ (1000 / (counts + 100))
    np.testing.assert_allclose(sampling.class_balanced_weights(labels), want)
    assert sampling.class_balanced_weights(labels)[-1] == 0.0  # no label
    ids = sampling.class_balanced_weights([0, 0, 0, 1])
    np.testing.assert_allclose(ids, [1000 / 103] * 3 + [1000 / 101])
    with pytest.raises(ValueError, match="labels.shape"):
        sampling.class_balanced_weights(np.zeros((2, 2, 2)))


def _draw(weights, k, i):
    return sampling.draw_without_replacement(
        weights, k, tf.constant([i, 0], tf.int64)
    ).numpy()


def test_draws_never_repeat_within_an_epoch_and_skip_zero_weights():
    weights = np.r_[np.linspace(0.1, 3.0, 50), 0.0, 0.0]
    for i in range(20):
        idx = _draw(weights, 40, i)
        assert len(set(idx.tolist())) == 40
        assert not {50, 51} & set(idx.tolist())
    # More draws than positive weights: whole rounds, each without repeats.
    idx = _draw([1.0, 2.0, 0.0], 5, 0)
    assert sorted(idx[:2].tolist()) == [0, 1] and sorted(idx[2:4]) == [0, 1]
    with pytest.raises(ValueError, match="num_samples=0"):
        _draw([1.0], 0, 0)
    with pytest.raises(ValueError, match="weights"):
        _draw([0.0, 0.0], 1, 0)


def test_first_draw_is_proportional_to_weight():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    firsts = np.array([_draw(weights, 2, i)[0] for i in range(3000)])
    freq = np.bincount(firsts, minlength=4) / len(firsts)
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.03)


def test_inclusion_matches_numpy_successive_sampling():
    # torch.multinomial(w, k, replacement=False): draw one by weight,
    # remove it, renormalise, repeat.
    weights = np.array([5.0, 1.0, 1.0, 2.0, 0.5, 3.0])
    k, trials = 3, 3000
    rng = np.random.default_rng(0)
    reference = np.zeros(len(weights))
    for _ in range(trials):
        left = list(range(len(weights)))
        for _ in range(k):
            p = weights[left] / weights[left].sum()
            reference[left.pop(rng.choice(len(left), p=p))] += 1
    ours = np.zeros(len(weights))
    for i in range(trials):
        ours[_draw(weights, k, i)] += 1
    np.testing.assert_allclose(ours / trials, reference / trials, atol=0.04)


def test_weighted_index_dataset_redraws_every_epoch_and_is_seeded():
    weights = sampling.class_balanced_weights(np.eye(6)[np.arange(60) % 6])
    ds = sampling.weighted_index_dataset(weights, 30, seed=1)
    first = [int(i) for i in ds]
    second = [int(i) for i in ds]
    assert len(first) == 30 and len(set(first)) == 30
    assert first != second
    again = sampling.weighted_index_dataset(weights, 30, seed=1)
    assert [int(i) for i in again] == first
    with pytest.raises(ValueError, match="num_samples=0"):
        sampling.weighted_index_dataset(weights, 0)
