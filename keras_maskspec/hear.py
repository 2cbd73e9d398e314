"""The HEAR 2021 embedding API for a MaskSpec encoder.

Implements the common API of the HEAR benchmark
(https://hearbenchmark.com, "Common API"), so `hear-validator
keras_maskspec.hear` and the HEAR evaluation kit can use a MaskSpec
encoder:

- `load_model(model_file_path="")` returns a `tf.Module` with int
  attributes `sample_rate`, `scene_embedding_size` and
  `timestamp_embedding_size`;
- `get_scene_embeddings(audio, model)` returns `(n_sounds, dim)` float32;
- `get_timestamp_embeddings(audio, model)` returns embeddings
  `(n_sounds, n_timestamps, dim)` and timestamps `(n_sounds, n_timestamps)`
  in milliseconds.

The wrapper declares `sample_rate = 16000` (hearvalidator 2021.0.2 accepts
only 16000, 22050, 44100 or 48000 Hz) and resamples to the encoder's rate
(32 kHz for MaskSpec) inside, with a Kaiser-windowed polyphase FIR (TF
ops, equal to `scipy.signal.resample_poly`), so the anti-imaging filter is
part of the model.

Scene embeddings are the mean of the encoder's patch tokens. Timestamp
embeddings start from one vector per time patch (the patch tokens of a
time column averaged over mel; 16 frames = 160 ms apart) and are linearly
interpolated to a regular grid every `TIMESTAMP_HOP_MS` = 25 ms, from 0 ms
to the last grid point inside the audio (within 25 ms of its end).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_maskspec.data import tf_resample
from keras_maskspec.inference import encoder_of
from keras_maskspec.inference import frame_times
from keras_maskspec.inference import inference_model
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder

SAMPLE_RATE = 16000
TIMESTAMP_HOP_MS = 25.0
BATCH_SIZE = 16


class MaskSpecHearModel(tf.Module):
    """A MaskSpec encoder behind the HEAR 2021 API (a `tf.Module`).

    Args:
        encoder: a `MaskSpecEncoder`.
        sample_rate: int. Rate of the audio given to the API functions;
            resampled to `encoder.sample_rate` inside. Defaults to `16000`.
        batch_size: int. Sounds per forward pass. Defaults to `16`.

    Examples:
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> model = MaskSpecHearModel(encoder)
    >>> model.sample_rate, model.scene_embedding_size
    (16000, 32)
    """

    def __init__(self, encoder, sample_rate=SAMPLE_RATE, batch_size=BATCH_SIZE):
        super().__init__(name="maskspec_hear")
        if not isinstance(encoder, MaskSpecEncoder):
            raise TypeError(
                "`encoder` must be a MaskSpecEncoder. Received: "
                f"encoder={type(encoder).__name__}"
            )
        self.encoder = encoder
        self.sample_rate = int(sample_rate)
        self.batch_size = int(batch_size)
        self.scene_embedding_size = int(encoder.hidden_dim)
        self.timestamp_embedding_size = int(encoder.hidden_dim)
        self._infer = inference_model(encoder)

    def embed(self, audio):
        """`(embedding, frame_embeddings, frame_times_ms)` of a batch.

        Args:
            audio: float `(n_sounds, n_samples)` at `self.sample_rate`.

        Returns:
            numpy float32 `(n, dim)`, `(n, time_patches, dim)`, and the
            centre time in ms of each time patch `(time_patches,)`.
        """
        audio = tf.convert_to_tensor(audio, tf.float32)
        if audio.shape.rank != 2:
            raise ValueError(
                "`audio` must be (n_sounds, n_samples). Received: "
                f"audio.shape={audio.shape}"
            )
        # The resampler works along axis 0: sounds become channels.
        waveforms = tf.transpose(
            tf_resample(
                tf.transpose(audio), self.sample_rate, self.encoder.sample_rate
            )
        )
        short = self.encoder.min_num_samples() - int(waveforms.shape[1])
        if short > 0:
            waveforms = tf.pad(waveforms, [[0, 0], [0, short]])
        scene, frames = [], []
        for i in range(0, int(waveforms.shape[0]), self.batch_size):
            batch = waveforms[i : i + self.batch_size].numpy()
            out = self._infer(keras.ops.convert_to_tensor(batch))
            scene.append(keras.ops.convert_to_numpy(out["embedding"]))
            frames.append(keras.ops.convert_to_numpy(out["frame_embeddings"]))
        frames = (
            np.concatenate(frames)
            if frames
            else np.zeros((0, 1, self.timestamp_embedding_size), "float32")
        )
        scene = (
            np.concatenate(scene)
            if scene
            else np.zeros((0, self.scene_embedding_size), "float32")
        )
        times_ms = 1000.0 * frame_times(self.encoder, frames.shape[1])
        return scene, frames, times_ms


def load_model(model_file_path=""):
    """Loads a MaskSpec encoder as a HEAR model.

    Args:
        model_file_path: str. A run folder or a `.keras` file of an
            encoder, pre-trainer or classifier (its encoder is used), read
            by `keras_maskspec.training.run_dir.load_model`. `""` (the
            default) builds a randomly initialised `maskspec_tiny` encoder
            (seed 0): useful for checking the API, not for embeddings
            worth evaluating.

    Returns:
        `MaskSpecHearModel`, a `tf.Module`.

    Examples:
    >>> model = load_model()
    >>> model.sample_rate, model.scene_embedding_size
    (16000, 192)
    """
    if model_file_path:
        from keras_maskspec.training.run_dir import load_model as load

        model = load(model_file_path)
        try:
            encoder = encoder_of(model)
        except ValueError:
            raise ValueError(
                "The file holds no MaskSpec model. Received: "
                f"model_file_path={model_file_path} ({type(model).__name__})"
            ) from None
    else:
        encoder = MaskSpecEncoder.from_preset("maskspec_tiny", seed=0)
    return MaskSpecHearModel(encoder)


def _check_model(model):
    if not isinstance(model, MaskSpecHearModel):
        raise TypeError(
            "`model` must come from `keras_maskspec.hear.load_model`. "
            f"Received: model={type(model).__name__}"
        )


def get_scene_embeddings(audio, model):
    """One embedding per sound: the mean of the encoder's patch tokens.

    Args:
        audio: float `(n_sounds, n_samples)` in [-1, 1] at
            `model.sample_rate`.
        model: from `load_model`.

    Returns:
        `tf.Tensor` float32 `(n_sounds, model.scene_embedding_size)`.

    Examples:
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> model = MaskSpecHearModel(encoder)
    >>> get_scene_embeddings(np.zeros((3, 16000), "float32"), model).shape
    TensorShape([3, 32])
    """
    _check_model(model)
    scene, _, _ = model.embed(audio)
    return tf.convert_to_tensor(scene, tf.float32)


def timestamp_grid(duration_ms, hop_ms=TIMESTAMP_HOP_MS):
    """Regular timestamps `0, hop, 2 hop, ...` up to `duration_ms`.

    Args:
        duration_ms: float. Length of the audio in ms.
        hop_ms: float. Defaults to `TIMESTAMP_HOP_MS` (25 ms).

    Returns:
        float64 numpy array; the last value lies within `hop_ms` of the end.

    Examples:
    >>> timestamp_grid(110.0).tolist()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    count = int(np.floor(duration_ms / hop_ms + 1e-9)) + 1
    return np.arange(count, dtype="float64") * hop_ms


