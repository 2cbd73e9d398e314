"""Decoding audio files to clips: soundfile in Python, or TF ops in graph.

Two decode paths feed the same `(samples,)` or `(samples, channels)` float32
output:

- in graph: 16-bit PCM WAV files already at the output rate, up to twice
  the clip length, are read with `tf.io.read_file` + `tf.audio.decode_wav`.
  FLAC/MP3/OGG at the output rate go in graph too when tensorflow-io's
  compiled kernels load (`tfio_available()`), which they do only on
  TF <= 2.17.
- in Python: everything else (files that need resampling, 8/24/32-bit and
  float WAV, FLAC, OGG/Vorbis, MP3, AIFF, ... anything libsndfile reads)
  goes through `load_audio` (soundfile + soxr) inside `tf.numpy_function`,
  under `Dataset.map(num_parallel_calls=AUTOTUNE)`. Long files are not
  decoded whole: only the window to be cropped (plus resampler context) is
  read. Resampling stays out of the graph: per 10 s of 44.1 kHz stereo,
  `tf.audio.decode_wav` costs about 4x the CPU of libsndfile and the
  in-graph polyphase matmul about 16x the multiply-adds of soxr (issue 14,
  `benchmarks/data_pipeline.py`).

`make_decoder` chains them: tensorflow-io (if used) falls back to the graph
WAV reader, which falls back to soundfile. Each step routes a path by its
extension and a cheap header probe.
"""

import dataclasses
import functools
import os

import numpy as np
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import clips
from keras_maskspec.data import formats
from keras_maskspec.data import resampling

# A file longer than this many times the needed window is read by window.
_LONG_FILE_FACTOR = 2

# Status codes returned by the Python decoder next to every clip.
_OK = 0
_FAILURE_STATUS = {
    bad_clips.UNREADABLE: 1,
    bad_clips.NOT_AUDIO: 2,
    bad_clips.EMPTY: 3,
    bad_clips.NON_FINITE: 4,
}


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
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


# --- The Python path: soundfile -------------------------------------------

# Subtypes whose samples are exact in int16: libsndfile hands them over
# without conversion, and its own float conversion costs about 8x the read
# (2.1 ms vs 0.3 ms for 10 s of 44.1 kHz stereo; issue 14).
_INT16_SUBTYPES = frozenset({"PCM_16", "PCM_S8", "PCM_U8"})


def read_float32(sound_file, frames=-1):
    """Reads `frames` frames of an open `soundfile.SoundFile` as float32.

    The result equals `sound_file.read(frames, dtype="float32",
    always_2d=True)` sample for sample; 8- and 16-bit PCM are read as int16
    and scaled by 1 / 32768 in numpy, which is several times faster than
    libsndfile's own conversion.

    Args:
        sound_file: an open `soundfile.SoundFile`.
        frames: int. Frames to read from the current position; `-1` reads
            to the end. Defaults to `-1`.

    Returns:
        float32 array `(frames, channels)`.

    Examples:

    >>> import io
    >>> buffer = io.BytesIO()
    >>> sf.write(buffer, np.array([0.5, -0.25]), 8000, format="WAV")
    >>> _ = buffer.seek(0)
    >>> with sf.SoundFile(buffer) as f:
    ...     read_float32(f).tolist()
    [[0.5], [-0.25]]
    """
    if sound_file.subtype in _INT16_SUBTYPES:
        audio = sound_file.read(frames, dtype="int16", always_2d=True)
        audio = audio.astype(np.float32)
        audio *= np.float32(1.0 / 32768.0)
        return audio
    return sound_file.read(frames, dtype="float32", always_2d=True)


def _read_error(path, exc):
    if not os.path.exists(path):
        return bad_clips.AudioReadError(
            f"File not found: {path}", bad_clips.UNREADABLE
        )
    if os.path.isdir(path) or not os.access(path, os.R_OK):
        return bad_clips.AudioReadError(
            f"Cannot read: {path}", bad_clips.UNREADABLE
        )
    if os.path.getsize(path) == 0:
        return bad_clips.AudioReadError(
            f"Zero-byte file: {path}", bad_clips.EMPTY
        )
    return bad_clips.AudioReadError(
        f"Cannot decode {path}: {exc}", bad_clips.NOT_AUDIO
    )


