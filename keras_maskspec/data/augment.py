"""Waveform augmentations of the MaskSpec fine-tuning recipe, as the authors
ran them (`docs/parity.md`, rows FT1-FT5).

All are TF functions with stateless seeds (an int64 tensor of shape `(2,)`),
so a pipeline with a fixed `seed` gives the same augmentations every run,
whatever the number of parallel calls. SpecAugment, spectrogram mixup and
patchout act on spectrograms and tokens, so they live in the model.

The reference pads every clip to a 10 s buffer (`CONTAINER_SECONDS`) before
it rolls and mixes. We keep clips at the recipe's length and emulate that
buffer exactly: the roll becomes a zero-filled shift for a short clip, and
mixup's means are sums over the clip divided by the buffer's length.
"""

import numpy as np
import tensorflow as tf

# The reference's clip container (`--clip_length 10` in every `run.py`).
CONTAINER_SECONDS = 10.0
# augly 0.2.1 `Compose` in the reference: each transform fires with
# marginal probability 1/2 (see `extra_augment`).
HIGHPASS_CUTOFFS = tuple(range(5000, 12001, 1000))
LOWPASS_CUTOFFS = tuple(range(1000, 5001, 1000))


def _seed(seed, salt):
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    seed = tf.cast(seed, tf.int64)
    return tf.stack([seed[0], seed[1] + salt])


def random_gain(waveform, max_db=7, seed=None):
    """Scales a clip by an integer gain in dB from `{-max_db, ..., max_db-1}`.

    The authors' `pydub_augment`: `g = randint(14) - 7`, `x *= 10**(g/20)`,
    so 14 equally likely gains, -7 to +6 dB.

    Args:
        waveform: float tensor `(samples,)` or `(samples, channels)`.
        max_db: int. Defaults to `7` (the authors' -7..6 dB).
        seed: optional int tensor `(2,)`, the stateless seed.

    Returns:
        tensor, same shape.

    Examples:

    >>> x = tf.ones([4])
    >>> y = random_gain(x, 7, seed=tf.constant([1, 2], "int64"))
    >>> db = 20 * np.log10(float(y[0]))
    >>> bool(abs(db - round(db)) < 1e-4 and -7 <= round(db) <= 6)
    True
    """
    max_db = int(round(max_db))
    if max_db < 1:
        raise ValueError(f"`max_db` must be >= 1. Received: max_db={max_db}")
    db = tf.random.stateless_uniform(
        [], _seed(seed, 11), minval=-max_db, maxval=max_db, dtype=tf.int32
    )
    gain = tf.pow(10.0, tf.cast(db, tf.float32) / 20.0)
    return waveform * tf.cast(gain, waveform.dtype)


def random_time_roll(waveform, max_shift, seed=None, container_samples=None):
    """Rolls a clip in time by `s` samples, `s` in `-max_shift..max_shift`.

    With `container_samples=None` the roll is circular over the clip. With
    `container_samples` (the reference's 10 s buffer, 320 000 samples at
    32 kHz) the clip is rolled as if zero-padded to that length and cropped
    back: for a shorter clip a positive `s` puts `s` zeros first, a
    negative one drops the first `|s|` samples and fills the end with zeros
    (`np.roll(np.pad(x, (0, G - n)), s)[:n]`).

    Args:
        waveform: tensor `(samples,)` or `(samples, channels)`.
        max_shift: int. Largest shift in samples (the authors: 50).
        seed: optional int tensor `(2,)`, the stateless seed.
        container_samples: int or `None`. Length of the virtual buffer.
            Defaults to `None` (circular over the clip).

    Returns:
        tensor, same shape.

    Examples:

    >>> y = random_time_roll(tf.range(5), 2, seed=tf.constant([0, 1], "int64"))
    >>> sorted(y.numpy().tolist())
    [0, 1, 2, 3, 4]
    >>> z = random_time_roll(tf.ones([4]), 2, tf.constant([0, 1], "int64"),
    ...                      container_samples=100)
    >>> bool(tf.reduce_sum(z) >= 2.0)
    True
    """
    shift = tf.random.stateless_uniform(
        [],
        _seed(seed, 23),
        minval=-int(max_shift),
        maxval=int(max_shift) + 1,
        dtype=tf.int32,
    )
    if container_samples is None:
        return tf.roll(waveform, shift, axis=0)
    # Rolling the clip padded with min(G - n, max_shift) zeros gives the
    # same first n samples as rolling the whole G-sample buffer (a wrap can
    # only reach past the padding when the padding is all of G - n).
    n = tf.shape(waveform)[0]
    pad = tf.clip_by_value(int(container_samples) - n, 0, int(max_shift))
    paddings = tf.concat(
        [[[0, pad]], tf.zeros([tf.rank(waveform) - 1, 2], tf.int32)], 0
    )
    return tf.roll(tf.pad(waveform, paddings), shift, axis=0)[:n]