def _interpolate(frames, frame_ms, times_ms):
    """Linear interpolation of `(n, T, D)` frames at `times_ms` (clamped)."""
    if frames.shape[1] == 1:
        return np.repeat(frames, len(times_ms), axis=1)
    position = np.interp(times_ms, frame_ms, np.arange(len(frame_ms)))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, len(frame_ms) - 1)
    weight = (position - lower)[None, :, None].astype("float32")
    return frames[:, lower] * (1.0 - weight) + frames[:, upper] * weight


def get_timestamp_embeddings(audio, model):
    """Embeddings on a regular 25 ms grid covering the whole sound.

    Each time patch of the encoder (160 ms of audio) gives one vector, the
    patch tokens of that time column averaged over mel; these are
    interpolated linearly to the grid (and held constant before the first
    and after the last patch centre).

    Args:
        audio: float `(n_sounds, n_samples)` in [-1, 1] at
            `model.sample_rate`.
        model: from `load_model`.

    Returns:
        tuple of `tf.Tensor`: embeddings float32
        `(n_sounds, n_timestamps, model.timestamp_embedding_size)` and
        timestamps float32 `(n_sounds, n_timestamps)` in ms.

    Examples:
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> model = MaskSpecHearModel(encoder)
    >>> emb, ts = get_timestamp_embeddings(np.zeros((2, 16000), "float32"),
    ...                                    model)
    >>> emb.shape, ts.shape, float(ts[0, -1])
    (TensorShape([2, 41, 32]), TensorShape([2, 41]), 1000.0)
    """
    _check_model(model)
    audio = tf.convert_to_tensor(audio, tf.float32)
    _, frames, frame_ms = model.embed(audio)
    duration_ms = 1000.0 * int(audio.shape[1]) / model.sample_rate
    times_ms = timestamp_grid(duration_ms)
    embeddings = _interpolate(frames, frame_ms, times_ms).astype("float32")
    timestamps = np.broadcast_to(
        times_ms.astype("float32"), (frames.shape[0], len(times_ms))
    )
    return (
        tf.convert_to_tensor(embeddings, tf.float32),
        tf.convert_to_tensor(timestamps, tf.float32),
    )


__all__ = [
    "MaskSpecHearModel",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
    "timestamp_grid",
]
