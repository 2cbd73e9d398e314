"""Straightforward numpy Kaldi fbank, written from Kaldi's documentation.

`src/feat/feature-window.cc` (ExtractWindow / ProcessWindow) and
`src/feat/mel-computations.cc` (MelBanks, Compute), frame by frame in
float64, with the options Audio-MAE passes to torchaudio's port
(`dither=0`, `use_energy=False`, `htk_compat=True`, snip edges). The test
oracle for `KaldiFbank` where torchaudio cannot be installed beside torch.
"""

import numpy as np


def _window(kind, n):
    a = 2 * np.pi / (n - 1)
    i = np.arange(n)
    if kind == "hanning":
        return 0.5 - 0.5 * np.cos(a * i)
    if kind == "povey":
        return (0.5 - 0.5 * np.cos(a * i)) ** 0.85
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(a * i)
    return np.ones(n)


def _mel(f):
    return 1127.0 * np.log(1.0 + f / 700.0)


def mel_banks(num_bins, padded, sample_rate, low_freq, high_freq):
    """Kaldi MelBanks: (num_bins, padded // 2 + 1), last column zero."""
    nyquist = 0.5 * sample_rate
    if high_freq <= 0:
        high_freq += nyquist
    num_fft_bins = padded // 2
    width = sample_rate / padded
    lo, hi = _mel(low_freq), _mel(high_freq)
    delta = (hi - lo) / (num_bins + 1)
    banks = np.zeros((num_bins, num_fft_bins + 1))
    for b in range(num_bins):
        left, center, right = (lo + k * delta for k in (b, b + 1, b + 2))
        for i in range(num_fft_bins):
            m = _mel(width * i)
            if left < m < right:
                if m <= center:
                    banks[b, i] = (m - left) / (center - left)
                else:
                    banks[b, i] = (right - m) / (right - center)
    return banks


def kaldi_fbank(
    wave,
    sample_rate=16000,
    num_mel_bins=128,
    window_type="hanning",
    low_freq=20.0,
    high_freq=0.0,
    preemph=0.97,
):
    """Log mel fbank of a 1-D waveform, `(frames, num_mel_bins)`."""
    wave = np.asarray(wave, "float64")
    size = int(sample_rate * 0.025)
    shift = int(sample_rate * 0.010)
    padded = 1 << (size - 1).bit_length()
    frames = 1 + (len(wave) - size) // shift
    banks = mel_banks(num_mel_bins, padded, sample_rate, low_freq, high_freq)
    win = _window(window_type, size)
    out = np.zeros((frames, num_mel_bins))
    for t in range(frames):
        frame = wave[t * shift : t * shift + size].copy()
        frame -= frame.mean()
        for i in range(size - 1, 0, -1):
            frame[i] -= preemph * frame[i - 1]
        frame[0] -= preemph * frame[0]
        frame *= win
        spectrum = np.fft.rfft(frame, n=padded)
        power = spectrum.real**2 + spectrum.imag**2
        energies = banks @ power
        out[t] = np.log(np.maximum(energies, np.finfo(np.float32).eps))
    return out
