"""Anti-aliased resampling, in numpy and in TF ops.

`resample(..., method="polyphase")` (numpy, `scipy.signal.resample_poly`)
and `tf_resample` (graph, a polyphase matmul, used by serving and HEAR)
apply the same Kaiser-windowed sinc with `ZERO_CROSSINGS` zero crossings
per side, so they give the same samples. `method="soxr"` (libsoxr's HQ
filter, librosa's default resampler) is what the file decoders use: it
costs about half the CPU of `resample_poly` per clip; every file that
needs resampling goes through it (see `keras_maskspec.data.decode`).
"""

import functools
import math

import numpy as np
import scipy.signal
import tensorflow as tf

try:
    import soxr
except ImportError:  # pragma: no cover - soxr ships with the package deps
    soxr = None

# `scipy.signal.resample_poly`'s default filter: the half length is
# `ZERO_CROSSINGS * max(up, down)` taps, Kaiser window with this beta.
ZERO_CROSSINGS = 10
KAISER_BETA = 5.0
RESAMPLE_METHODS = ("polyphase", "soxr")


def rate_ratio(orig_rate, target_rate):
    """Returns `(up, down)`, the reduced ratio `target_rate / orig_rate`.

    Args:
        orig_rate: int. Input rate in Hz.
        target_rate: int. Output rate in Hz.

    Returns:
        tuple of two ints.

    Examples:

    >>> rate_ratio(44100, 32000)
    (320, 441)
    """
    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(
            "Sample rates must be positive. "
            f"Received: orig_rate={orig_rate}, target_rate={target_rate}"
        )
    g = math.gcd(orig_rate, target_rate)
    return target_rate // g, orig_rate // g


def context_samples(up, down):
    """Input samples of filter context a window needs on each side.

    A whole number of input periods (`down`), so output samples computed
    from a window stay on the grid of the whole file's output.

    Args:
        up: int. Upsampling factor from `rate_ratio`.
        down: int. Downsampling factor from `rate_ratio`.

    Returns:
        int.

    Examples:

    >>> context_samples(320, 441)
    441
    """
    return down * -(-(ZERO_CROSSINGS * max(up, down) // up + 2) // down)


def resample(waveform, orig_rate, target_rate, method="polyphase"):
    """Anti-aliased resampling of a numpy waveform along axis 0.

    Args:
        waveform: array `(samples,)` or `(samples, channels)`.
        orig_rate: int. The waveform's sample rate in Hz.
        target_rate: int. The wanted sample rate in Hz.
        method: str. `"polyphase"`: `scipy.signal.resample_poly`
            (Kaiser-windowed sinc, beta 5, 10 zero crossings per side), the
            filter `tf_resample` applies in graph. `"soxr"`: libsoxr's HQ
            filter (what `librosa.load` uses), about half the CPU time;
            falls back to `"polyphase"` if the `soxr` package is missing.
            Defaults to `"polyphase"`.

    Returns:
        float32 array with `ceil(samples * target_rate / orig_rate)` samples
        (`"polyphase"`; soxr rounds to the nearest sample instead).

    Examples:

    >>> resample(np.ones(441, "float32"), 44100, 32000).shape
    (320,)
    >>> resample(np.ones(44100, "float32"), 44100, 32000, "soxr").shape
    (32000,)
    """
    if method not in RESAMPLE_METHODS:
        raise ValueError(
            f"`method` must be one of {RESAMPLE_METHODS}. Received: "
            f"method={method!r}"
        )
    up, down = rate_ratio(orig_rate, target_rate)
    waveform = np.asarray(waveform, dtype=np.float32)
    if up == down:
        return waveform
    if method == "soxr" and soxr is not None:
        out = soxr.resample(
            np.ascontiguousarray(waveform), orig_rate, target_rate, "HQ"
        )
        return np.asarray(out, np.float32)
    out = scipy.signal.resample_poly(
        waveform, up, down, axis=0, window=("kaiser", KAISER_BETA)
    )
    return out.astype(np.float32)


@tf.autograph.experimental.do_not_convert
@functools.lru_cache(maxsize=64)
def _polyphase_matrix(up, down):
    """Builds the frame-to-output matrix equivalent to `resample_poly`.

    `resample_poly` computes `y[n] = sum_l x[l] h[(n + pre) * down - l * up]`.
    Output `n = r * up + q` only needs inputs near `r * down`, so framing the
    input with hop `down` turns the whole resampler into one matmul from each
    frame to `up` outputs.
    """
    max_rate = max(up, down)
    half_len = ZERO_CROSSINGS * max_rate
    h = scipy.signal.firwin(2 * half_len + 1, 1.0 / max_rate,
                            window=("kaiser", KAISER_BETA)) * up  # fmt: skip
    n_pre_pad = down - half_len % down
    h = np.concatenate([np.zeros(n_pre_pad), h])
    pre = (half_len + n_pre_pad) // down
    taps = -(-len(h) // up)
    h = np.pad(h, (0, taps * up - len(h)))
    bank = h.reshape(taps, up).T  # bank[p, j] = h[p + j * up]
    q = np.arange(up)
    t = (q + pre) * down
    base, phase = t // up, t % up
    min_base = int(base.min())
    span = int(base.max()) - min_base + taps
    matrix = np.zeros((span, up), np.float32)
    for j in range(taps):
        matrix[base - min_base + taps - 1 - j, q] = bank[phase, j]
    return matrix, taps, min_base


def tf_resample(waveform, orig_rate, target_rate):
    """Anti-aliased resampling in TF ops, matching `resample_poly`.

    Rates are Python ints (the filter is a constant); the waveform length
    may be dynamic, so this runs inside `tf.data` maps and `tf.function`s.

    Args:
        waveform: float tensor `(samples,)` or `(samples, channels)`.
        orig_rate: int. The waveform's sample rate in Hz.
        target_rate: int. The wanted sample rate in Hz.

    Returns:
        float32 tensor with `ceil(samples * target_rate / orig_rate)` samples.

    Examples:

    >>> x = np.random.default_rng(0).normal(size=4410).astype("float32")
    >>> y = tf_resample(x, 44100, 32000)
    >>> y.shape
    TensorShape([3200])
    >>> ref = scipy.signal.resample_poly(x, 320, 441)
    >>> bool(np.allclose(y.numpy(), ref, atol=1e-4))
    True
    """
    up, down = rate_ratio(orig_rate, target_rate)
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if up == down:
        return waveform
    matrix, taps, min_base = _polyphase_matrix(up, down)
    span = matrix.shape[0]
    n_in = tf.shape(waveform, out_type=tf.int64)[0]
    n_out = (n_in * up + down - 1) // down
    num_frames = (n_out + up - 1) // up
    pad_left = taps - 1
    paddings = [[pad_left, span + down]] + [[0, 0]] * (waveform.shape.rank - 1)
    padded = tf.pad(waveform, paddings)[min_base:]
    frames = tf.signal.frame(padded, span, down, axis=0)[:num_frames]
    if waveform.shape.rank == 1:
        out = tf.matmul(frames, matrix)
        return tf.reshape(out, [-1])[:n_out]
    out = tf.einsum("rkc,kq->rqc", frames, matrix)
    return tf.reshape(out, [-1, tf.shape(waveform)[1]])[:n_out]