def beta_lambda(alpha, seed, shape=()):
    """`lam ~ Beta(alpha, alpha)` folded to `max(lam, 1 - lam)`.

    Args:
        alpha: float. The Beta parameter (waveform mixup: 2).
        seed: int tensor `(2,)`, the stateless seed.
        shape: tuple. Defaults to a scalar.

    Returns:
        float32 tensor of `shape`, in `[0.5, 1]`.

    Examples:

    >>> lam = beta_lambda(2.0, tf.constant([1, 2], "int64"), (1000,))
    >>> bool(tf.reduce_min(lam) >= 0.5)
    True
    """
    a = tf.random.stateless_gamma(shape, _seed(seed, 37), alpha=alpha)
    b = tf.random.stateless_gamma(shape, _seed(seed, 41), alpha=alpha)
    lam = a / (a + b)
    return tf.maximum(lam, 1.0 - lam)


def mix_pair(x1, y1, x2, y2, lam, container_samples=None):
    """The authors' `MixupDataset` mix of two clips with weight `lam`.

    `x1 -= mean(x1)`; `x2 -= mean(x2)`; `x = lam*x1 + (1-lam)*x2`;
    `x -= mean(x)`; `y = lam*y1 + (1-lam)*y2`. Means run over the
    reference's buffer: `sum(x) / max(samples, container_samples)`. A label
    entry unknown (< 0) in either clip stays unknown (-1).

    Args:
        x1, x2: float tensors `(samples,)` or `(samples, channels)`.
        y1, y2: float tensors `(num_classes,)`.
        lam: float scalar tensor, the weight of `x1`.
        container_samples: int or `None`. Buffer length of the means.
            Defaults to the clip length.

    Returns:
        `(x, y)`.

    Examples:

    >>> x, y = mix_pair(tf.constant([2.0, 0.0]), tf.constant([1.0, 0.0]),
    ...                 tf.constant([0.0, 4.0]), tf.constant([0.0, 1.0]),
    ...                 tf.constant(0.75))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([0.25, -0.25], [0.75, 0.25])
    """
    x1 = tf.convert_to_tensor(x1, tf.float32)
    x2 = tf.convert_to_tensor(x2, tf.float32)
    n = tf.shape(x1)[0]
    if container_samples is not None:
        n = tf.maximum(n, int(container_samples))
    n = tf.cast(n, tf.float32)

    def demean(x):
        return x - tf.reduce_sum(x, axis=0, keepdims=True) / n

    lam = tf.cast(lam, tf.float32)
    mixed = demean(lam * demean(x1) + (1.0 - lam) * demean(x2))
    y1 = tf.cast(y1, tf.float32)
    y2 = tf.cast(y2, tf.float32)
    labels = lam * y1 + (1.0 - lam) * y2
    unknown = (y1 < 0) | ((y2 < 0) & (lam < 1.0))
    return mixed, tf.where(unknown, -tf.ones_like(labels), labels)


