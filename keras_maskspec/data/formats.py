"""Audio file formats: the extensions we read and header sniffing.

`AUDIO_EXTENSIONS` is the one list of file name endings treated as audio
(folder search, the graph decoders' routing). `probe_pcm16_wav` reads a WAV
header to tell whether `tf.audio.decode_wav` can decode the file.
"""

import os

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
# RIFF WAV: the only container `tf.audio.decode_wav` reads.
WAV_EXTENSIONS = (".wav", ".wave")
# What tensorflow-io decodes in graph (when its kernels load).
TFIO_EXTENSIONS = (".flac", ".mp3", ".ogg")


def is_audio_path(path):
    """Whether a file name ends in one of `AUDIO_EXTENSIONS` (any case).

    Args:
        path: str or path-like.

    Returns:
        bool.

    Examples:

    >>> is_audio_path("clips/A.FLAC"), is_audio_path("notes.txt")
    (True, False)
    """
    return os.fsdecode(path).lower().endswith(AUDIO_EXTENSIONS)


def extension_regex(extensions):
    """A `tf.strings.regex_full_match` pattern for lower-cased paths.

    Args:
        extensions: sequence of str, each with its leading dot.

    Returns:
        str.

    Examples:

    >>> extension_regex(WAV_EXTENSIONS)
    '.*\\\\.(wav|wave)'
    """
    names = "|".join(ext.lstrip(".") for ext in extensions)
    return rf".*\.({names})"


def probe_pcm16_wav(path, max_frames=None):
    """Returns the sample rate of a WAV `tf.audio.decode_wav` can decode.

    Parses the RIFF header only: 16-bit PCM, `fmt ` chunk first (what TF
    expects), consistent byte rate, a complete `data` chunk holding a whole
    number of frames, at most `max_frames` frames. Returns 0 for anything
    else (then the soundfile path decides what it is: it reads a data chunk
    cut mid-frame, which `tf.audio.decode_wav` rejects).

    Args:
        path: str. File path.
        max_frames: int. Longer files return 0 (they are read by window).

    Returns:
        int, the sample rate in Hz, or 0.

    Examples:

    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
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
            byte_rate = int.from_bytes(head[28:32], "little")
            block = int.from_bytes(head[32:34], "little")
            bits = int.from_bytes(head[34:36], "little")
            if fmt_size not in (16, 18) or fmt_tag != 1 or bits != 16:
                return 0
            if num_ch < 1 or block != 2 * num_ch or byte_rate != rate * block:
                return 0
            pos = 20 + fmt_size
            while pos + 8 <= size:
                f.seek(pos)
                chunk = f.read(8)
                length = int.from_bytes(chunk[4:8], "little")
                if chunk[:4] == b"data":
                    frames = length // block
                    if pos + 8 + length > size or frames == 0 or length % block:
                        return 0
                    if max_frames is not None and frames > max_frames:
                        return 0
                    return rate
                pos += 8 + length + (length & 1)
    except OSError:
        return 0
    return 0
