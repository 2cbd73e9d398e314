"""Waveform augmentations against numpy statements of the authors' rules
(docs/parity.md rows FT2-FT5)."""

import numpy as np
import pytest
import scipy.signal
import scipy.stats
import tensorflow as tf

from keras_maskspec.data import augment

SEED = tf.constant([5, 6], tf.int64)
RATE = 32000
G = 320000  # the reference's 10 s buffer


def _seed(i, j=0):
    return tf.constant([i, j], tf.int64)


def test_gain_is_an_integer_db_in_minus7_to_6_each_one_fourteenth():
    x = tf.ones([8])
    draws = 2800
    gains = np.array(
        [float(augment.random_gain(x, 7, _seed(i))[0]) for i in range(draws)]
    )
    db = 20 * np.log10(gains)
    k = np.round(db).astype(int)
    np.testing.assert_allclose(db, k, atol=1e-4)
    # Numpy statement of the rule: g = randint(14) - 7, x *= 10**(g/20).
    assert set(k.tolist()) == set(range(-7, 7))
    counts = np.bincount(k + 7, minlength=14)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    np.testing.assert_array_equal(
        augment.random_gain(x, 7, SEED), augment.random_gain(x, 7, SEED)
    )
    with pytest.raises(ValueError, match="max_db=0"):
        augment.random_gain(x, 0, SEED)


def test_roll_without_container_is_a_bounded_circular_shift():
    x = tf.range(100)
    for i in range(20):
        y = augment.random_time_roll(x, 5, _seed(i, 1)).numpy()
        shift = int(np.argmax(y == 0))
        shift = shift if shift <= 50 else shift - 100
        assert abs(shift) <= 5
        assert np.array_equal(np.roll(x.numpy(), shift), y)
    stereo = tf.reshape(tf.range(20.0), [10, 2])
    assert augment.random_time_roll(stereo, 3, SEED).shape == (10, 2)


