"""Kaldi-compatible log mel filter bank (the AST / Audio-MAE front end)."""

import keras
import numpy as np
from keras import ops

from keras_maskspec.layers.log_mel_spectrogram import frame_window
from keras_maskspec.layers.log_mel_spectrogram import mel_filterbank

KALDI_WINDOWS = ("hanning", "povey", "hamming", "rectangular")
# AudioSet statistics of the Kaldi fbank used by AST and Audio-MAE.
AUDIOSET_FBANK_MEAN = -4.2677393
AUDIOSET_FBANK_STD = 4.5689974
# torch.finfo(torch.float32).eps: Kaldi's floor before the log.
FLOAT_EPSILON = 1.1920928955078125e-07


def kaldi_window(name, length):
    """A Kaldi analysis window (`feature-window.cc`) as float64 numpy.

    Args:
        name: str. `"hanning"` (symmetric Hann), `"povey"` (Hann^0.85,
            Kaldi's default), `"hamming"` or `"rectangular"`.
        length: int. Window length in samples.

    Returns:
        `np.ndarray` of shape `(length,)`.

    Examples:
    >>> w = kaldi_window("povey", 400)
    >>> w.shape, float(w[0])
    ((400,), 0.0)
    """
    if name not in KALDI_WINDOWS:
        raise ValueError(
            f"`window_type` must be one of {KALDI_WINDOWS}. Received: "
            f"window_type={name}"
        )
    return frame_window(name, length, dtype="float64")


