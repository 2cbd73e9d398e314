"""Inference helpers: named outputs of a model, and long clips in windows.

`inference_model(model)` turns a `MaskSpecClassifier`, a `MaskSpecEncoder`
or a `MaskSpecPretrainer` into a functional model with named outputs (the
graph SavedModel export, the HEAR wrapper and `maskspec embed` all share):

- `scores` `(batch, classes)`: classifier only, what `model.predict`
  returns (logits, or probabilities if the head has an activation);
- `probabilities` `(batch, classes)`: classifier only, softmax (sigmoid
  if multi-label) of the logits;
- `embedding` `(batch, dim)`: a classifier's pooled, normalised head
  input; an encoder's mean of its patch tokens;
- `frame_embeddings` `(batch, time_patches, dim)`: the patch tokens of
  each time column averaged over mel (one per 16 frames = 160 ms).

`sliding_window_inference` runs any of these on clips longer than the
model's input length, window by window, and pools the windows (mean and
max). Everything here is `keras.ops` and numpy: it runs on every backend.
"""

import keras
import numpy as np
from keras import ops

from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer


class _FramePooling(keras.layers.Layer):
    """Averages patch tokens over the mel axis: one vector per time patch.

    Input shape:
        `(batch, time_patches * mel_patches, dim)`, time-major.

    Output shape:
        `(batch, time_patches, dim)`.
    """

    def __init__(self, mel_patches, **kwargs):
        super().__init__(**kwargs)
        self.mel_patches = mel_patches

    def call(self, tokens):
        shape = ops.shape(tokens)
        grid = ops.reshape(
            tokens, (shape[0], -1, self.mel_patches, tokens.shape[-1])
        )
        return ops.mean(grid, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, input_shape[-1])


def base_model(model):
    """The classifier or encoder behind `model`, with a clear error.

    Args:
        model: a `MaskSpecClassifier`, a `MaskSpecEncoder` or a
            `MaskSpecPretrainer` (its encoder).

    Returns:
        The `MaskSpecClassifier` or `MaskSpecEncoder` to run at inference.
    """
    if isinstance(model, MaskSpecPretrainer):
        return model.encoder
    if isinstance(model, (MaskSpecClassifier, MaskSpecEncoder)):
        return model
    raise ValueError(
        "Expected a MaskSpecClassifier, MaskSpecEncoder or "
        f"MaskSpecPretrainer. Received: model={type(model).__name__}"
    )


def encoder_of(model):
    """The `MaskSpecEncoder` of a classifier, pre-trainer or encoder."""
    model = base_model(model)
    return model.encoder if isinstance(model, MaskSpecClassifier) else model


def inference_model(model):
    """A functional model with named inference outputs (see module doc).

    The returned model shares the weights of `model` (no copy). Training
    -only parts of a classifier (SpecAugment, patchout, head dropout) are
    left out: they are the identity at inference, so `scores` equals
    `model.predict`.

    Args:
        model: a `MaskSpecClassifier`, a `MaskSpecEncoder`, or a
            `MaskSpecPretrainer` (its encoder is used).

    Returns:
        `keras.Model` taking `(batch, samples)` waveforms and returning a
        dict: `scores`, `probabilities`, `embedding`, `frame_embeddings`
        for a classifier; `embedding`, `frame_embeddings` for an encoder.
        It carries the int attributes `sample_rate` and `min_num_samples`
        of its encoder.

    Examples:
    >>> import numpy as np
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = inference_model(encoder).predict(
    ...     np.zeros((2, 32000), "float32"), verbose=0)
    >>> out["embedding"].shape, out["frame_embeddings"].shape
    ((2, 32), (2, 6, 32))
    """
    model = base_model(model)
    is_classifier = isinstance(model, MaskSpecClassifier)
    encoder = encoder_of(model)
    frame_pooling = _FramePooling(encoder.mel_patches(), name="frame_pooling")
    waveform = keras.Input(shape=(None,), name="waveform")
    tokens = encoder.embed(encoder.frontend(waveform))
    x = encoder.encode(tokens)
    outputs = {}
    if is_classifier:
        patch_tokens = x[:, 1:]
        pooled = model.pool(patch_tokens)
        scores = model.head(pooled)
        if model.activation is not None:
            probabilities = scores
        elif model.multi_label:
            probabilities = ops.sigmoid(scores)
        else:
            probabilities = ops.softmax(scores, axis=-1)
        outputs["scores"] = scores
        outputs["probabilities"] = probabilities
        outputs["embedding"] = pooled
    else:
        patch_tokens = encoder.final_norm(x)[:, 1:]
        outputs["embedding"] = ops.mean(patch_tokens, axis=1)
    outputs["frame_embeddings"] = frame_pooling(patch_tokens)
    infer = keras.Model(waveform, outputs, name=f"{model.name}_inference")
    # Plain ints (not tracked): what `sliding_window_inference` needs to
    # run this model as is, without the model it was built from.
    infer.sample_rate = int(encoder.sample_rate)
    infer.min_num_samples = int(encoder.min_num_samples())
    return infer