def _window_plan(frames, up, down, num_samples, crop, rng):
    """Input frames `[start, stop)` to read for a crop of `num_samples`.

    Returns `(start, stop, first)`: `first` is the crop's first sample in
    the resampled window, or `None` when the file is short enough to read
    whole (then the crop is chosen after decoding).
    """
    window = -(-int(num_samples) * down // up)
    margin = resampling.context_samples(up, down)
    if frames <= _LONG_FILE_FACTOR * window + 2 * margin:
        return 0, frames, None
    if crop == "random":
        offset = int(rng.integers(0, frames - window + 1))
    elif crop == "start":
        offset = 0
    else:
        offset = (frames - window) // 2
    start = max(0, offset - margin)
    stop = min(frames, offset + window + margin)
    return start, stop, round((offset - start) * up / down)


def _crop_or_pad_numpy(audio, num_samples, first, crop, rng):
    if first is None and audio.shape[0] > num_samples:
        excess = audio.shape[0] - num_samples
        if crop == "random":
            first = int(rng.integers(0, excess + 1))
        else:
            first = 0 if crop == "start" else excess // 2
    if first is not None:
        audio = audio[first : first + num_samples]
    if audio.shape[0] < num_samples:
        pad = [(0, num_samples - audio.shape[0])] + [(0, 0)] * (audio.ndim - 1)
        audio = np.pad(audio, pad)
    return audio


def load_audio(
    path,
    sample_rate=None,
    channels="mono",
    num_samples=None,
    crop="centre",
    seed=None,
    num_channels=2,
):
    """Reads one clip with soundfile, mixed, resampled and cropped.

    Only the needed window of a long file is read from disk (plus resampler
    context), so an hour-long file costs the same as a 10 s one.

    Args:
        path: str. Any file libsndfile reads (WAV, FLAC, OGG, MP3, ...).
        sample_rate: int. Output rate in Hz; `None` keeps the file's rate.
        channels: str. Channel mode, see `keras_maskspec.data.clips`.
            Defaults to `"mono"`.
        num_samples: int. Crop/pad the output to this length; `None` returns
            the whole file.
        crop: str. Which window of a longer file: `"centre"`, `"random"` or
            `"start"` (see `keras_maskspec.data.clips`). Defaults to
            `"centre"`.
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
    clips.validate_channels(channels, num_channels)
    crop = clips.crop_mode(crop)
    path = os.fsdecode(path)
    rng = np.random.default_rng(seed)
    try:
        with sf.SoundFile(path) as f:
            orig_rate, frames = f.samplerate, f.frames
            rate = orig_rate if sample_rate is None else int(sample_rate)
            up, down = resampling.rate_ratio(orig_rate, rate)
            start, stop, first = 0, frames, None
            if num_samples is not None and f.seekable():
                start, stop, first = _window_plan(
                    frames, up, down, num_samples, crop, rng
                )
                if start:
                    f.seek(start)
            audio = read_float32(f, stop - start)
    except Exception as exc:  # noqa: BLE001 - any failure skips the clip
        raise _read_error(path, exc) from None
    if audio.shape[0] == 0:
        raise bad_clips.AudioReadError(f"No samples in {path}", bad_clips.EMPTY)
    if not np.isfinite(audio).all():
        raise bad_clips.AudioReadError(
            f"NaN/Inf samples in {path}", bad_clips.NON_FINITE
        )
    audio = clips.mix_channels(audio, channels, num_channels)
    audio = resampling.resample(audio, orig_rate, rate, method="soxr")
    if num_samples is None:
        return audio
    return _crop_or_pad_numpy(audio, int(num_samples), first, crop, rng)


# --- The graph decoder ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _ClipSpec:
    """What every decoded clip looks like (shared by all decode branches)."""

    sample_rate: int
    num_samples: int
    channels: str
    num_channels: int
    crop: str

    @property
    def shape(self):
        out = clips.validate_channels(self.channels, self.num_channels)
        return [self.num_samples] + ([out] if out else [])


def _as_path(value):
    """Path from a `numpy_function` argument (bytes or a 0-d array)."""
    if isinstance(value, np.ndarray):
        value = value.item()
    return os.fsdecode(value)


def _soundfile_decode(path, seed, spec, report):
    """`numpy_function` body: `load_audio`, or zeros and a failure status."""
    path = _as_path(path)
    try:
        audio = load_audio(
            path,
            spec.sample_rate,
            spec.channels,
            spec.num_samples,
            crop=spec.crop,
            seed=[int(s) & 0x7FFFFFFF for s in seed],
            num_channels=spec.num_channels,
        )
        return audio.astype(np.float32, copy=False), np.int32(_OK)
    except bad_clips.AudioReadError as exc:
        reason = exc.reason
    except Exception:  # noqa: BLE001 - any failure skips the clip
        reason = bad_clips.NOT_AUDIO
    report.record(path, reason)
    status = _FAILURE_STATUS.get(reason, _FAILURE_STATUS[bad_clips.NOT_AUDIO])
    return np.zeros(spec.shape, np.float32), np.int32(status)


def _soundfile_branch(path, seed, spec, report):
    audio, status = tf.numpy_function(
        functools.partial(_soundfile_decode, spec=spec, report=report),
        [path, seed],
        [tf.float32, tf.int32],
        stateful=False,
    )
    return tf.ensure_shape(audio, spec.shape), status


def _finish_in_graph(audio, orig_rate, seed, spec):
    """Mix, resample and crop a `(samples, channels)` tensor in graph."""
    audio = clips.tf_mix_channels(audio, spec.channels, spec.num_channels)
    audio = resampling.tf_resample(audio, orig_rate, spec.sample_rate)
    audio = clips.crop_or_pad(
        audio, spec.num_samples, crop=spec.crop, seed=seed
    )
    return audio, tf.constant(_OK, tf.int32)


def _wav_route(path, spec):
    """0 for a short 16-bit WAV at the output rate, else -1 (soundfile)."""
    max_frames = _LONG_FILE_FACTOR * spec.num_samples
    rate = formats.probe_pcm16_wav(_as_path(path), max_frames)
    return np.int32(0 if rate == spec.sample_rate else -1)


def _wav_branch(path, seed, rate, spec):
    audio, _ = tf.audio.decode_wav(tf.io.read_file(path))
    return _finish_in_graph(audio, rate, seed, spec)


def _tfio_route(path, spec):
    """Branch index of a short tensorflow-io file at the output rate, else
    -1 (soundfile)."""
    path = _as_path(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        info = sf.info(path)
    except Exception:  # noqa: BLE001 - soundfile will report the clip
        return np.int32(-1)
    if (
        ext not in formats.TFIO_EXTENSIONS
        or info.samplerate != spec.sample_rate
        or not 0 < info.frames <= _LONG_FILE_FACTOR * spec.num_samples
    ):
        return np.int32(-1)
    return np.int32(formats.TFIO_EXTENSIONS.index(ext))


def _tfio_branch(path, seed, ext, rate, spec):
    import tensorflow_io as tfio

    data = tf.io.read_file(path)
    if ext == ".flac":
        audio = tfio.audio.decode_flac(data, dtype=tf.int16)
        audio = tf.cast(audio, tf.float32) / 32768.0
    elif ext == ".mp3":
        audio = tfio.audio.decode_mp3(data)
    else:
        audio = tfio.audio.decode_vorbis(data)
    return _finish_in_graph(audio, rate, seed, spec)


def _dispatch(path, extensions, route, branches, fallback):
    """Runs `branches[route(path)]` or, for other files or -1, `fallback()`.

    `route` is a numpy function (a header probe), called only for paths
    ending in `extensions`.
    """
    matches = tf.strings.regex_full_match(
        tf.strings.lower(path), formats.extension_regex(extensions)
    )
    index = tf.cond(
        matches,
        lambda: tf.numpy_function(route, [path], tf.int32, stateful=False),
        lambda: tf.constant(-1, tf.int32),
    )
    branches = list(branches) + [fallback]
    index = tf.where(index < 0, len(branches) - 1, index)
    return tf.switch_case(index, branches)


def _graph_wav_or(path, seed, spec, fallback):
    branches = [
        functools.partial(_wav_branch, path, seed, spec.sample_rate, spec)
    ]
    return _dispatch(
        path,
        formats.WAV_EXTENSIONS,
        functools.partial(_wav_route, spec=spec),
        branches,
        lambda: fallback(path, seed),
    )


def _tfio_or(path, seed, spec, fallback):
    branches = [
        functools.partial(_tfio_branch, path, seed, ext, spec.sample_rate, spec)
        for ext in formats.TFIO_EXTENSIONS
    ]
    return _dispatch(
        path,
        formats.TFIO_EXTENSIONS,
        functools.partial(_tfio_route, spec=spec),
        branches,
        lambda: fallback(path, seed),
    )


def _decode(path, seed, spec, core):
    path = tf.convert_to_tensor(path, tf.string)
    seed = tf.convert_to_tensor(seed, tf.int64)
    audio, status = core(path, seed)
    return tf.ensure_shape(audio, spec.shape), tf.equal(status, _OK)


def make_decoder(
    sample_rate,
    num_samples,
    channels="mono",
    num_channels=2,
    training=False,
    report=None,
    use_graph_wav=True,
    use_tfio=None,
    crop=None,
):
    """Returns `decode(path, seed) -> (waveform, ok)` for `Dataset.map`.

    `waveform` has the static shape `(num_samples[, num_channels])`; `ok` is
    a bool scalar, false for a skipped clip (recorded in `report`).

    Args:
        sample_rate: int. Output rate in Hz.
        num_samples: int. Output length.
        channels: str. Channel mode. Defaults to `"mono"`.
        num_channels: int. Channels kept when `channels="all"`.
        training: bool. With `crop=None`: random crop when true, centre
            crop otherwise.
        report: `BadClipReport` to record skipped clips in.
        use_graph_wav: bool. Decode 16-bit WAV at `sample_rate` in graph.
            Defaults to `True`.
        use_tfio: bool. Decode FLAC/MP3/OGG at `sample_rate` with
            tensorflow-io in graph; `None` means "if its kernels load".
        crop: str or `None`. `"random"`, `"centre"` or `"start"` (see
            `keras_maskspec.data.clips`); `None` picks by `training`.
            Defaults to `None`.

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
    clips.validate_channels(channels, num_channels)
    spec = _ClipSpec(
        int(sample_rate), int(num_samples), channels, int(num_channels),
        clips.crop_mode(crop, training),
    )  # fmt: skip
    report = report if report is not None else bad_clips.BadClipReport()
    if use_tfio is None:
        use_tfio = tfio_available()
    core = functools.partial(_soundfile_branch, spec=spec, report=report)
    if use_graph_wav:
        core = functools.partial(_graph_wav_or, spec=spec, fallback=core)
    if use_tfio:
        core = functools.partial(_tfio_or, spec=spec, fallback=core)
    return functools.partial(_decode, spec=spec, core=core)
