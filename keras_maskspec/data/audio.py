"""Reading, resampling and cropping audio, in graph where possible.

Two decode paths feed the same `(samples,)` or `(samples, channels)` float32
output:

- in graph: 16-bit PCM WAV files at a common rate (16, 22.05, 32, 44.1 or
  48 kHz) up to twice the clip length are read with
  `tf.io.read_file` + `tf.audio.decode_wav` and resampled by `tf_resample`, a
  polyphase windowed-sinc resampler written in TF ops (the same filter as
  `scipy.signal.resample_poly`). FLAC/MP3/OGG go in graph too when
  tensorflow-io's compiled kernels load (`tfio_available()`), which they do
  only on TF <= 2.17.
- in Python: everything else (8/24/32-bit and float WAV, FLAC, OGG/Vorbis,
  MP3, AIFF, ... anything libsndfile reads) goes through `soundfile` inside
  `tf.numpy_function`, under `Dataset.map(num_parallel_calls=AUTOTUNE)`, so
  several clips decode at once. Long files are not decoded whole: only the
  window to be cropped (plus a few ms of resampler context) is read.

Channel modes (`channels=`): `"mono"` (mean of all channels), `"left"`,
`"right"` (the left channel for mono files), `"mid"` ((L + R) / 2), `"side"`
((L - R) / 2) and `"all"` (keep `num_channels` channels, repeating the last
one for files with fewer).
"""

import functools
import math
import os

import numpy as np
import scipy.signal
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import bad_clips

AUDIO_EXTENSIONS = (
    ".wav",
    ".wave",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".aif",
    ".aiff",
    ".aifc",
    ".au",
    ".snd",
    ".w64",
    ".rf64",
    ".caf",
)
CHANNEL_MODES = ("mono", "left", "right", "mid", "side", "all")
# Input rates the in-graph WAV path handles; other rates use the Python path.
# Each rate is one traced branch (about 0.1 s to build), so only common ones.
GRAPH_WAV_RATES = (16000, 22050, 32000, 44100, 48000)
# A file longer than this many times the needed window is read by window.
_LONG_FILE_FACTOR = 2

# Status codes returned next to every decoded clip.
STATUS_OK = 0
_STATUS_REASONS = {
    1: bad_clips.UNREADABLE,
    2: bad_clips.NOT_AUDIO,
    3: bad_clips.EMPTY,
    4: bad_clips.NON_FINITE,
}
_REASON_STATUS = {v: k for k, v in _STATUS_REASONS.items()}