@pytest.mark.parametrize("n", [32000, 160000, 320000])
def test_roll_on_the_10s_buffer_matches_numpy_and_is_bounded(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(0.1, 1.0, n).astype(np.float32)
    seen = set()
    for i in range(40):
        y = augment.random_time_roll(
            tf.constant(x), 50, _seed(i, 2), container_samples=G
        ).numpy()
        # Find s from the result, then check it against the numpy rule:
        # np.roll over the clip zero-padded to 10 s, cropped back.
        matches = [
            s
            for s in range(-50, 51)
            if np.array_equal(np.roll(np.pad(x, (0, G - n)), s)[:n], y)
        ]
        assert len(matches) == 1
        s = matches[0]
        seen.add(s)
        if n < G and s > 0:
            assert (y[:s] == 0).all()  # zero fill, no wrap of the clip end
        if n < G and s < 0:
            assert (y[n + s :] == 0).all()
    assert len(seen) > 20  # the shift really varies over -50..50
    stereo = np.stack([x, -x], axis=1)
    y = augment.random_time_roll(
        tf.constant(stereo), 50, SEED, container_samples=G
    ).numpy()
    np.testing.assert_array_equal(y[:, 0], -y[:, 1])


def _folded_beta_cdf(t, a):
    """P(max(L, 1-L) <= t) for L ~ Beta(a, a), t in [0.5, 1]."""
    beta = scipy.stats.beta(a, a)
    return np.clip(beta.cdf(t) - beta.cdf(1 - t), 0.0, 1.0)


def test_mixup_lambda_is_folded_beta_2_2_ks_test():
    lam = augment.beta_lambda(2.0, SEED, (20000,)).numpy()
    result = scipy.stats.kstest(lam, lambda t: _folded_beta_cdf(t, 2.0))
    assert result.pvalue > 1e-3, result
    # The same test rejects the recipes' old alpha 0.3 for these draws.
    wrong = scipy.stats.kstest(lam, lambda t: _folded_beta_cdf(t, 0.3))
    assert wrong.pvalue < 1e-6
    np.testing.assert_allclose(lam.mean(), 0.6875, atol=0.005)


def test_waveform_mixup_demeans_mixes_labels_and_rate():
    rng = np.random.default_rng(0)
    n = 1000
    mixed_count = 0
    lams = []
    for i in range(400):
        x1 = rng.normal(0.3, 1.0, n).astype(np.float32)
        x2 = rng.normal(-0.2, 1.0, n).astype(np.float32)
        y1 = np.array([1.0, 0.0, 0.0], np.float32)
        y2 = np.array([0.0, 0.0, 1.0], np.float32)
        x, y = augment.waveform_mixup(
            x1, y1, x2, y2, rate=0.5, seed=_seed(i, 9), container_samples=G
        )
        x, y = x.numpy(), y.numpy()
        np.testing.assert_allclose(y.sum(), 1.0, atol=1e-6)
        if y[0] == 1.0:
            np.testing.assert_array_equal(x, x1)  # unmixed: untouched
            continue
        mixed_count += 1
        lam = y[0]
        lams.append(lam)
        assert 0.5 <= lam < 1.0 and np.isclose(y[2], 1 - lam, atol=1e-6)
        # Numpy statement (means over the 10 s buffer).
        a = x1 - x1.sum() / G
        b = x2 - x2.sum() / G
        want = lam * a + (1 - lam) * b
        want = want - want.sum() / G
        np.testing.assert_allclose(x, want, atol=1e-5)
    assert 160 <= mixed_count <= 240  # rate 0.5
    result = scipy.stats.kstest(lams, lambda t: _folded_beta_cdf(t, 2.0))
    assert result.pvalue > 1e-3


def test_mix_pair_keeps_unknown_labels_unknown():
    x = tf.ones([4])
    y1 = tf.constant([1.0, -1.0, 0.0])
    y2 = tf.constant([0.0, 1.0, -1.0])
    _, y = augment.mix_pair(x, y1, x, y2, tf.constant(0.7))
    np.testing.assert_allclose(y.numpy(), [0.7, -1.0, -1.0])
    _, y = augment.mix_pair(x, y1, x, y2, tf.constant(1.0))
    np.testing.assert_allclose(y.numpy(), [1.0, -1.0, 0.0])


def test_biquads_are_sox_rbj_and_match_butterworth():
    # RBJ with Q = 1/sqrt(2) is the bilinear 2nd-order Butterworth; sox's
    # Q 0.707 is within 1e-3 of it.
    for kind, cutoff in [("highpass", 5000), ("lowpass", 1000)]:
        b, a = augment.biquad_coefficients(kind, cutoff, RATE)
        bb, ab = scipy.signal.butter(
            2, cutoff, btype=kind[:-4] if kind == "highpass" else "low",
            fs=RATE,
        )  # fmt: skip
        np.testing.assert_allclose(a, ab, atol=2e-3)
        np.testing.assert_allclose(b, bb, atol=2e-3)
        _, h = scipy.signal.freqz(b, a, worN=[cutoff], fs=RATE)
        np.testing.assert_allclose(20 * np.log10(abs(h[0])), -3.0, atol=0.05)
    with pytest.raises(ValueError, match="kind='bandpass'"):
        augment.biquad_coefficients("bandpass", 1000, RATE)


def _only(**kwargs):
    off = {"snr_db": None, "volume_db": None, "highpass_hz": None,
           "lowpass_hz": None}  # fmt: skip
    return {**off, **kwargs}


def test_extra_augment_each_transform_fires_half_the_time_as_specified():
    rng = np.random.default_rng(1)
    x = (0.3 * rng.normal(size=3200)).astype(np.float32)
    fired, snrs, volumes = 0, [], []
    for i in range(300):
        y = augment.extra_augment(
            x, RATE, _seed(i, 3), **_only(snr_db=(0.0, 15.0))
        ).numpy()
        if np.array_equal(y, x):
            continue
        fired += 1
        noise = y - x
        snrs.append(20 * np.log10(np.sqrt(np.mean(x**2) / np.mean(noise**2))))
    assert 120 <= fired <= 180
    assert 0.0 - 1e-3 <= min(snrs) and max(snrs) <= 15.0 + 1e-3
    assert np.std(snrs) > 3.0  # spread over the range
    for i in range(100):
        y = augment.extra_augment(
            x, RATE, _seed(i, 4), **_only(volume_db=(-2.0, 2.0))
        ).numpy()
        if not np.array_equal(y, x):
            ratio = y[np.abs(y) < 0.5] / x[np.abs(y) < 0.5]
            volumes.append(20 * np.log10(np.median(ratio)))
            assert np.abs(y).max() <= 1.0
    assert volumes and -2 - 1e-3 <= min(volumes) and max(volumes) <= 2 + 1e-3


def test_extra_augment_filters_follow_numpy_and_clip():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.5, 1.5, 6400).astype(np.float32)  # beyond [-1, 1]
    cutoffs = set()
    for i in range(60):
        y = augment.extra_augment(
            x, RATE, _seed(i, 5), **_only(lowpass_hz=(1000, 3000))
        ).numpy()
        if np.array_equal(y, x):
            continue
        # sox: clip the input, filter, clip the output.
        candidates = []
        for cutoff in (1000, 3000):
            b, a = augment.biquad_coefficients("lowpass", cutoff, RATE)
            want = np.clip(scipy.signal.lfilter(b, a, np.clip(x, -1, 1)),
                           -1, 1)  # fmt: skip
            if np.allclose(y, want, atol=1e-5):
                candidates.append(cutoff)
        assert len(candidates) == 1
        cutoffs.add(candidates[0])
        assert np.abs(y).max() <= 1.0
    assert cutoffs == {1000, 3000}


def test_extra_augment_runs_in_tf_data_in_parallel_and_is_seeded():
    x = tf.random.stateless_normal([4, 3200], SEED) * 0.2
    ds = tf.data.Dataset.from_tensor_slices(x).enumerate()

    def run():
        out = ds.map(
            lambda i, w: augment.extra_augment(w, RATE, tf.stack([i, i])),
            num_parallel_calls=4,
        )
        return np.stack([e.numpy() for e in out])

    first = run()
    np.testing.assert_array_equal(first, run())
    assert first.shape == (4, 3200)
