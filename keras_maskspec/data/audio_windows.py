"""Reading a long audio file window by window, for inference.

`AudioFileWindows` looks like a 1-D float32 array of the whole file at the
model's rate (`len`, `shape`, slicing), but a slice reads only its own
frames from disk (plus resampler context), so embedding or scoring a
3-minute (or 3-hour) file costs a window's memory, not the file's.
`keras_maskspec.inference.sliding_window_inference` takes it in place of
an array.
"""

import os

import numpy as np
import soundfile as sf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import clips
from keras_maskspec.data import decode
from keras_maskspec.data import resampling

# Frames per block when the file is checked up front (about 0.75 MB of
# float32 stereo).
_BLOCK_FRAMES = 1 << 16


class AudioFileWindows:
    """A mono (or mixed) audio file at `sample_rate`, read slice by slice.

    Slices are resampled with `resampling.resample` (polyphase) from the
    file's frames around them, on the whole file's output grid, so
    `windows[a:b]` equals `resample(whole_file)[a:b]` up to float32
    rounding. The file is checked once when opened, block by block
    (readable to its end, no NaN/Inf), so a bad file fails here with an
    `AudioReadError` naming it rather than mid-way through inference.

    Args:
        path: str. Any file libsndfile reads.
        sample_rate: int. Output rate in Hz; `None` keeps the file's rate.
        channels: str. Channel mode other than `"all"` (see
            `keras_maskspec.data.clips`). Defaults to `"mono"`.
        check: bool. Read the file through once up front. Defaults to
            `True`.

    Raises:
        AudioReadError: the file is missing, not audio, empty, or holds
            NaN/Inf samples.

    Examples:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "long.flac")
    >>> sf.write(path, np.full(441000, 0.25), 44100)  # 10 s
    >>> audio = AudioFileWindows(path, sample_rate=32000)
    >>> len(audio), audio.shape, audio.ndim
    (320000, (320000,), 1)
    >>> window = audio[160000:192000]
    >>> window.shape, bool(np.allclose(window, 0.25, atol=1e-3))
    ((32000,), True)
    """

    ndim = 1
    dtype = np.dtype("float32")

    def __init__(self, path, sample_rate=None, channels="mono", check=True):
        if channels == "all":
            raise ValueError(
                "AudioFileWindows yields 1-D audio; pick one channel mode "
                f"other than 'all'. Received: channels={channels!r}"
            )
        clips.validate_channels(channels, 2)
        self.path = os.fsdecode(path)
        self.channels = channels
        try:
            info = sf.info(self.path)
        except Exception as exc:  # noqa: BLE001 - reported as a bad clip
            raise decode._read_error(self.path, exc) from None
        self.orig_rate = int(info.samplerate)
        self.frames = int(info.frames)
        self.sample_rate = (
            self.orig_rate if sample_rate is None else int(sample_rate)
        )
        self.up, self.down = resampling.rate_ratio(
            self.orig_rate, self.sample_rate
        )
        if check:
            self._check()
        if self.frames <= 0:
            raise bad_clips.AudioReadError(
                f"No samples in {self.path}", bad_clips.EMPTY
            )
        self.num_samples = -(-self.frames * self.up // self.down)
        self.shape = (self.num_samples,)

    def _check(self):
        frames = 0
        try:
            with sf.SoundFile(self.path) as f:
                for block in f.blocks(_BLOCK_FRAMES, dtype="float32"):
                    if not np.isfinite(block).all():
                        raise bad_clips.AudioReadError(
                            f"NaN/Inf samples in {self.path}",
                            bad_clips.NON_FINITE,
                        )
                    frames += block.shape[0]
        except bad_clips.AudioReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported as a bad clip
            raise decode._read_error(self.path, exc) from None
        # A header can promise more frames than the data holds.
        self.frames = frames

    def __len__(self):
        return self.num_samples

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(
                "AudioFileWindows supports contiguous slices only. "
                f"Received: key={key!r}"
            )
        start, stop, _ = key.indices(self.num_samples)
        return self.read(start, max(start, stop))

    def read(self, start, stop):
        """Output samples `[start, stop)` as float32 `(stop - start,)`."""
        if stop <= start:
            return np.zeros(0, np.float32)
        up, down = self.up, self.down
        margin = 0 if up == down else resampling.context_samples(up, down)
        # Start on a multiple of `down` input frames: that frame is output
        # sample `first_in * up / down` exactly, on the whole file's grid.
        first_in = max(0, (start // up) * down - margin)
        last_in = min(self.frames, -(-stop // up) * down + margin)
        with sf.SoundFile(self.path) as f:
            f.seek(first_in)
            audio = decode.read_float32(f, last_in - first_in)
        audio = clips.mix_channels(audio, self.channels, 2)
        audio = resampling.resample(audio, self.orig_rate, self.sample_rate)
        offset = start - first_in * up // down
        window = audio[offset : offset + stop - start]
        if window.shape[0] < stop - start:
            window = np.pad(window, (0, stop - start - window.shape[0]))
        return np.ascontiguousarray(window, np.float32)

    def __array__(self, dtype=None, copy=None):
        return self.read(0, self.num_samples).astype(dtype or np.float32)

    def __repr__(self):
        return (
            f"<AudioFileWindows {self.path}: {self.num_samples} samples at "
            f"{self.sample_rate} Hz>"
        )
