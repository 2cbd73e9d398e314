"""The MaskSpec/PaSST log-mel front end as a Keras layer."""

import math

import keras
import numpy as np
from keras import ops

MEL_SCALES = ("kaldi", "htk", "slaney")
WINDOWS = ("hann", "hamming", "povey")
JITTER_MODES = ("batch", "example")
# MaskSpec's fixed scaling `(log_mel + 4.5) / 5`, before per-bin statistics.
LOG_MEL_OFFSET = -4.5
LOG_MEL_SCALE = 5.0


def _hz_to_mel(hz, scale):
    """Hz -> mel for `scale` in `MEL_SCALES`; works on tensors and floats."""
    if scale in ("kaldi", "htk"):
        factor = 1127.0 if scale == "kaldi" else 2595.0
        if scale == "kaldi":
            return factor * ops.log(1.0 + hz / 700.0)
        return factor * ops.log(1.0 + hz / 700.0) / math.log(10.0)
    # Slaney: linear below 1 kHz, logarithmic above (librosa's default).
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = hz / f_sp
    log_part = min_log_mel + ops.log(ops.maximum(hz, 1e-10) / min_log_hz) / (
        logstep
    )
    return ops.where(hz >= min_log_hz, log_part, linear)


def _mel_to_hz(mel, scale):
    if scale == "kaldi":
        return 700.0 * (ops.exp(mel / 1127.0) - 1.0)
    if scale == "htk":
        return 700.0 * (ops.power(10.0, mel / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = f_sp * mel
    log_part = min_log_hz * ops.exp(logstep * (mel - min_log_mel))
    return ops.where(mel >= min_log_mel, log_part, linear)


def mel_filterbank(
    num_mel_bins,
    fft_length,
    sample_rate,
    fmin,
    fmax,
    mel_scale="kaldi",
    mel_norm=None,
    dtype="float32",
):
    """Mel filter bank matrix of shape `(..., fft_length // 2 + 1, mel)`.

    `fmin`/`fmax` may be Python floats or tensors of shape `(batch,)`, in
    which case one bank per example is returned (training-time jitter).

    - `"kaldi"`: Kaldi/torchaudio `get_mel_banks`: triangles in the mel
      domain (mel = 1127 ln(1 + f / 700)) over the `fft_length // 2` bins
      below Nyquist; the Nyquist bin gets a zero weight (PaSST pads it).
    - `"htk"`/`"slaney"`: librosa's `filters.mel` (triangles in Hz between
      mel-spaced edges), optionally with `mel_norm="slaney"` area
      normalisation.

    Args:
        num_mel_bins: int. Number of mel bands.
        fft_length: int. FFT size.
        sample_rate: int. Sampling rate in Hz.
        fmin: float or tensor. Lowest band edge in Hz.
        fmax: float or tensor. Highest band edge in Hz.
        mel_scale: str. One of `"kaldi"`, `"htk"`, `"slaney"`.
        mel_norm: `None` or `"slaney"`. Area normalisation (htk/slaney only).
        dtype: str. Output dtype.

    Returns:
        A tensor `(fft_length // 2 + 1, num_mel_bins)`, or
        `(batch, fft_length // 2 + 1, num_mel_bins)` for tensor edges.

    Examples:
    >>> bank = mel_filterbank(128, 1024, 32000, 0.0, 15000.0)
    >>> tuple(bank.shape)
    (513, 128)
    """
    num_bins = fft_length // 2 + 1
    batched = not isinstance(fmin, (int, float)) or not isinstance(
        fmax, (int, float)
    )
    fmin = ops.reshape(ops.cast(fmin, "float32"), (-1, 1, 1))
    fmax = ops.reshape(ops.cast(fmax, "float32"), (-1, 1, 1))
    mel_lo = _hz_to_mel(fmin, mel_scale)
    mel_hi = _hz_to_mel(fmax, mel_scale)
    # Band edges: (batch, 1, num_mel_bins + 2).
    steps = ops.reshape(
        ops.arange(num_mel_bins + 2, dtype="float32"), (1, 1, -1)
    )
    edges_mel = mel_lo + steps * (mel_hi - mel_lo) / (num_mel_bins + 1)
    if mel_scale == "kaldi":
        bin_hz = ops.arange(num_bins, dtype="float32") * (
            sample_rate / fft_length
        )
        bin_mel = ops.reshape(_hz_to_mel(bin_hz, "kaldi"), (1, -1, 1))
        left = edges_mel[..., :-2]
        center = edges_mel[..., 1:-1]
        right = edges_mel[..., 2:]
        up = (bin_mel - left) / (center - left)
        down = (right - bin_mel) / (right - center)
        weights = ops.maximum(0.0, ops.minimum(up, down))
        # Kaldi computes the bank for the bins below Nyquist only.
        nyquist_mask = ops.reshape(
            ops.cast(ops.arange(num_bins) < num_bins - 1, "float32"),
            (1, -1, 1),
        )
        weights = weights * nyquist_mask
    else:
        edges_hz = _mel_to_hz(edges_mel, mel_scale)
        bin_hz = ops.reshape(
            ops.linspace(0.0, sample_rate / 2.0, num_bins), (1, -1, 1)
        )
        fdiff = edges_hz[..., 1:] - edges_hz[..., :-1]
        lower = (bin_hz - edges_hz[..., :-2]) / fdiff[..., :-1]
        upper = (edges_hz[..., 2:] - bin_hz) / fdiff[..., 1:]
        weights = ops.maximum(0.0, ops.minimum(lower, upper))
        if mel_norm == "slaney":
            weights = weights * (2.0 / (edges_hz[..., 2:] - edges_hz[..., :-2]))
    weights = ops.cast(weights, dtype)
    if not batched:
        weights = weights[0]
    return weights


def frame_window(name, length, dtype="float32"):
    """A symmetric analysis window as a numpy array (the package's only one).

    Args:
        name: str. `"hann"` (alias `"hanning"`, Kaldi's name), `"hamming"`,
            `"povey"` (Kaldi: hann^0.85) or `"rectangular"`.
        length: int. Window length in samples.
        dtype: str. numpy dtype.

    Returns:
        `np.ndarray` of shape `(length,)`.

    Examples:
    >>> w = frame_window("hann", 800)
    >>> float(w[0]), float(w[-1])
    (0.0, 0.0)
    """
    n = np.arange(length, dtype="float64")
    cosine = np.cos(2 * np.pi * n / max(length - 1, 1))
    if name in ("hann", "hanning"):
        win = 0.5 - 0.5 * cosine
    elif name == "povey":
        win = (0.5 - 0.5 * cosine) ** 0.85
    elif name == "hamming":
        win = 0.54 - 0.46 * cosine
    elif name == "rectangular":
        win = np.ones(length)
    else:
        raise ValueError(
            "`window` must be one of hann, hanning, hamming, povey, "
            f"rectangular. Received: window={name!r}"
        )
    return win.astype(dtype)


@keras.saving.register_keras_serializable(package="keras_maskspec")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveform to log-mel spectrogram, the MaskSpec (PaSST) front end.

    With its defaults the layer reproduces PaSST's `AugmentMelSTFT` in eval
    mode, which MaskSpec uses: pre-emphasis `y[n] = x[n+1] - 0.97 x[n]`,
    STFT (n_fft 1024, symmetric Hann window of 800 samples centred in the
    frame, hop 320, reflect centre padding), power spectrum, 128 Kaldi mel
    bands from 0 to 15 kHz, `log(mel + 1e-5)` and `(x - mean) / std` with
    `mean=-4.5, std=5`. Ten seconds at 32 kHz give 1000 frames.

    Every clip is processed on its own: its features never depend on the
    other clips of the batch (unlike `keras.layers.MelSpectrogram`'s
    `top_db`, which clips against the batch maximum).

    During training the band edges are jittered as in the paper:
    `fmin + U{0..fmin_jitter-1}` and `fmax + fmax_jitter / 2 -
    U{0..fmax_jitter-1}` Hz, one draw per batch (`jitter="batch"`, as the
    authors' front end draws once per forward call) or per clip.

    Per-mel-bin standardisation: MaskSpec computes
    `((log_mel + 4.5) / 5 - frame_mean[b]) / frame_std[b]` with data-set
    statistics in pre-training and fine-tuning. That is `mean[b] =
    5 frame_mean[b] - 4.5` and `std[b] = 5 frame_std[b]` here;
    `set_statistics(frame_mean, frame_std)` sets them, and they are saved in
    the config, so `predict`, export and serving use them.

    Args:
        sample_rate: int. Input sampling rate in Hz. Defaults to `32000`.
        fft_length: int. FFT size. Defaults to `1024`.
        window_length: int. Analysis window length, centred in the FFT
            frame. Defaults to `800` (25 ms).
        hop_length: int. Hop between frames. Defaults to `320` (10 ms).
        window: str. `"hann"`, `"hamming"` or `"povey"`; always symmetric.
            Defaults to `"hann"`.
        num_mel_bins: int. Number of mel bands. Defaults to `128`.
        fmin: float. Lowest band edge in Hz. Defaults to `0.0`.
        fmax: float or `None`. Highest band edge in Hz; `None` means
            `sample_rate / 2 - fmax_jitter / 2`, i.e. 15 kHz at 32 kHz.
        mel_scale: str. `"kaldi"`, `"htk"` or `"slaney"`. Defaults to
            `"kaldi"`.
        mel_norm: `None` or `"slaney"`: area-normalised bands (htk/slaney
            scales only). Defaults to `None`.
        preemphasis: float or `None`. Pre-emphasis coefficient. Defaults to
            `0.97`.
        center: bool. Reflect-pad `fft_length // 2` on both sides.
            Defaults to `True`.
        log_offset: float. Added before the log. Defaults to `1e-5`.
        mean: float or list of floats (one per mel bin). Subtracted after the
            log. Defaults to `-4.5`.
        std: float or list of floats (one per mel bin). Divides after the
            mean. Defaults to `5.0`.
        fmin_jitter: int. Training-time fmin jitter range in Hz (0 turns it
            off). Defaults to `10`.
        fmax_jitter: int. Training-time fmax jitter range in Hz (0 turns it
            off). Defaults to `2000`.
        jitter: str. `"batch"` (one band-edge draw shared by the batch, the
            authors' rule) or `"example"` (one per clip). Defaults to
            `"batch"`.
        seed: int or `None`. Seed for the jitter.

    Input shape:
        `(batch, samples)` float waveform at `sample_rate`.

    Output shape:
        `(batch, frames, num_mel_bins)` with
        `frames = 1 + (samples - 1) // hop_length` (pre-emphasis drops one
        sample) when `center=True`.

    Examples:
    >>> import numpy as np
    >>> layer = LogMelSpectrogram()
    >>> tuple(layer(np.zeros((2, 32000), "float32")).shape)
    (2, 100, 128)

    References:
        - Koutini et al., "Efficient Training of Audio Transformers with
          Patchout" (PaSST), 2022.
        - Chong et al., "Masked Spectrogram Prediction for Self-Supervised
          Audio Pre-Training", ICASSP 2023.
    """

    def __init__(
        self,
        sample_rate=32000,
        fft_length=1024,
        window_length=800,
        hop_length=320,
        window="hann",
        num_mel_bins=128,
        fmin=0.0,
        fmax=None,
        mel_scale="kaldi",
        mel_norm=None,
        preemphasis=0.97,
        center=True,
        log_offset=1e-5,
        mean=-4.5,
        std=5.0,
        fmin_jitter=10,
        fmax_jitter=2000,
        jitter="batch",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("sample_rate", sample_rate),
            ("fft_length", fft_length),
            ("window_length", window_length),
            ("hop_length", hop_length),
            ("num_mel_bins", num_mel_bins),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value}"
                )
        if window_length > fft_length:
            raise ValueError(
                "`window_length` must not exceed `fft_length`. Received: "
                f"window_length={window_length}, fft_length={fft_length}"
            )
        if window not in WINDOWS:
            raise ValueError(
                f"`window` must be one of {WINDOWS}. Received: window={window}"
            )
        if mel_scale not in MEL_SCALES:
            raise ValueError(
                f"`mel_scale` must be one of {MEL_SCALES}. Received: "
                f"mel_scale={mel_scale}"
            )
        if mel_norm not in (None, "slaney"):
            raise ValueError(
                f"`mel_norm` must be None or 'slaney'. Received: "
                f"mel_norm={mel_norm}"
            )
        if fmin_jitter < 0 or fmax_jitter < 0:
            raise ValueError(
                "Jitter ranges must be >= 0. Received: "
                f"fmin_jitter={fmin_jitter}, fmax_jitter={fmax_jitter}"
            )
        if jitter not in JITTER_MODES:
            raise ValueError(
                f"`jitter` must be one of {JITTER_MODES}. Received: "
                f"jitter={jitter!r}"
            )
        resolved_fmax = (
            sample_rate / 2 - fmax_jitter // 2 if fmax is None else fmax
        )
        if not 0 <= fmin < resolved_fmax <= sample_rate / 2 + fmax_jitter:
            raise ValueError(
                "Need 0 <= fmin < fmax <= sample_rate / 2. Received: "
                f"fmin={fmin}, fmax={fmax}, sample_rate={sample_rate}"
            )
        for name, value in (("mean", mean), ("std", std)):
            if isinstance(value, (list, tuple)) and (
                len(value) != num_mel_bins
            ):
                raise ValueError(
                    f"`{name}` must be a float or a list of num_mel_bins="
                    f"{num_mel_bins} floats. Received: len({name})="
                    f"{len(value)}"
                )
        self.sample_rate = sample_rate
        self.fft_length = fft_length
        self.window_length = window_length
        self.hop_length = hop_length
        self.window = window
        self.num_mel_bins = num_mel_bins
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.mel_scale = mel_scale
        self.mel_norm = mel_norm
        self.preemphasis = preemphasis
        self.center = center
        self.log_offset = log_offset
        self.mean = _as_float_or_list(mean)
        self.std = _as_float_or_list(std)
        self.fmin_jitter = int(fmin_jitter)
        self.fmax_jitter = int(fmax_jitter)
        self.jitter = jitter
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._window_array = frame_window(window, window_length)
        self.supports_masking = False

    @property
    def resolved_fmax(self):
        """The upper band edge in Hz used at evaluation."""
        if self.fmax is not None:
            return self.fmax
        return self.sample_rate / 2 - self.fmax_jitter // 2

    def num_frames(self, num_samples):
        """Number of output frames for a clip of `num_samples` samples.

        Args:
            num_samples: int. Clip length in samples.

        Returns:
            int, the number of frames.

        Examples:
        >>> LogMelSpectrogram().num_frames(320000)
        1000
        """
        n = num_samples - (1 if self.preemphasis else 0)
        if self.center:
            return 1 + n // self.hop_length
        return 1 + (n - self.fft_length) // self.hop_length

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")
        if self.preemphasis:
            x = x[:, 1:] - self.preemphasis * x[:, :-1]
        if self.center:
            x = _reflect_pad(x, self.fft_length // 2)
        real, imag = ops.stft(
            x,
            sequence_length=self.window_length,
            sequence_stride=self.hop_length,
            fft_length=self.fft_length,
            window=self._window_array,
            center=False,
        )
        power = real * real + imag * imag
        if training and (self.fmin_jitter or self.fmax_jitter):
            batch = ops.shape(x)[0] if self.jitter == "example" else 1
            fmin = self.fmin + ops.floor(
                keras.random.uniform(
                    (batch,), 0.0, self.fmin_jitter, seed=self.seed_generator
                )
            )
            fmax = (
                self.resolved_fmax
                + self.fmax_jitter // 2
                - ops.floor(
                    keras.random.uniform(
                        (batch,),
                        0.0,
                        self.fmax_jitter,
                        seed=self.seed_generator,
                    )
                )
            )
            fmax = ops.minimum(fmax, self.sample_rate / 2.0)
            bank = self._bank(fmin, fmax)
            if self.jitter == "example":
                mel = ops.einsum("btf,bfm->btm", power, bank)
            else:
                mel = ops.matmul(power, bank[0])
        else:
            bank = self._bank(self.fmin, self.resolved_fmax)
            mel = ops.matmul(power, bank)
        logmel = ops.log(mel + self.log_offset)
        mean = ops.convert_to_tensor(np.asarray(self.mean, "float32"))
        std = ops.convert_to_tensor(np.asarray(self.std, "float32"))
        return (logmel - mean) / std

    def _bank(self, fmin, fmax):
        return mel_filterbank(
            self.num_mel_bins,
            self.fft_length,
            self.sample_rate,
            fmin,
            fmax,
            mel_scale=self.mel_scale,
            mel_norm=self.mel_norm,
        )

    def set_statistics(
        self,
        frame_mean,
        frame_std,
        offset=LOG_MEL_OFFSET,
        scale=LOG_MEL_SCALE,
    ):
        """Per-mel-bin standardisation with data-set statistics.

        The output becomes `((log_mel - offset) / scale - frame_mean[b]) /
        frame_std[b]`, MaskSpec's `mel_forward` with a norm file: the
        statistics are those of the default front end's output
        `(log_mel + 4.5) / 5` (the authors' `frame_mean`/`frame_std`).

        Args:
            frame_mean: float or `num_mel_bins` floats.
            frame_std: float or `num_mel_bins` floats, all > 0.
            offset: float. Defaults to `-4.5`.
            scale: float. Defaults to `5.0`.

        Examples:
        >>> layer = LogMelSpectrogram(num_mel_bins=2)
        >>> layer.set_statistics([0.0, 0.5], [1.0, 0.5])
        >>> layer.mean, layer.std
        ([-4.5, -2.0], [5.0, 2.5])
        """
        frame_mean = np.asarray(frame_mean, "float64")
        frame_std = np.asarray(frame_std, "float64")
        for name, value in (
            ("frame_mean", frame_mean),
            ("frame_std", frame_std),
        ):
            if value.ndim > 1 or value.size not in (1, self.num_mel_bins):
                raise ValueError(
                    f"`{name}` must be a float or {self.num_mel_bins} floats. "
                    f"Received: {name}.shape={value.shape}"
                )
            if not np.isfinite(value).all():
                raise ValueError(
                    f"`{name}` must be finite. Received: {name}={value}"
                )
        if (frame_std <= 0).any():
            raise ValueError(
                f"`frame_std` must be > 0. Received: frame_std={frame_std}"
            )
        self.mean = _as_float_or_list(offset + scale * frame_mean)
        self.std = _as_float_or_list(scale * frame_std)

    def frame_statistics(self, offset=LOG_MEL_OFFSET, scale=LOG_MEL_SCALE):
        """`(frame_mean, frame_std)` as `set_statistics` takes them.

        Examples:
        >>> LogMelSpectrogram().frame_statistics()
        (0.0, 1.0)
        """
        mean = (np.asarray(self.mean, "float64") - offset) / scale
        std = np.asarray(self.std, "float64") / scale
        return _as_float_or_list(mean), _as_float_or_list(std)

    def normalized_value(self, log_value=0.0):
        """What a log-mel value becomes at the output, per bin.

        MaskSpec's SpecAugment writes 0 into the log-mel before any
        normalisation; after this layer such a cell reads
        `normalized_value(0.0)`.

        Examples:
        >>> LogMelSpectrogram().normalized_value(0.0)
        0.9
        """
        mean = np.asarray(self.mean, "float64")
        std = np.asarray(self.std, "float64")
        return _as_float_or_list((log_value - mean) / std)

    def adapt(self, data, steps=None):
        """Sets `mean`/`std` to the per-mel-bin statistics of `data`.

        Statistics are those of the un-normalised log-mel features, so the
        layer's output has zero mean and unit variance per bin on `data`.

        Args:
            data: a numpy array `(clips, samples)`, or an iterable (e.g. a
                `tf.data.Dataset`) of such batches or `(waveform, ...)`
                tuples.
            steps: int or `None`. Number of batches to read.

        Examples:
        >>> import numpy as np
        >>> layer = LogMelSpectrogram(num_mel_bins=16, sample_rate=8000)
        >>> noise = np.random.default_rng(0).normal(size=(4, 8000))
        >>> layer.adapt(noise.astype("float32"))
        >>> len(layer.mean)
        16
        """
        raw = LogMelSpectrogram.from_config(
            {**self.get_config(), "mean": 0.0, "std": 1.0}
        )
        if isinstance(data, np.ndarray):
            data = [data]
        total = np.zeros(self.num_mel_bins, "float64")
        total_sq = np.zeros(self.num_mel_bins, "float64")
        count = 0
        for step, batch in enumerate(data):
            if steps is not None and step >= steps:
                break
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            feats = ops.convert_to_numpy(raw(batch)).astype("float64")
            feats = feats.reshape(-1, self.num_mel_bins)
            total += feats.sum(0)
            total_sq += (feats**2).sum(0)
            count += feats.shape[0]
        if count == 0:
            raise ValueError("`adapt()` received no data. Received: data=[]")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else self.num_frames(samples)
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sample_rate": self.sample_rate,
                "fft_length": self.fft_length,
                "window_length": self.window_length,
                "hop_length": self.hop_length,
                "window": self.window,
                "num_mel_bins": self.num_mel_bins,
                "fmin": self.fmin,
                "fmax": self.fmax,
                "mel_scale": self.mel_scale,
                "mel_norm": self.mel_norm,
                "preemphasis": self.preemphasis,
                "center": self.center,
                "log_offset": self.log_offset,
                "mean": self.mean,
                "std": self.std,
                "fmin_jitter": self.fmin_jitter,
                "fmax_jitter": self.fmax_jitter,
                "jitter": self.jitter,
                "seed": self.seed,
            }
        )
        return config


def _as_float_or_list(value):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [float(v) for v in value]
    return float(value)


def _reflect_pad(x, pad):
    """Reflect-pads the last axis of `(batch, samples)` by `pad` each side."""
    left = ops.flip(x[:, 1 : pad + 1], axis=1)
    right = ops.flip(x[:, -pad - 1 : -1], axis=1)
    return ops.concatenate([left, x, right], axis=1)