class AudioReadError(ValueError):
    """A clip could not be used; `reason` says why (see `bad_clips`)."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def validate_channels(channels, num_channels=2):
    """Checks a `channels` mode and returns the output channel count or None.

    Args:
        channels: str. One of `"mono"`, `"left"`, `"right"`, `"mid"`,
            `"side"`, `"all"`.
        num_channels: int. Channels kept when `channels="all"`.

    Returns:
        `num_channels` for `"all"`, else `None` (a 1-D waveform).

    Examples:

    >>> validate_channels("mid") is None
    True
    >>> validate_channels("all", num_channels=2)
    2
    """
    if channels not in CHANNEL_MODES:
        raise ValueError(
            f"`channels` must be one of {CHANNEL_MODES}. "
            f"Received: channels={channels!r}"
        )
    if channels == "all":
        if int(num_channels) < 1:
            raise ValueError(
                "`num_channels` must be >= 1. "
                f"Received: num_channels={num_channels}"
            )
        return int(num_channels)
    return None


@functools.lru_cache(maxsize=1)
def tfio_available():
    """Whether tensorflow-io is installed and its compiled kernels load.

    tensorflow-io 0.37.1's kernels only load on TF <= 2.17; on newer TF the
    import works but the first decode fails. The check decodes a tiny FLAC
    once and caches the answer.

    Returns:
        bool.

    Examples:

    >>> isinstance(tfio_available(), bool)
    True
    """
    try:
        import io

        import tensorflow_io as tfio

        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(64, "int16"), 16000, format="FLAC")
        decoded = tfio.audio.decode_flac(
            tf.constant(buffer.getvalue()), dtype=tf.int16
        )
        return int(decoded.shape[0]) == 64
    except Exception:  # noqa: BLE001 - any failure skips the clip
        return False


def mix_channels(audio, channels="mono", num_channels=2):
    """Selects or mixes channels of a `(samples, channels)` numpy array.

    Args:
        audio: array of shape `(samples, channels)`.
        channels: str. Channel mode, see the module docstring.
        num_channels: int. Channels kept when `channels="all"`.

    Returns:
        float32 array `(samples,)`, or `(samples, num_channels)` for `"all"`.

    Examples:

    >>> stereo = np.array([[1.0, 0.0], [0.5, 0.5]], "float32")
    >>> mix_channels(stereo, "side").tolist()
    [0.5, 0.0]
    >>> mix_channels(stereo[:, :1], "all", num_channels=2).shape
    (2, 2)
    """
    validate_channels(channels, num_channels)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    count = audio.shape[1]
    left = audio[:, 0]
    right = audio[:, min(1, count - 1)]
    if channels == "mono":
        return audio.mean(axis=1)
    if channels == "left":
        return left
    if channels == "right":
        return right
    if channels == "mid":
        return 0.5 * (left + right)
    if channels == "side":
        return 0.5 * (left - right)
    index = np.minimum(np.arange(num_channels), count - 1)
    return audio[:, index]


def tf_mix_channels(audio, channels="mono", num_channels=2):
    """`mix_channels` in TF ops, for `(samples, channels)` tensors.

    Args:
        audio: float tensor `(samples, channels)`.
        channels: str. Channel mode, see the module docstring.
        num_channels: int. Channels kept when `channels="all"`.

    Returns:
        float32 tensor `(samples,)`, or `(samples, num_channels)`.

    Examples:

    >>> stereo = tf.constant([[1.0, 0.0], [0.5, 0.5]])
    >>> tf_mix_channels(stereo, "mid").numpy().tolist()
    [0.5, 0.5]
    """
    validate_channels(channels, num_channels)
    audio = tf.convert_to_tensor(audio, tf.float32)
    count = tf.shape(audio)[1]
    left = audio[:, 0]
    right = tf.gather(audio, tf.minimum(1, count - 1), axis=1)
    if channels == "mono":
        return tf.reduce_mean(audio, axis=1)
    if channels == "left":
        return left
    if channels == "right":
        return right
    if channels == "mid":
        return 0.5 * (left + right)
    if channels == "side":
        return 0.5 * (left - right)
    index = tf.minimum(tf.range(num_channels), count - 1)
    return tf.gather(audio, index, axis=1)


def _ratio(orig_rate, target_rate):
    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(
            "Sample rates must be positive. "
            f"Received: orig_rate={orig_rate}, target_rate={target_rate}"
        )
    g = math.gcd(orig_rate, target_rate)
    return target_rate // g, orig_rate // g


def resample(waveform, orig_rate, target_rate):
    """Anti-aliased resampling of a numpy waveform along axis 0.

    A thin wrapper around `scipy.signal.resample_poly` (polyphase FIR,
    Kaiser-windowed sinc with beta 5 and 10 zero crossings per side).

    Args:
        waveform: array `(samples,)` or `(samples, channels)`.
        orig_rate: int. The waveform's sample rate in Hz.
        target_rate: int. The wanted sample rate in Hz.

    Returns:
        float32 array with `ceil(samples * target_rate / orig_rate)` samples.

    Examples:

    >>> resample(np.ones(441, "float32"), 44100, 32000).shape
    (320,)
    """
    up, down = _ratio(orig_rate, target_rate)
    waveform = np.asarray(waveform, dtype=np.float32)
    if up == down:
        return waveform
    return scipy.signal.resample_poly(waveform, up, down, axis=0).astype(
        np.float32
    )


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
    half_len = 10 * max_rate
    h = scipy.signal.firwin(2 * half_len + 1, 1.0 / max_rate,
                            window=("kaiser", 5.0)) * up  # fmt: skip
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
    up, down = _ratio(orig_rate, target_rate)
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


def crop_or_pad(waveform, num_samples, random=False, seed=None):
    """Crops or zero-pads axis 0 of a tensor to `num_samples`, in graph.

    Args:
        waveform: tensor `(samples,)` or `(samples, channels)`.
        num_samples: int. Output length.
        random: bool. Random crop (training) instead of the centre crop
            (evaluation). Short clips are padded at the end either way.
            Defaults to `False`.
        seed: optional int tensor of shape `(2,)`, the stateless seed of the
            random crop. Defaults to `None` (unseeded).

    Returns:
        tensor `(num_samples,)` or `(num_samples, channels)`.

    Examples:

    >>> crop_or_pad(tf.range(10), 4).numpy().tolist()
    [3, 4, 5, 6]
    >>> crop_or_pad(tf.range(3), 5).numpy().tolist()
    [0, 1, 2, 0, 0]
    """
    waveform = tf.convert_to_tensor(waveform)
    length = tf.shape(waveform)[0]
    excess = tf.maximum(length - num_samples, 0)
    if random:
        shape = []
        if seed is None:
            u = tf.random.uniform(shape)
        else:
            u = tf.random.stateless_uniform(shape, tf.cast(seed, tf.int64))
        start = tf.minimum(
            tf.cast(u * tf.cast(excess + 1, tf.float32), tf.int32), excess
        )
    else:
        start = excess // 2
    cropped = waveform[start : start + num_samples]
    pad = num_samples - tf.shape(cropped)[0]
    paddings = [[0, pad]] + [[0, 0]] * (waveform.shape.rank - 1)
    cropped = tf.pad(cropped, paddings)
    return tf.ensure_shape(cropped, [num_samples] + waveform.shape[1:])


def sliding_windows(waveform, window_samples, hop_samples, pad_end=True):
    """Cuts a long clip into overlapping fixed-length windows (evaluation).

    Args:
        waveform: tensor or array `(samples,)` or `(samples, channels)`.
        window_samples: int. Window length.
        hop_samples: int. Step between window starts.
        pad_end: bool. Zero-pad so the last window reaches the end of the
            clip (a clip shorter than one window gives one padded window).
            Defaults to `True`.

    Returns:
        tensor `(num_windows, window_samples[, channels])`.

    Examples:

    >>> sliding_windows(np.arange(10.0), 4, 3).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0], [3.0, 4.0, 5.0, 6.0], [6.0, 7.0, 8.0, 9.0]]
    """
    if int(window_samples) < 1 or int(hop_samples) < 1:
        raise ValueError(
            "`window_samples` and `hop_samples` must be >= 1. Received: "
            f"window_samples={window_samples}, hop_samples={hop_samples}"
        )
    waveform = tf.convert_to_tensor(waveform)
    if pad_end:
        length = tf.shape(waveform)[0]
        steps = tf.maximum(
            0, -(-(length - window_samples) // hop_samples)
        )  # ceil
        total = steps * hop_samples + window_samples
        paddings = [[0, total - length]] + [[0, 0]] * (waveform.shape.rank - 1)
        waveform = tf.pad(waveform, paddings)
    return tf.signal.frame(waveform, window_samples, hop_samples, axis=0)


def _as_path(value):
    """Path from a `numpy_function` argument (bytes or a 0-d array)."""
    if isinstance(value, np.ndarray):
        value = value.item()
    return os.fsdecode(value)


def _read_error(path, exc):
    if not os.path.exists(path):
        return AudioReadError(f"File not found: {path}", bad_clips.UNREADABLE)
    if os.path.isdir(path) or not os.access(path, os.R_OK):
        return AudioReadError(f"Cannot read: {path}", bad_clips.UNREADABLE)
    if os.path.getsize(path) == 0:
        return AudioReadError(f"Zero-byte file: {path}", bad_clips.EMPTY)
    return AudioReadError(f"Cannot decode {path}: {exc}", bad_clips.NOT_AUDIO)


def load_audio(
    path,
    sample_rate=None,
    channels="mono",
    num_samples=None,
    random_crop=False,
    seed=None,
    num_channels=2,
):
    """Reads one clip with soundfile, mixed, resampled and cropped.

    Only the needed window of a long file is read from disk (plus resampler
    context), so an hour-long file costs the same as a 10 s one.

    Args:
        path: str. Any file libsndfile reads (WAV, FLAC, OGG, MP3, ...).
        sample_rate: int. Output rate in Hz; `None` keeps the file's rate.
        channels: str. Channel mode, see the module docstring. Defaults to
            `"mono"`.
        num_samples: int. Crop/pad the output to this length; `None` returns
            the whole file.
        random_crop: bool. Random window instead of the centre one.
            Defaults to `False`.
        seed: int or `numpy.random.Generator` for the random window.
        num_channels: int. Channels kept when `channels="all"`.

    Returns:
        float32 array `(samples,)` or `(samples, num_channels)`.

    Raises:
        AudioReadError: the file is missing, unreadable, not audio, empty or
            holds NaN/Inf samples; `.reason` says which.

    Examples:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.flac")
    >>> t = np.arange(44100) / 44100
    >>> sf.write(path, np.sin(2 * np.pi * 440 * t), 44100)
    >>> load_audio(path, sample_rate=32000).shape
    (32000,)
    >>> load_audio(path, sample_rate=32000, num_samples=16000).shape
    (16000,)
    """
    validate_channels(channels, num_channels)
    path = os.fsdecode(path)
    rng = np.random.default_rng(seed)
    try:
        with sf.SoundFile(path) as f:
            orig_rate, frames = f.samplerate, f.frames
            rate = orig_rate if sample_rate is None else int(sample_rate)
            up, down = _ratio(orig_rate, rate)
            window, start, stop = None, 0, frames
            if num_samples is not None and f.seekable():
                window = -(-int(num_samples) * down // up)
                # Context for the resampler, a whole number of input periods
                # so output samples stay on the same grid.
                margin = down * -(-(10 * max(up, down) // up + 2) // down)
                if frames > _LONG_FILE_FACTOR * window + 2 * margin:
                    if random_crop:
                        offset = int(rng.integers(0, frames - window + 1))
                    else:
                        offset = (frames - window) // 2
                    start = max(0, offset - margin)
                    stop = min(frames, offset + window + margin)
                    f.seek(start)
                else:
                    window = None
            audio = f.read(stop - start, dtype="float32", always_2d=True)
    except AudioReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure skips the clip
        raise _read_error(path, exc) from None
    if audio.shape[0] == 0:
        raise AudioReadError(f"No samples in {path}", bad_clips.EMPTY)
    if not np.isfinite(audio).all():
        raise AudioReadError(f"NaN/Inf samples in {path}", bad_clips.NON_FINITE)
    audio = resample(mix_channels(audio, channels, num_channels), orig_rate,
                     rate)  # fmt: skip
    if num_samples is None:
        return audio
    num_samples = int(num_samples)
    if window is not None:
        first = round((offset - start) * up / down)
        audio = audio[first : first + num_samples]
    elif audio.shape[0] > num_samples:
        excess = audio.shape[0] - num_samples
        first = int(rng.integers(0, excess + 1)) if random_crop else excess // 2
        audio = audio[first : first + num_samples]
    if audio.shape[0] < num_samples:
        pad = [(0, num_samples - audio.shape[0])] + [(0, 0)] * (audio.ndim - 1)
        audio = np.pad(audio, pad)
    return audio


def probe_pcm16_wav(path, max_frames=None):
    """Returns the sample rate of a WAV `tf.audio.decode_wav` can decode.

    Parses the RIFF header only: 16-bit PCM, `fmt ` chunk first (what TF
    expects), a complete `data` chunk, at most `max_frames` frames. Returns
    0 for anything else (then the soundfile path decides what it is).

    Args:
        path: str. File path.
        max_frames: int. Longer files return 0 (they are read by window).

    Returns:
        int, the sample rate in Hz, or 0.

    Examples:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.zeros(100), 16000, subtype="PCM_16")
    >>> probe_pcm16_wav(path)
    16000
    >>> sf.write(path, np.zeros(100), 16000, subtype="PCM_24")
    >>> probe_pcm16_wav(path)
    0
    """
    try:
        with open(os.fsdecode(path), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(36)
            if (
                len(head) < 36
                or head[:4] != b"RIFF"
                or head[8:16] != b"WAVEfmt "
            ):
                return 0
            fmt_size = int.from_bytes(head[16:20], "little")
            fmt_tag = int.from_bytes(head[20:22], "little")
            num_ch = int.from_bytes(head[22:24], "little")
            rate = int.from_bytes(head[24:28], "little")
            block = int.from_bytes(head[32:34], "little")
            bits = int.from_bytes(head[34:36], "little")
            if fmt_size not in (16, 18) or fmt_tag != 1 or bits != 16:
                return 0
            if num_ch < 1 or block != 2 * num_ch:
                return 0
            pos = 20 + fmt_size
            while pos + 8 <= size:
                f.seek(pos)
                chunk = f.read(8)
                length = int.from_bytes(chunk[4:8], "little")
                if chunk[:4] == b"data":
                    frames = length // block
                    if pos + 8 + length > size or frames == 0:
                        return 0
                    if max_frames is not None and frames > max_frames:
                        return 0
                    return rate
                pos += 8 + length + (length & 1)
    except OSError:
        return 0
    return 0


def make_decoder(
    sample_rate,
    num_samples,
    channels="mono",
    num_channels=2,
    training=False,
    report=None,
    use_graph_wav=True,
    use_tfio=None,
):
    """Returns `decode(path, seed) -> (waveform, ok)` for `Dataset.map`.

    `waveform` has the static shape `(num_samples[, num_channels])`; `ok` is
    a bool scalar, false for a skipped clip (recorded in `report`).

    Args:
        sample_rate: int. Output rate in Hz.
        num_samples: int. Output length.
        channels: str. Channel mode. Defaults to `"mono"`.
        num_channels: int. Channels kept when `channels="all"`.
        training: bool. Random crop when true, centre crop otherwise.
        report: `BadClipReport` to record skipped clips in.
        use_graph_wav: bool. Decode 16-bit WAV in graph. Defaults to `True`.
        use_tfio: bool. Decode FLAC/MP3/OGG with tensorflow-io in graph;
            `None` means "if its kernels load".

    Returns:
        A function of `(path, seed)`: a string scalar and an int64 `(2,)`
        stateless seed.

    Examples:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.ones(22050) * 0.5, 22050, subtype="PCM_16")
    >>> decode = make_decoder(32000, 8000)
    >>> waveform, ok = decode(tf.constant(path), tf.constant([0, 0], "int64"))
    >>> waveform.shape, bool(ok)
    (TensorShape([8000]), True)
    """
    out_channels = validate_channels(channels, num_channels)
    report = report if report is not None else bad_clips.BadClipReport()
    shape = [num_samples] + ([out_channels] if out_channels else [])
    if use_tfio is None:
        use_tfio = tfio_available()

    def python_decode(path, seed):
        path = _as_path(path)
        try:
            audio = load_audio(
                path,
                sample_rate,
                channels,
                num_samples,
                random_crop=training,
                seed=[int(s) & 0x7FFFFFFF for s in seed],
                num_channels=num_channels,
            )
            return audio.astype(np.float32), np.int32(STATUS_OK)
        except AudioReadError as exc:
            report.record(path, exc.reason)
            status = _REASON_STATUS.get(exc.reason, 2)
        except Exception:  # noqa: BLE001 - any failure skips the clip
            report.record(path, bad_clips.NOT_AUDIO)
            status = 2
        return np.zeros(shape, np.float32), np.int32(status)

    def python_branch(path, seed):
        audio, status = tf.numpy_function(
            python_decode, [path, seed], [tf.float32, tf.int32], stateful=False
        )
        return tf.ensure_shape(audio, shape), status

    def graph_branch(audio, orig_rate, seed):
        audio = tf_mix_channels(audio, channels, num_channels)
        audio = tf_resample(audio, orig_rate, sample_rate)
        audio = crop_or_pad(audio, num_samples, random=training, seed=seed)
        return audio, tf.constant(STATUS_OK, tf.int32)

    def wav_branch(path, seed, rate):
        audio, _ = tf.audio.decode_wav(tf.io.read_file(path))
        return graph_branch(audio, rate, seed)

    def probe(path):
        path = _as_path(path)
        rate = probe_pcm16_wav(path)
        if rate not in GRAPH_WAV_RATES:
            return np.int32(-1)
        frames_needed = -(-num_samples * rate // sample_rate)
        if probe_pcm16_wav(path, _LONG_FILE_FACTOR * frames_needed) != rate:
            return np.int32(-1)
        return np.int32(GRAPH_WAV_RATES.index(rate))

    def decode_core(path, seed):
        if not use_graph_wav:
            return python_branch(path, seed)
        is_wav = tf.strings.regex_full_match(
            tf.strings.lower(path), r".*\.wave?"
        )
        route = tf.cond(
            is_wav,
            lambda: tf.numpy_function(probe, [path], tf.int32, stateful=False),
            lambda: tf.constant(-1, tf.int32),
        )
        branches = [
            functools.partial(wav_branch, path, seed, rate)
            for rate in GRAPH_WAV_RATES
        ]
        branches.append(lambda: python_branch(path, seed))
        route = tf.where(route < 0, len(GRAPH_WAV_RATES), route)
        return tf.switch_case(route, branches)

    tfio_kinds = (".flac", ".mp3", ".ogg")

    def tfio_probe(path):
        path = _as_path(path)
        ext = os.path.splitext(path)[1].lower()
        try:
            info = sf.info(path)
        except Exception:  # noqa: BLE001 - any failure skips the clip
            return np.int32(-1)
        needed = -(-num_samples * info.samplerate // sample_rate)
        if (
            ext not in tfio_kinds
            or info.samplerate not in GRAPH_WAV_RATES
            or not 0 < info.frames <= _LONG_FILE_FACTOR * needed
        ):
            return np.int32(-1)
        index = tfio_kinds.index(ext) * len(GRAPH_WAV_RATES)
        return np.int32(index + GRAPH_WAV_RATES.index(info.samplerate))

    def tfio_branch(path, seed, ext, rate):
        import tensorflow_io as tfio

        data = tf.io.read_file(path)
        if ext == ".flac":
            audio = tfio.audio.decode_flac(data, dtype=tf.int16)
            audio = tf.cast(audio, tf.float32) / 32768.0
        elif ext == ".mp3":
            audio = tfio.audio.decode_mp3(data)
        else:
            audio = tfio.audio.decode_vorbis(data)
        return graph_branch(audio, rate, seed)

    def decode_core_tfio(path, seed):
        # Only short files at a known rate go to tensorflow-io; the header
        # is checked by soundfile first, everything else falls through.
        is_tfio = tf.strings.regex_full_match(
            tf.strings.lower(path), r".*\.(flac|mp3|ogg)"
        )
        route = tf.cond(
            is_tfio,
            lambda: tf.numpy_function(
                tfio_probe, [path], tf.int32, stateful=False
            ),
            lambda: tf.constant(-1, tf.int32),
        )
        branches = [
            functools.partial(tfio_branch, path, seed, ext, rate)
            for ext in tfio_kinds
            for rate in GRAPH_WAV_RATES
        ]
        branches.append(lambda: decode_core(path, seed))
        route = tf.where(route < 0, len(branches) - 1, route)
        return tf.switch_case(route, branches)

    core = decode_core_tfio if use_tfio else decode_core

    def decode(path, seed):
        path = tf.convert_to_tensor(path, tf.string)
        seed = tf.convert_to_tensor(seed, tf.int64)
        audio, status = core(path, seed)
        return tf.ensure_shape(audio, shape), tf.equal(status, STATUS_OK)

    return decode
