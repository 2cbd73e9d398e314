"""Linear-probe and kNN evaluation of a frozen encoder.

The standard way peers (MSM-MAE, BEATs, EAT) judge self-supervised audio
features without fine-tuning: embed every clip once with the frozen
encoder (mean of the patch tokens after the final LayerNorm, `[CLS]`
excluded), then

- `linear_probe`: fit a single `Dense` layer on standardised embeddings
  (softmax cross-entropy, or masked binary cross-entropy for multi-label
  sets with unknown = -1 entries), full-batch Adam;
- `knn_probe`: score each test clip by its `k` most cosine-similar training
  clips, weighted by `exp(similarity / temperature)` (the DINO protocol).

Both return class scores for the test clips, so any metric of
`keras_maskspec.training.metrics` applies. `probe_clips` does the whole
thing for two `ClipSet`s of a recipe (`Recipe.evaluate(..., probe=...)`).
"""

import keras
import numpy as np
from keras import ops

from keras_maskspec import data as data_lib
from keras_maskspec.models.losses import MaskedBinaryCrossentropy


def embed(encoder, waveforms, batch_size=16):
    """Mean-pooled encoder tokens of waveforms, `(num_clips, hidden_dim)`.

    Args:
        encoder: a `MaskSpecEncoder` (frozen: run with `training=False`).
        waveforms: array `(num_clips, samples)` at `encoder.sample_rate`, or
            an iterable of such batches (or `(waveforms, labels)` batches).
        batch_size: int. Batch size for arrays. Defaults to `16`.

    Returns:
        float32 numpy array `(num_clips, hidden_dim)`.

    Examples:
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> encoder = MaskSpecEncoder(hidden_dim=8, num_layers=1, num_heads=2,
    ...                           intermediate_dim=8)
    >>> embed(encoder, np.zeros((3, 16000), "float32")).shape
    (3, 8)
    """
    if isinstance(waveforms, np.ndarray):
        batches = [
            waveforms[i : i + batch_size]
            for i in range(0, len(waveforms), batch_size)
        ]
    else:
        batches = waveforms
    out = []
    for batch in batches:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        tokens = encoder(batch, training=False)
        out.append(ops.convert_to_numpy(ops.mean(tokens[:, 1:], axis=1)))
    if not out:
        raise ValueError("No clip to embed. Received: 0 batches")
    return np.concatenate(out).astype(np.float32)


def _standardize(train_x, test_x):
    mean = train_x.mean(axis=0, keepdims=True)
    std = train_x.std(axis=0, keepdims=True) + 1e-6
    return (train_x - mean) / std, (test_x - mean) / std


def _check(train_x, train_y, test_x):
    train_x = np.asarray(train_x, np.float32)
    test_x = np.asarray(test_x, np.float32)
    train_y = np.asarray(train_y)
    if train_x.ndim != 2 or test_x.ndim != 2:
        raise ValueError(
            "Embeddings must be `(num_clips, dim)`. Received: "
            f"train_x.shape={train_x.shape}, test_x.shape={test_x.shape}"
        )
    if len(train_y) != len(train_x):
        raise ValueError(
            f"One label per training embedding: {len(train_x)} embeddings. "
            f"Received: train_y with {len(train_y)} rows"
        )
    return train_x, train_y, test_x


def linear_probe(
    train_x,
    train_y,
    test_x,
    num_classes,
    multi_label=False,
    epochs=200,
    learning_rate=1e-2,
    weight_decay=1e-4,
    seed=0,
):
    """Fits a linear classifier on frozen embeddings; scores `test_x`.

    Args:
        train_x: array `(num_train, dim)` of embeddings.
        train_y: int class ids `(num_train,)`, or multi-hot
            `(num_train, num_classes)` with -1 = unknown.
        test_x: array `(num_test, dim)`.
        num_classes: int.
        multi_label: bool. Sigmoid + masked BCE instead of softmax + CE.
        epochs: int. Full-batch Adam steps. Defaults to `200`.
        learning_rate: float. Defaults to `1e-2`.
        weight_decay: float. AdamW decay. Defaults to `1e-4`.
        seed: int. Weight initialisation seed. Defaults to `0`.

    Returns:
        float numpy array `(num_test, num_classes)` of logits.

    Examples:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> scores = linear_probe(x, y, x, num_classes=2, epochs=50)
    >>> float(np.mean(scores.argmax(-1) == y)) > 0.9
    True
    """
    train_x, train_y, test_x = _check(train_x, train_y, test_x)
    train_x, test_x = _standardize(train_x, test_x)
    model = keras.Sequential(
        [
            keras.Input((train_x.shape[1],)),
            keras.layers.Dense(
                num_classes,
                kernel_initializer=keras.initializers.GlorotUniform(seed),
            ),
        ]
    )
    if multi_label:
        loss = MaskedBinaryCrossentropy(from_logits=True)
        targets = train_y.astype(np.float32)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        targets = train_y.astype(np.int64)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate, weight_decay=weight_decay
        ),
        loss=loss,
    )
    model.fit(
        train_x,
        targets,
        batch_size=len(train_x),
        epochs=int(epochs),
        shuffle=False,
        verbose=0,
    )
    return model.predict(test_x, batch_size=1024, verbose=0).astype(np.float64)