def frame_times(model, num_time_patches):
    """Centre time (seconds) of each time patch of `frame_embeddings`.

    Log-mel frame `i` is centred on sample `i * hop_length`; time patch `t`
    covers frames `t * stride ... t * stride + size - 1`.

    Args:
        model: a MaskSpec model (see `inference_model`).
        num_time_patches: int. Number of time patches.

    Returns:
        float64 numpy array `(num_time_patches,)`.

    Examples:
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> frame_times(encoder, 3).round(3).tolist()
    [0.075, 0.235, 0.395]
    """
    encoder = encoder_of(model)
    size, stride = encoder.patch_size[0], encoder.patch_stride[0]
    hop = encoder.frontend.hop_length / encoder.sample_rate
    t = np.arange(num_time_patches, dtype="float64")
    return (t * stride + (size - 1) / 2.0) * hop


def window_starts(num_samples, window_samples, hop_samples):
    """Start samples of windows covering a clip, the last one flush at its end.

    Args:
        num_samples: int. Clip length.
        window_samples: int. Window length.
        hop_samples: int. Step between window starts.

    Returns:
        list of int. A clip no longer than a window gives `[0]`.

    Examples:
    >>> window_starts(100, 40, 30)
    [0, 30, 60]
    >>> window_starts(100, 40, 40)
    [0, 40, 60]
    >>> window_starts(30, 40, 20)
    [0]
    """
    if window_samples < 1 or hop_samples < 1:
        raise ValueError(
            "`window_samples` and `hop_samples` must be >= 1. Received: "
            f"window_samples={window_samples}, hop_samples={hop_samples}"
        )
    last = max(num_samples - window_samples, 0)
    starts = list(range(0, last + 1, hop_samples))
    if starts[-1] != last:
        starts.append(last)
    return starts


def _as_callable(model):
    """`(fn(batch) -> dict of numpy arrays, sample_rate, min_samples)`."""
    if isinstance(
        model, (MaskSpecClassifier, MaskSpecEncoder, MaskSpecPretrainer)
    ):
        model = inference_model(model)
    if isinstance(model, keras.Model) and isinstance(
        getattr(model, "min_num_samples", None), int
    ):

        def fn(batch):
            out = model(ops.convert_to_tensor(batch), training=False)
            return {k: ops.convert_to_numpy(v) for k, v in out.items()}

        return fn, model.sample_rate, model.min_num_samples
    signatures = getattr(model, "signatures", None)
    if signatures is not None and "serving_default" in signatures:
        serve = signatures["serving_default"]
        sample_rate = int(model.sample_rate.numpy())
        min_samples = int(model.min_num_samples.numpy())

        def fn(batch):
            out = serve(waveform=batch)
            return {k: v.numpy() for k, v in out.items()}

        return fn, sample_rate, min_samples
    raise ValueError(
        "`model` must be a MaskSpec Keras model or a SavedModel exported by "
        "`keras_maskspec.export.export_saved_model` (loaded with "
        f"`tf.saved_model.load`). Received: model={type(model).__name__}"
    )


def _reads_by_window(waveform):
    """Whether `waveform` is an `AudioFileWindows` (sliced lazily)."""
    return hasattr(waveform, "read") and hasattr(waveform, "sample_rate")


