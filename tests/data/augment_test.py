import numpy as np
import tensorflow as tf

from keras_maskspec.data import augment

SEED = tf.constant([5, 6], tf.int64)


def test_random_gain_stays_in_range_and_is_seeded():
    x = tf.ones([8])
    gains = [
        float(augment.random_gain(x, 7.0, tf.constant([i, 0]))[0])
        for i in range(50)
    ]
    db = 20 * np.log10(gains)
    assert db.min() >= -7.0 - 1e-4 and db.max() <= 7.0 + 1e-4
    assert db.std() > 2.0
    a = augment.random_gain(x, 7.0, SEED)
    assert np.array_equal(a, augment.random_gain(x, 7.0, SEED))


def test_random_time_roll_is_a_bounded_circular_shift():
    x = tf.range(100)
    for i in range(20):
        y = augment.random_time_roll(x, 5, tf.constant([i, 1])).numpy()
        shift = int(np.argmax(y == 0))
        shift = shift if shift <= 50 else shift - 100
        assert abs(shift) <= 5
        assert np.array_equal(np.roll(x.numpy(), shift), y)
    stereo = tf.reshape(tf.range(20.0), [10, 2])
    assert augment.random_time_roll(stereo, 3, SEED).shape == (10, 2)


def test_mixup_mixes_waveforms_and_labels_with_one_weight():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 10)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    xm, ym = augment.mixup(x, y, alpha=2.0, rate=1.0, seed=SEED)
    np.testing.assert_allclose(tf.reduce_sum(ym, -1), 1.0, atol=1e-6)
    # Recover each example's lambda from the label of its own class.
    lam = (ym.numpy() * y).sum(-1)
    assert (lam >= 0.5 - 1e-6).all()
    xm2, _ = augment.mixup(x, y, alpha=2.0, rate=1.0, seed=SEED)
    np.testing.assert_array_equal(xm, xm2)
    unchanged, _ = augment.mixup(x, y, rate=0.0, seed=SEED)
    np.testing.assert_allclose(unchanged, x)


def test_mixup_keeps_unknown_labels_unknown():
    x = tf.ones([2, 4])
    y = tf.constant([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    _, ym = augment.mixup(x, y, rate=1.0, seed=SEED)
    ym = ym.numpy()
    # Entry 1 of clip 0 and entry 2 of clip 1 are unknown in one source.
    assert (ym[:, 1:] == -1.0).sum() >= 2
    assert ym[0, 1] == -1.0 and ym[1, 2] == -1.0
