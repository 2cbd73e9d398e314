import numpy as np
import pytest
from sklearn import metrics as skm

from keras_maskspec.training import metrics


def _multilabel(seed, num_clips=60, num_classes=7, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((num_clips, num_classes)) < 0.3).astype(np.float32)
    y[:, -1] = 0  # a class without positives is skipped
    score = rng.normal(size=(num_clips, num_classes)) + y
    if ties:
        score = np.round(score, 1)
    return y, score


@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_matches_sklearn(ties):
    y, score = _multilabel(0, ties=ties)
    ours = metrics.average_precision_per_class(y, score)
    for c in range(y.shape[1] - 1):
        expected = skm.average_precision_score(y[:, c], score[:, c])
        np.testing.assert_allclose(ours[c], expected, rtol=1e-12)
    assert np.isnan(ours[-1])
    expected_map = np.mean(
        [
            skm.average_precision_score(y[:, c], score[:, c])
            for c in range(y.shape[1] - 1)
        ]
    )
    np.testing.assert_allclose(
        metrics.mean_average_precision(y, score), expected_map, rtol=1e-12
    )


@pytest.mark.parametrize("ties", [False, True])
def test_mean_auc_and_d_prime_match_sklearn_scipy(ties):
    y, score = _multilabel(1, ties=ties)
    expected = np.mean(
        [skm.roc_auc_score(y[:, c], score[:, c]) for c in range(y.shape[1] - 1)]
    )
    mauc = metrics.mean_auc(y, score)
    np.testing.assert_allclose(mauc, expected, rtol=1e-12)
    from scipy.stats import norm

    np.testing.assert_allclose(
        metrics.d_prime(mauc), np.sqrt(2) * norm.ppf(expected), rtol=1e-12
    )
    got = metrics.multilabel_metrics(y, score)
    np.testing.assert_allclose(got["mauc"], expected, rtol=1e-12)


def test_masked_map_matches_sklearn_on_labelled_entries():
    rng = np.random.default_rng(2)
    y_conf = rng.random((80, 5))
    mask = rng.random((80, 5)) < 0.4
    y_conf = np.where(mask, y_conf, 0.5)  # OpenMIC: 0.5 where unlabelled
    score = rng.normal(size=(80, 5)) + (y_conf >= 0.5)
    expected = []
    for c in range(5):
        keep = mask[:, c]
        expected.append(
            skm.average_precision_score(y_conf[keep, c] >= 0.5, score[keep, c])
        )
    ours = metrics.masked_mean_average_precision(y_conf, score, mask)
    np.testing.assert_allclose(ours, np.mean(expected), rtol=1e-12)
    # The -1 convention of the classifier gives the same number.
    minus_one = np.where(mask, (y_conf >= 0.5).astype(float), -1.0)
    np.testing.assert_allclose(
        metrics.masked_mean_average_precision(minus_one, score),
        ours,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        metrics.mean_average_precision(minus_one, score), ours, rtol=1e-12
    )


def test_accuracy_matches_sklearn():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 4, size=50)
    score = rng.normal(size=(50, 4))
    expected = skm.accuracy_score(ids, score.argmax(-1))
    assert metrics.accuracy(ids, score) == pytest.approx(expected)
    assert metrics.accuracy(np.eye(4)[ids], score) == pytest.approx(expected)
    single = metrics.mean_average_precision(ids, score)
    onehot = np.eye(4)[ids]
    expected_map = np.mean(
        [
            skm.average_precision_score(onehot[:, c], score[:, c])
            for c in range(4)
        ]
    )
    np.testing.assert_allclose(single, expected_map, rtol=1e-12)


def test_metric_errors_name_arguments():
    with pytest.raises(ValueError, match="y_score.shape"):
        metrics.mean_average_precision(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="No class"):
        metrics.mean_average_precision(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="y_pred.shape"):
        metrics.accuracy([0, 1], [[0.1, 0.9]])


def test_masked_map_with_minus_one_matches_sklearn():
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 5)) < 0.4).astype("float32")
    scores = rng.random((40, 5))
    expected = np.mean(
        [
            skm.average_precision_score(labels[:, c], scores[:, c])
            for c in range(5)
        ]
    )
    assert np.isclose(
        metrics.masked_mean_average_precision(labels, scores), expected
    )
    labels[:10, 0] = -1
    keep = labels[:, 0] >= 0
    first = skm.average_precision_score(labels[keep, 0], scores[keep, 0])
    others = [
        skm.average_precision_score(labels[:, c], scores[:, c])
        for c in range(1, 5)
    ]
    assert np.isclose(
        metrics.masked_mean_average_precision(labels, scores),
        np.mean([first, *others]),
    )