def sliding_window_inference(
    model,
    waveform,
    window_seconds=10.0,
    hop_seconds=None,
    batch_size=8,
):
    """Runs a model on a long clip in overlapping windows and pools them.

    Windows start every `hop_seconds`; the last one is placed flush with the
    end of the clip, so no window holds padding and every sample is seen. A
    clip shorter than one window is run whole (padded to one patch if it is
    shorter than that).

    Args:
        model: a MaskSpec Keras model, the output of `inference_model`
            (reused as is: the cheaper choice for many clips), or a
            SavedModel written by `export_saved_model` and loaded with
            `tf.saved_model.load`.
        waveform: 1-D float array `(samples,)` at the model's sample
            rate, or a `keras_maskspec.data.AudioFileWindows` (a long file
            read window by window: only `batch_size` windows are in memory
            at once).
        window_seconds: float. Window length; use the clip length the model
            was trained on. Defaults to `10.0`.
        hop_seconds: float or `None`. Step between windows. Defaults to
            half a window.
        batch_size: int. Windows per forward pass. Defaults to `8`.

    Returns:
        dict with `"starts"` (window start times in seconds, `(windows,)`),
        `"windows"` (each output per window, `(windows, ...)`), `"mean"` and
        `"max"` (each per-clip output pooled over windows; frame outputs are
        not pooled).

    Examples:
    >>> import numpy as np
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = sliding_window_inference(
    ...     encoder, np.zeros(80000, "float32"), window_seconds=1.0)
    >>> out["starts"].tolist()
    [0.0, 0.5, 1.0, 1.5]
    >>> out["windows"]["embedding"].shape, out["mean"]["embedding"].shape
    ((4, 32), (32,))
    """
    fn, sample_rate, min_samples = _as_callable(model)
    if not _reads_by_window(waveform):
        waveform = np.asarray(waveform, dtype="float32")
    elif waveform.sample_rate != sample_rate:
        raise ValueError(
            f"{waveform!r} is read at {waveform.sample_rate} Hz but the "
            f"model expects {sample_rate} Hz. Received: "
            f"waveform.sample_rate={waveform.sample_rate}"
        )
    if waveform.ndim != 1:
        raise ValueError(
            "`waveform` must be 1-D (samples,). Received: "
            f"waveform.shape={waveform.shape}"
        )
    if window_seconds <= 0 or (hop_seconds is not None and hop_seconds <= 0):
        raise ValueError(
            "`window_seconds` and `hop_seconds` must be positive. Received: "
            f"window_seconds={window_seconds}, hop_seconds={hop_seconds}"
        )
    if hop_seconds is None:
        hop_seconds = window_seconds / 2
    window = max(round(window_seconds * sample_rate), min_samples)
    hop = max(round(hop_seconds * sample_rate), 1)
    if waveform.shape[0] < min_samples:
        waveform = np.pad(waveform[:], (0, min_samples - waveform.shape[0]))
    window = min(window, waveform.shape[0])
    starts = window_starts(waveform.shape[0], window, hop)
    pieces = []
    for i in range(0, len(starts), batch_size):
        batch = np.stack(
            [waveform[s : s + window] for s in starts[i : i + batch_size]]
        )
        pieces.append(fn(batch))
    windows = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    vectors = {k: v for k, v in windows.items() if v.ndim == 2}
    return {
        "starts": np.asarray(starts, "float64") / sample_rate,
        "windows": windows,
        "mean": {k: v.mean(axis=0) for k, v in vectors.items()},
        "max": {k: v.max(axis=0) for k, v in vectors.items()},
    }


def clip_embeddings(model, waveform, window_seconds=10.0, times=None):
    """Scene and time-stamped frame embeddings of one clip of any length.

    The clip is cut into back-to-back windows by `sliding_window_inference`
    (hop = window, the last window flush with the end, so all windows have
    one length): the scene embedding is the mean of the window embeddings;
    frame embeddings are those of each window at their own times, a time
    covered by two windows taken from the earlier one.

    Args:
        model: what `sliding_window_inference` takes.
        waveform: 1-D float array `(samples,)` at the model's sample rate,
            or an `AudioFileWindows` (read window by window).
        window_seconds: float. Window length. Defaults to `10.0`.
        times: callable `count -> (count,)` centre times in seconds of the
            frame embeddings within a window, or `None` for
            `frame_times(model, count)` (MaskSpec Keras models only).

    Returns:
        dict: `embedding` `(dim,)`, `frame_embeddings` `(frames, dim)` and
        `frame_times` `(frames,)` in seconds, increasing.

    Examples:
    >>> import numpy as np
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = clip_embeddings(encoder, np.zeros(112000, "float32"), 2.0)
    >>> out["embedding"].shape, out["frame_embeddings"].shape
    ((32,), (22, 32))
    >>> bool(np.all(np.diff(out["frame_times"]) > 0))
    True
    """
    if times is None:

        def times(count):
            return frame_times(model, count)

    out = sliding_window_inference(
        model, waveform, window_seconds, hop_seconds=window_seconds
    )
    frames, stamps, last = [], [], -np.inf
    windows = out["windows"]["frame_embeddings"]
    for start, window in zip(out["starts"], windows):
        t = start + times(window.shape[0])
        keep = t > last
        frames.append(window[keep])
        stamps.append(t[keep])
        last = t[-1]
    return {
        "embedding": out["mean"]["embedding"],
        "frame_embeddings": np.concatenate(frames),
        "frame_times": np.concatenate(stamps),
    }


__all__ = [
    "base_model",
    "clip_embeddings",
    "encoder_of",
    "frame_times",
    "inference_model",
    "sliding_window_inference",
    "window_starts",
]