@keras.saving.register_keras_serializable(package="keras_maskspec")
class KaldiFbank(keras.layers.Layer):
    """Waveform to Kaldi log mel filter bank, the Audio-MAE / AST front end.

    Reproduces `torchaudio.compliance.kaldi.fbank(waveform,
    htk_compat=True, sample_frequency=16000, use_energy=False,
    window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)`
    as Audio-MAE and AST call it, followed by their padding to
    `target_length` frames and their normalisation
    `(fbank - mean) / (2 * std)`. Per frame, following Kaldi's
    `feature-window.cc` and `mel-computations.cc`:

    1. frames of 25 ms every 10 ms, only whole frames (`snip_edges`);
    2. the frame's mean is removed (`remove_dc_offset`);
    3. pre-emphasis `y[n] = x[n] - 0.97 x[n-1]`, with `x[-1] = x[0]`;
    4. the analysis window (`window_type`);
    5. zero-padding to the next power of two (512 at 16 kHz) and the power
       spectrum `|FFT|^2`;
    6. Kaldi mel triangles (mel = 1127 ln(1 + f / 700)) from `low_freq` to
       `high_freq`; 7. `log(max(energy, float32 eps))`.

    Dither is always 0 (inference features must be deterministic); no
    energy coefficient is added (`use_energy=False`, so `htk_compat` has no
    effect). Steps 2-5 are linear in the frame, so they are folded into one
    fixed strided convolution kernel (a DFT matrix): the layer is plain
    `keras.ops` and runs identically on every backend.

    Every clip is processed on its own (no batch statistics). Audio-MAE's
    data loader also subtracts the clip mean from the waveform first; the
    per-frame DC removal makes that a no-op, so it is not repeated here.

    Args:
        sample_rate: int. Input sampling rate in Hz. Defaults to `16000`.
        frame_length_ms: float. Frame length. Defaults to `25.0`.
        frame_shift_ms: float. Frame shift. Defaults to `10.0`.
        num_mel_bins: int. Number of mel bands. Defaults to `128`.
        low_freq: float. Lowest band edge in Hz. Defaults to `20.0`
            (Kaldi's default).
        high_freq: float. Highest band edge in Hz; `<= 0` means offset from
            Nyquist (Kaldi's convention). Defaults to `0.0` (Nyquist).
        window_type: str. One of `"hanning"`, `"povey"`, `"hamming"`,
            `"rectangular"`. Defaults to `"hanning"` (what AST and
            Audio-MAE pass; Kaldi's own default is `"povey"`).
        preemphasis: float. Pre-emphasis coefficient (0 turns it off).
            Defaults to `0.97`.
        remove_dc_offset: bool. Subtract each frame's mean. Defaults to
            `True`.
        round_to_power_of_two: bool. Zero-pad frames to a power of two
            before the FFT. Defaults to `True`.
        target_length: int or `None`. Pad (with log-fbank value 0, as AST
            and Audio-MAE do, before normalisation) or crop to this many
            frames. Defaults to `None` (no padding or cropping). Audio-MAE's
            AudioSet models use `1024`.
        mean: float or list of `num_mel_bins` floats. Subtracted from the
            log fbank. Defaults to `-4.2677393` (AudioSet, AST/Audio-MAE).
        std: float or list of floats. The output is
            `(fbank - mean) / (std_scale * std)`. Defaults to `4.5689974`.
        std_scale: float. AST and Audio-MAE divide by twice the standard
            deviation. Defaults to `2.0`.

    Input shape:
        `(batch, samples)` float waveform at `sample_rate`.

    Output shape:
        `(batch, frames, num_mel_bins)` with
        `frames = 1 + (samples - frame_length) // frame_shift` (e.g. 998
        for 10 s at 16 kHz), or `target_length`.

    Examples:
    >>> import numpy as np
    >>> layer = KaldiFbank()
    >>> tuple(layer(np.zeros((2, 16000), "float32")).shape)
    (2, 98, 128)
    >>> padded = KaldiFbank(target_length=1024)
    >>> tuple(padded(np.zeros((1, 160000), "float32")).shape)
    (1, 1024, 128)

    References:
        - Povey et al., "The Kaldi Speech Recognition Toolkit", 2011
          (`src/feat/feature-window.cc`, `mel-computations.cc`).
        - Gong et al., "AST: Audio Spectrogram Transformer", 2021.
        - Huang et al., "Masked Autoencoders that Listen", NeurIPS 2022.
    """

    def __init__(
        self,
        sample_rate=16000,
        frame_length_ms=25.0,
        frame_shift_ms=10.0,
        num_mel_bins=128,
        low_freq=20.0,
        high_freq=0.0,
        window_type="hanning",
        preemphasis=0.97,
        remove_dc_offset=True,
        round_to_power_of_two=True,
        target_length=None,
        mean=AUDIOSET_FBANK_MEAN,
        std=AUDIOSET_FBANK_STD,
        std_scale=2.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("sample_rate", sample_rate),
            ("num_mel_bins", num_mel_bins),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value}"
                )
        if window_type not in KALDI_WINDOWS:
            raise ValueError(
                f"`window_type` must be one of {KALDI_WINDOWS}. Received: "
                f"window_type={window_type}"
            )
        frame_length = int(sample_rate * frame_length_ms * 0.001)
        hop_length = int(sample_rate * frame_shift_ms * 0.001)
        if frame_length < 2 or hop_length < 1:
            raise ValueError(
                "`frame_length_ms`/`frame_shift_ms` give frames shorter than "
                f"2 samples or hops under 1 sample. Received: "
                f"frame_length_ms={frame_length_ms}, "
                f"frame_shift_ms={frame_shift_ms}"
            )
        nyquist = sample_rate / 2
        resolved_high = high_freq if high_freq > 0 else nyquist + high_freq
        if not 0 <= low_freq < resolved_high <= nyquist:
            raise ValueError(
                "Need 0 <= low_freq < high_freq <= sample_rate / 2 (a high "
                "frequency <= 0 is an offset from Nyquist). Received: "
                f"low_freq={low_freq}, high_freq={high_freq}, "
                f"sample_rate={sample_rate}"
            )
        if target_length is not None and (
            not isinstance(target_length, int) or target_length <= 0
        ):
            raise ValueError(
                "`target_length` must be a positive int or None. Received: "
                f"target_length={target_length}"
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
        self.frame_length_ms = float(frame_length_ms)
        self.frame_shift_ms = float(frame_shift_ms)
        self.num_mel_bins = num_mel_bins
        self.low_freq = float(low_freq)
        self.high_freq = float(high_freq)
        self.window_type = window_type
        self.preemphasis = float(preemphasis)
        self.remove_dc_offset = bool(remove_dc_offset)
        self.round_to_power_of_two = bool(round_to_power_of_two)
        self.target_length = target_length
        self.mean = _as_float_or_list(mean)
        self.std = _as_float_or_list(std)
        self.std_scale = float(std_scale)
        # Derived sizes, named as on `LogMelSpectrogram` so code that reads
        # `frontend.hop_length` works with either front end.
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.fft_length = (
            1 << (frame_length - 1).bit_length()
            if round_to_power_of_two
            else frame_length
        )
        self.resolved_high_freq = float(resolved_high)
        self._kernel = _dft_kernel(
            frame_length,
            self.fft_length,
            window_type,
            self.preemphasis,
            self.remove_dc_offset,
        )
        self.supports_masking = False

    def num_frames(self, num_samples):
        """Number of output frames for a clip of `num_samples` samples.

        Examples:
        >>> KaldiFbank().num_frames(160000)
        998
        >>> KaldiFbank(target_length=1024).num_frames(160000)
        1024
        """
        if self.target_length is not None:
            return self.target_length
        return max(0, 1 + (num_samples - self.frame_length) // self.hop_length)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        kernel = ops.convert_to_tensor(self._kernel)
        # (batch, frames, 2 * bins): real parts then imaginary parts.
        spectrum = ops.conv(
            x[:, :, None], kernel, strides=self.hop_length, padding="valid"
        )
        bins = self.fft_length // 2 + 1
        real, imag = spectrum[..., :bins], spectrum[..., bins:]
        power = real * real + imag * imag
        bank = mel_filterbank(
            self.num_mel_bins,
            self.fft_length,
            self.sample_rate,
            self.low_freq,
            self.resolved_high_freq,
            mel_scale="kaldi",
        )
        fbank = ops.log(ops.maximum(ops.matmul(power, bank), FLOAT_EPSILON))
        if self.target_length is not None:
            # Pad with zeros and crop: covers both cases with static shapes.
            batch = ops.shape(fbank)[0]
            zeros = ops.zeros(
                (batch, self.target_length, self.num_mel_bins), fbank.dtype
            )
            fbank = ops.concatenate([fbank, zeros], axis=1)
            fbank = fbank[:, : self.target_length]
        mean = ops.convert_to_tensor(np.asarray(self.mean, "float32"))
        std = ops.convert_to_tensor(np.asarray(self.std, "float64"))
        scale = ops.cast(std * self.std_scale, "float32")
        return (fbank - mean) / scale

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = self.target_length
        if frames is None and samples is not None:
            frames = self.num_frames(samples)
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sample_rate": self.sample_rate,
                "frame_length_ms": self.frame_length_ms,
                "frame_shift_ms": self.frame_shift_ms,
                "num_mel_bins": self.num_mel_bins,
                "low_freq": self.low_freq,
                "high_freq": self.high_freq,
                "window_type": self.window_type,
                "preemphasis": self.preemphasis,
                "remove_dc_offset": self.remove_dc_offset,
                "round_to_power_of_two": self.round_to_power_of_two,
                "target_length": self.target_length,
                "mean": self.mean,
                "std": self.std,
                "std_scale": self.std_scale,
            }
        )
        return config


def _dft_kernel(length, fft_length, window, preemphasis, remove_dc):
    """Conv kernel `(length, 1, 2 * bins)`: DC removal, pre-emphasis,
    window and real DFT of one frame, as one linear map (float64 math)."""
    eye = np.eye(length)
    if remove_dc:
        eye = eye - eye.mean(axis=1, keepdims=True)
    if preemphasis:
        # Kaldi: y[0] = x[0] - p * x[0]; y[n] = x[n] - p * x[n - 1].
        shifted = np.concatenate([eye[:, :1], eye[:, :-1]], axis=1)
        eye = eye - preemphasis * shifted
    eye = eye * kaldi_window(window, length)[None, :]
    spectrum = np.fft.rfft(eye, n=fft_length, axis=1)
    kernel = np.concatenate([spectrum.real, spectrum.imag], axis=1)
    return kernel[:, None, :].astype("float32")


def _as_float_or_list(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return [float(v) for v in value]
    return float(value)