def waveform_mixup(
    x1, y1, x2, y2, alpha=2.0, rate=0.5, seed=None, container_samples=None
):
    """Mixes a clip with a partner with probability `rate` (`MixupDataset`).

    The partner is drawn by the caller uniformly from the whole training
    set (see `classification_dataset`); `lam ~ Beta(alpha, alpha)`, folded
    to `max(lam, 1 - lam)`; the mix is `mix_pair`. An unmixed clip is
    returned unchanged (no de-meaning), as in the reference.

    Args:
        x1, y1: the clip and its float label.
        x2, y2: the partner and its label.
        alpha: float. Defaults to `2.0` (the authors' fixed Beta(2, 2)).
        rate: float. Probability of mixing. Defaults to `0.5`.
        seed: optional int tensor `(2,)`, the stateless seed.
        container_samples: int or `None`. See `mix_pair`.

    Returns:
        `(x, y)`.

    Examples:

    >>> x, y = waveform_mixup(tf.ones([3]), tf.constant([1.0, 0.0]),
    ...                       tf.zeros([3]), tf.constant([0.0, 1.0]),
    ...                       rate=0.0, seed=tf.constant([1, 2], "int64"))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([1.0, 1.0, 1.0], [1.0, 0.0])
    """
    use = tf.random.stateless_uniform([], _seed(seed, 43)) < rate
    lam = beta_lambda(alpha, seed)
    mixed, labels = mix_pair(x1, y1, x2, y2, lam, container_samples)
    x1 = tf.convert_to_tensor(x1, tf.float32)
    y1 = tf.cast(y1, tf.float32)
    return tf.where(use, mixed, x1), tf.where(use, labels, y1)


def biquad_coefficients(kind, cutoff, sample_rate, q=0.707):
    """RBJ cookbook 2-pole high/low-pass coefficients (sox's default).

    Args:
        kind: `"highpass"` or `"lowpass"`.
        cutoff: float. Cutoff in Hz.
        sample_rate: int. Rate in Hz.
        q: float. Quality factor. Defaults to `0.707` (sox, torchaudio).

    Returns:
        `(b, a)`, float64 arrays of 3 taps, `a[0] = 1`.

    Examples:

    >>> b, a = biquad_coefficients("lowpass", 1000, 32000)
    >>> round(float(b.sum() / a.sum()), 6)  # unit gain at DC
    1.0
    """
    if kind not in ("highpass", "lowpass"):
        raise ValueError(
            f"`kind` must be 'highpass' or 'lowpass'. Received: kind={kind!r}"
        )
    w0 = 2.0 * np.pi * float(cutoff) / float(sample_rate)
    alpha = np.sin(w0) / (2.0 * q)
    cos = np.cos(w0)
    if kind == "lowpass":
        b = np.array([(1 - cos) / 2, 1 - cos, (1 - cos) / 2])
    else:
        b = np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2])
    a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return b / a[0], a / a[0]


def _biquad_filter(waveform, kind, cutoff, sample_rate):
    """sox `highpass`/`lowpass`: clip to [-1, 1], filter, clip (numpy)."""
    import scipy.signal

    b, a = biquad_coefficients(kind, float(cutoff), int(sample_rate))
    # float32 runs twice as fast as float64 and is far below the 16-bit
    # resolution sox works at.
    x = np.clip(np.asarray(waveform, np.float32), -1.0, 1.0)
    y = scipy.signal.lfilter(b.astype(np.float32), a.astype(np.float32), x, 0)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def _tf_biquad(waveform, kind, cutoff, sample_rate):
    out = tf.numpy_function(
        lambda x, c: _biquad_filter(x, kind, c, sample_rate),
        [waveform, cutoff],
        tf.float32,
        stateful=False,
    )
    return tf.ensure_shape(out, waveform.shape)


