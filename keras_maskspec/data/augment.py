"""Waveform augmentations from the paper's fine-tuning recipe.

All are TF functions with stateless seeds (an int64 tensor of shape `(2,)`),
so a pipeline with a fixed `seed` gives the same augmentations every run,
whatever the number of parallel calls. SpecAugment and patchout act on
spectrograms and tokens, so they live in the model, not here.
"""

import tensorflow as tf


def _seed(seed, salt):
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    seed = tf.cast(seed, tf.int64)
    return tf.stack([seed[0], seed[1] + salt])


def random_gain(waveform, max_db=7.0, seed=None):
    """Scales a clip by a gain drawn uniformly in `[-max_db, +max_db]` dB.

    Args:
        waveform: float tensor `(samples,)` or `(samples, channels)`.
        max_db: float. Largest gain change in dB. Defaults to `7.0`.
        seed: optional int tensor `(2,)`, the stateless seed.

    Returns:
        tensor, same shape.

    Examples:

    >>> x = tf.ones([4])
    >>> y = random_gain(x, 6.0, seed=tf.constant([1, 2], "int64"))
    >>> bool(0.5 <= y[0] <= 2.0) and bool(tf.reduce_all(y == y[0]))
    True
    """
    db = tf.random.stateless_uniform(
        [], _seed(seed, 11), minval=-max_db, maxval=max_db
    )
    return waveform * tf.pow(10.0, db / 20.0)


def random_time_roll(waveform, max_shift, seed=None):
    """Rolls a clip in time by up to `max_shift` samples either way.

    Args:
        waveform: tensor `(samples,)` or `(samples, channels)`.
        max_shift: int. Largest shift in samples (PaSST uses 50 frames,
            0.5 s).
        seed: optional int tensor `(2,)`, the stateless seed.

    Returns:
        tensor, same shape, circularly shifted along time.

    Examples:

    >>> y = random_time_roll(tf.range(5), 2, seed=tf.constant([0, 1], "int64"))
    >>> sorted(y.numpy().tolist())
    [0, 1, 2, 3, 4]
    """
    shift = tf.random.stateless_uniform(
        [],
        _seed(seed, 23),
        minval=-int(max_shift),
        maxval=int(max_shift) + 1,
        dtype=tf.int32,
    )
    return tf.roll(waveform, shift, axis=0)


def mixup(waveforms, labels, alpha=2.0, rate=0.5, seed=None):
    """Waveform mixup within a batch; labels are mixed with the same weight.

    Each example is mixed, with probability `rate`, with a random partner
    from the batch: `x = lam * x + (1 - lam) * x_partner`, `lam ~
    Beta(alpha, alpha)` folded to `max(lam, 1 - lam)` so the original
    dominates (PaSST's convention). A label entry that is unknown (< 0) in
    either example stays unknown (-1) after mixing.

    Args:
        waveforms: float tensor `(batch, samples[, channels])`.
        labels: float tensor `(batch, num_classes)` (one-hot or multi-hot).
        alpha: float. Beta distribution parameter. Defaults to `2.0`.
        rate: float. Probability that an example is mixed. Defaults to `0.5`.
        seed: optional int tensor `(2,)`, the stateless seed.

    Returns:
        `(waveforms, labels)`, mixed.

    Examples:

    >>> x = tf.constant([[1.0, 1.0], [0.0, 0.0]])
    >>> y = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    >>> xm, ym = mixup(x, y, rate=1.0, seed=tf.constant([3, 4], "int64"))
    >>> bool(tf.reduce_all(tf.abs(tf.reduce_sum(ym, -1) - 1.0) < 1e-6))
    True
    """
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    labels = tf.cast(labels, tf.float32)
    batch = tf.shape(waveforms)[0]
    partner = tf.random.experimental.stateless_shuffle(
        tf.range(batch), _seed(seed, 31)
    )
    a = tf.random.stateless_gamma([batch], _seed(seed, 37), alpha=alpha)
    b = tf.random.stateless_gamma([batch], _seed(seed, 41), alpha=alpha)
    lam = a / (a + b)
    lam = tf.maximum(lam, 1.0 - lam)
    use = tf.random.stateless_uniform([batch], _seed(seed, 43)) < rate
    lam = tf.where(use, lam, tf.ones_like(lam))
    lam_x = tf.reshape(lam, [-1] + [1] * (waveforms.shape.rank - 1))
    mixed = lam_x * waveforms + (1.0 - lam_x) * tf.gather(waveforms, partner)
    other = tf.gather(labels, partner)
    lam_y = lam[:, None]
    mixed_labels = lam_y * labels + (1.0 - lam_y) * other
    unknown = (labels < 0) | ((other < 0) & (lam_y < 1.0))
    mixed_labels = tf.where(unknown, -tf.ones_like(labels), mixed_labels)
    return mixed, mixed_labels