def knn_probe(
    train_x,
    train_y,
    test_x,
    num_classes,
    multi_label=False,
    k=20,
    temperature=0.07,
):
    """Weighted kNN on cosine similarity of frozen embeddings.

    Args:
        train_x: array `(num_train, dim)`.
        train_y: int class ids `(num_train,)`, or multi-hot
            `(num_train, num_classes)` with -1 = unknown.
        test_x: array `(num_test, dim)`.
        num_classes: int.
        multi_label: bool. Scores are then the weighted mean of the
            neighbours' known labels.
        k: int. Neighbours (capped at `num_train`). Defaults to `20`.
        temperature: float. Weight `exp(similarity / temperature)`.
            Defaults to `0.07`.

    Returns:
        float numpy array `(num_test, num_classes)` of scores.

    Examples:
    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], "float32")
    >>> knn_probe(x, [0, 0, 1], np.array([[1.0, 0.05]]), 2, k=2).argmax(-1)
    array([0])
    """
    train_x, train_y, test_x = _check(train_x, train_y, test_x)
    if int(k) < 1:
        raise ValueError(f"`k` must be >= 1. Received: k={k}")
    k = min(int(k), len(train_x))

    def unit(x):
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)

    similarity = unit(test_x) @ unit(train_x).T
    neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    sims = np.take_along_axis(similarity, neighbours, axis=1)
    weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / temperature)
    if multi_label:
        labels = train_y.astype(np.float64)[neighbours]  # (test, k, classes)
        known = (labels >= 0).astype(np.float64)
        w = weights[:, :, None] * known
        return (w * np.clip(labels, 0, 1)).sum(1) / np.maximum(w.sum(1), 1e-12)
    onehot = np.eye(num_classes)[train_y.astype(np.int64)][neighbours]
    scores = (weights[:, :, None] * onehot).sum(1)
    return scores / weights.sum(axis=1, keepdims=True)


PROBES = {"linear": linear_probe, "knn": knn_probe}


def _embed_clips(encoder, clips, cache, clip_seconds, batch_size, channels):
    """Embeddings of a `ClipSet` (readable clips only) and their labels."""
    todo = [i for i, f in enumerate(clips.files) if (f, channels) not in cache]
    if todo:
        # Clip indices ride along as labels, so skipped (unreadable) clips
        # cannot misalign embeddings and labels.
        ds = data_lib.classification_dataset(
            [clips.files[i] for i in todo],
            np.arange(len(todo), dtype=np.int64),
            num_classes=len(todo),
            sample_rate=encoder.sample_rate,
            clip_seconds=clip_seconds,
            batch_size=batch_size,
            shuffle=False,
            training=False,
            channels=channels,
            one_hot=False,
        )
        for waves, index in ds:
            vectors = embed(encoder, [waves])
            for j, vector in zip(np.asarray(index), vectors):
                cache[(clips.files[todo[int(j)]], channels)] = vector
    keep = [i for i, f in enumerate(clips.files) if (f, channels) in cache]
    x = np.stack([cache[(clips.files[i], channels)] for i in keep])
    return x, clips.labels[keep]


def probe_clips(
    encoder,
    train,
    test,
    method="linear",
    clip_seconds=10.0,
    batch_size=16,
    channels="mono",
    cache=None,
    seed=0,
    **probe_kwargs,
):
    """Embeds two `ClipSet`s with a frozen encoder and runs a probe.

    Args:
        encoder: a `MaskSpecEncoder`.
        train: `keras_maskspec.recipes.ClipSet` to fit the probe on.
        test: `ClipSet` to score.
        method: `"linear"` or `"knn"`.
        clip_seconds: float. Clip length fed to the encoder (centre crop /
            zero padding).
        batch_size: int. Embedding batch size.
        channels: str. Channel mode of the data pipeline.
        cache: optional dict reused across calls (`(path, channels) ->
            embedding`), so cross-validation embeds each clip once.
        seed: int. Linear-probe initialisation seed.
        **probe_kwargs: passed to `linear_probe` / `knn_probe`.

    Returns:
        dict with `y_true` (test labels) and `y_score` (test scores).

    Examples:
    >>> import os, tempfile
    >>> import soundfile as sf
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> from keras_maskspec.recipes.layout import ClipSet
    >>> folder = tempfile.mkdtemp()
    >>> files = []
    >>> for i in range(4):
    ...     files.append(os.path.join(folder, f"{i}.wav"))
    ...     sf.write(files[-1], np.full(8000, 0.1 * i, "float32"), 16000)
    >>> clips = ClipSet(files, np.array([0, 1, 0, 1]), ["a", "b"])
    >>> encoder = MaskSpecEncoder(hidden_dim=8, num_layers=1, num_heads=2,
    ...                           intermediate_dim=8)
    >>> out = probe_clips(encoder, clips, clips, "knn", clip_seconds=0.5, k=1)
    >>> out["y_score"].shape
    (4, 2)
    """
    if method not in PROBES:
        raise ValueError(
            f"`method` must be one of {sorted(PROBES)}. Received: "
            f"method={method!r}"
        )
    cache = {} if cache is None else cache
    settings = (cache, clip_seconds, batch_size, channels)
    train_x, train_y = _embed_clips(encoder, train, *settings)
    test_x, test_y = _embed_clips(encoder, test, *settings)
    kwargs = dict(probe_kwargs)
    if method == "linear":
        kwargs.setdefault("seed", seed)
    scores = PROBES[method](
        train_x,
        train_y,
        test_x,
        num_classes=train.num_classes,
        multi_label=train.multi_label,
        **kwargs,
    )
    return {"y_true": test_y, "y_score": scores}