def extra_augment(
    waveform,
    sample_rate,
    seed=None,
    probability=0.5,
    snr_db=(0.0, 15.0),
    volume_db=(-2.0, 2.0),
    highpass_hz=HIGHPASS_CUTOFFS,
    lowpass_hz=LOWPASS_CUTOFFS,
):
    """The authors' "extra augment": noise, volume, high-pass, low-pass.

    augly 0.2.1 `Compose` in the reference (`esc50/dataset.py:146-156`):
    each transform draws its parameter and fires with marginal probability
    1/2, independently, in this order:

    - background noise: `snr ~ U(0, 15)` dB, white Gaussian noise scaled
      by RMS: `x + n * rms(x) / 10**(snr/20) / rms(n)` (no clipping);
    - volume: `v ~ U(-2, 2)` dB, `clip(x * 10**(v/20), -1, 1)` (sox `vol`);
    - high-pass: cutoff uniform over 5, 6, ..., 12 kHz; low-pass: over
      1, ..., 5 kHz; sox's 2-pole RBJ biquad (Q 0.707) via
      `scipy.signal.lfilter`, input and output clipped to [-1, 1].

    The reference's fifth transform, speed 0.8-1.2, is a no-op there (augly
    returns the same samples with a new rate, which the caller discards),
    so it is not applied.

    Args:
        waveform: float32 tensor `(samples,)` or `(samples, channels)`
            with a static shape.
        sample_rate: int. Rate in Hz.
        seed: optional int tensor `(2,)`, the stateless seed.
        probability: float. Chance each transform fires. Defaults to `0.5`.
        snr_db: `(low, high)` noise SNR range in dB, or `None` (no noise).
        volume_db: `(low, high)` volume range in dB, or `None`.
        highpass_hz: the high-pass cutoffs to choose from, or `None`.
        lowpass_hz: the low-pass cutoffs to choose from, or `None`.

    Returns:
        float32 tensor, same shape.

    Examples:

    >>> x = tf.sin(tf.range(3200, dtype=tf.float32) * 0.3) * 0.5
    >>> y = extra_augment(x, 32000, seed=tf.constant([1, 2], "int64"))
    >>> y.shape
    TensorShape([3200])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    fires = tf.random.stateless_uniform([4], _seed(seed, 51)) < probability
    params = tf.random.stateless_uniform([4], _seed(seed, 53))

    def noise(x):
        snr = snr_db[0] + params[0] * (snr_db[1] - snr_db[0])
        n = tf.random.stateless_normal(tf.shape(x), _seed(seed, 59))

        def rms(v):
            return tf.sqrt(tf.reduce_mean(tf.square(v)))

        scale = rms(x) / tf.pow(10.0, snr / 20.0) / tf.maximum(rms(n), 1e-12)
        return x + n * scale

    def volume(x):
        db = volume_db[0] + params[1] * (volume_db[1] - volume_db[0])
        return tf.clip_by_value(x * tf.pow(10.0, db / 20.0), -1.0, 1.0)

    def pick(choices, u):
        choices = tf.constant(choices, tf.float32)
        index = tf.cast(u * choices.shape[0], tf.int32)
        return tf.gather(choices, tf.minimum(index, choices.shape[0] - 1))

    x = waveform
    if snr_db is not None:
        x = tf.cond(fires[0], lambda: noise(x), lambda: x)
    if volume_db is not None:
        x = tf.cond(fires[1], lambda: volume(x), lambda: x)
    if highpass_hz:
        high = pick(highpass_hz, params[2])
        x = tf.cond(
            fires[2], lambda: _tf_biquad(x, "highpass", high, sample_rate),
            lambda: x,
        )  # fmt: skip
    if lowpass_hz:
        low = pick(lowpass_hz, params[3])
        x = tf.cond(
            fires[3], lambda: _tf_biquad(x, "lowpass", low, sample_rate),
            lambda: x,
        )  # fmt: skip
    return tf.ensure_shape(x, waveform.shape)
