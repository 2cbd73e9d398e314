"""`tf.data` pipelines for pre-training and classification.

Both pipelines: resolve `sources` (failing early on missing folders or empty
manifests), shuffle paths, decode + resample + crop in parallel
(`keras_maskspec.data.audio`), skip and count bad clips, augment, batch,
prefetch. Per-clip randomness (crop offset, gain, roll) comes from stateless
seeds drawn from `tf.data.Dataset.random(seed)`, so a fixed `seed` gives the
same batches every run while parallel decoding stays parallel.

Label conventions (classification):

- single-label: int class ids in `[0, num_classes)`, emitted one-hot float32
  `(num_classes,)` (so mixup can mix them), or int32 ids with
  `one_hot=False`;
- multi-label: multi-hot float32 `(num_classes,)` with 1 = present,
  0 = absent and -1 = unknown (unlabelled). A `label_mask` (1 = labelled,
  0 = unknown) is folded into the labels this way. The classifier's masked
  loss and metrics ignore entries with `y < 0`; mixup keeps an entry
  unknown if either mixed clip has it unknown.

Every returned dataset carries `dataset.bad_clip_report`, a
`BadClipReport`; pass the dataset to `BadClipLogger` to print it at each
epoch end (a backend whose data adapter reads ahead into the next epoch may
count a clip in the epoch before). If an epoch yields no readable clip at
all, iteration fails with an error starting "No readable audio" that lists
the first bad paths.
"""

import numpy as np
import tensorflow as tf

from keras_maskspec.data import audio as audio_lib
from keras_maskspec.data import augment
from keras_maskspec.data import bad_clips
from keras_maskspec.data import sampling
from keras_maskspec.data import shards as shards_lib
from keras_maskspec.data import sources as sources_lib


def _check_positive(**kwargs):
    for name, value in kwargs.items():
        if value is None or value <= 0:
            raise ValueError(
                f"`{name}` must be positive. Received: {name}={value}"
            )


def _fail_if_empty(ds, report, what):
    """Raises at the end of an iteration that produced no element."""
    zeros = tf.nest.map_structure(
        lambda s: tf.zeros(s.shape, s.dtype), ds.element_spec
    )
    end = tf.data.Dataset.from_tensors((zeros, True))
    ds = ds.map(lambda e: (e, False)).concatenate(end)
    ds = ds.scan(
        tf.constant(0, tf.int64),
        lambda n, item: (n + 1, (item[0], item[1], n)),
    )

    def raise_empty():
        raise ValueError(
            f"No readable audio in {what}: every clip was skipped "
            f"({report.summary()})."
        )

    def check(element, is_end, seen):
        ok = tf.cond(
            is_end & tf.equal(seen, 0),
            lambda: tf.numpy_function(raise_empty, [], tf.bool),
            lambda: tf.constant(True),
        )
        return element, tf.logical_and(tf.reshape(ok, []), ~is_end)

    ds = ds.map(check).filter(lambda e, keep: keep)
    return ds.map(lambda e, keep: e)


def _clips(
    sources,
    sample_rate,
    clip_seconds,
    channels,
    num_channels,
    training,
    shuffle,
    seed,
    report,
    index_ds=None,
    shuffle_buffer=4096,
    input_context=None,
    num_parallel_calls=tf.data.AUTOTUNE,
):
    """Unbatched dict dataset: `waveform` (+ `index` or shard `label`)."""
    num_samples = round(clip_seconds * sample_rate)
    kind, paths = sources_lib.resolve_sources(sources)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    if kind == "shards":
        first = shards_lib.peek_shard(paths[0])
        if int(first["sample_rate"]) != sample_rate:
            raise ValueError(
                f"Shard {paths[0]} stores audio at {first['sample_rate']} Hz "
                f"but the pipeline wants {sample_rate} Hz; rewrite the shards "
                f"with write_shards(sample_rate={sample_rate}). Received: "
                f"sample_rate={sample_rate}"
            )
        ds = shards_lib.read_shards(
            paths,
            shuffle=shuffle,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            input_context=input_context,
            report=report,
        )

        def crop(record, r):
            wave = audio_lib.tf_mix_channels(
                record["waveform"], channels, num_channels
            )
            wave = audio_lib.crop_or_pad(
                wave, num_samples, random=training, seed=tf.stack([r, r + 1])
            )
            return {"waveform": wave, "label": record["label"], "seed": r}

        ds = tf.data.Dataset.zip(ds, randoms).map(
            crop, num_parallel_calls=num_parallel_calls
        )
        return kind, paths, ds
    table = tf.constant(np.array(paths, dtype=object).astype(bytes))
    if index_ds is None:
        index_ds = tf.data.Dataset.range(len(paths))
        if input_context is not None:
            index_ds = index_ds.shard(
                input_context.num_input_pipelines,
                input_context.input_pipeline_id,
            )
        if shuffle:
            index_ds = index_ds.shuffle(
                len(paths), seed=seed, reshuffle_each_iteration=True
            )
    decode = audio_lib.make_decoder(
        sample_rate,
        num_samples,
        channels,
        num_channels,
        training=training,
        report=report,
    )

    def load(index, r):
        wave, ok = decode(tf.gather(table, index), tf.stack([r, index]))
        return {"waveform": wave, "index": index, "seed": r, "ok": ok}

    ds = tf.data.Dataset.zip(index_ds, randoms).map(
        load, num_parallel_calls=num_parallel_calls
    )
    ds = ds.filter(lambda e: e["ok"])
    ds = ds.map(lambda e: {k: v for k, v in e.items() if k != "ok"})
    return kind, paths, ds


def _augment_clip(element, gain_db, roll_samples):
    seed = tf.stack([element["seed"], tf.constant(101, tf.int64)])
    wave = element["waveform"]
    if gain_db:
        wave = augment.random_gain(wave, gain_db, seed=seed)
    if roll_samples:
        wave = augment.random_time_roll(wave, roll_samples, seed=seed)
    return {**element, "waveform": wave}


def pretraining_dataset(
    sources,
    sample_rate=32000,
    clip_seconds=10.0,
    batch_size=32,
    shuffle=True,
    seed=None,
    training=True,
    channels="mono",
    num_channels=2,
    gain_db=0.0,
    roll_seconds=0.0,
    drop_remainder=None,
    shuffle_buffer=4096,
    input_context=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    report=None,
):
    """Unlabelled audio -> batches of float32 waveforms `(batch, samples)`.

    Args:
        sources: audio files, folders (searched recursively), `.txt`/`.csv`
            manifests, glob patterns, or TFRecord shards from `write_shards`
            (see `resolve_sources`).
        sample_rate: int. Model rate in Hz. Defaults to `32000`.
        clip_seconds: float. Clip length; longer files are cropped (random
            window in training, centre at evaluation), shorter ones
            zero-padded. Defaults to `10.0`.
        batch_size: int. Defaults to `32`.
        shuffle: bool. Shuffle clip order each epoch. Defaults to `True`.
        seed: int. Makes shuffling, crops and augmentation reproducible.
            Defaults to `None`.
        training: bool. Random crops and augmentation when true, centre
            crops otherwise. Defaults to `True`.
        channels: str. `"mono"`, `"left"`, `"right"`, `"mid"`, `"side"` or
            `"all"` (output `(batch, samples, num_channels)`). Defaults to
            `"mono"`.
        num_channels: int. Channels kept when `channels="all"`.
        gain_db: float. Random gain range in dB (training only; the paper's
            fine-tuning uses 7). Defaults to `0.0` (off, as in
            pre-training).
        roll_seconds: float. Random time roll range (training only).
            Defaults to `0.0` (off).
        drop_remainder: bool. Drop the last partial batch. Defaults to
            `training`.
        shuffle_buffer: int. Record shuffle buffer for shards.
        input_context: optional `tf.distribute.InputContext` for per-host
            sharding.
        num_parallel_calls: int. Parallel decodes. Defaults to AUTOTUNE.
        report: optional `BadClipReport`; a new one otherwise. Either way it
            is `dataset.bad_clip_report`.

    Returns:
        `tf.data.Dataset` of float32 `(batch, samples)` tensors.

    Examples:

    >>> import tempfile
    >>> from keras_maskspec.data.synthetic import write_synthetic_corpus
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_synthetic_corpus(folder, num_clips=4, sample_rate=16000,
    ...                            clip_seconds=1.0)
    >>> ds = pretraining_dataset(folder, sample_rate=16000, clip_seconds=0.5,
    ...                          batch_size=2, seed=0)
    >>> [tuple(b.shape) for b in ds]
    [(2, 8000), (2, 8000)]
    """
    _check_positive(
        sample_rate=sample_rate, clip_seconds=clip_seconds,
        batch_size=batch_size,
    )  # fmt: skip
    audio_lib.validate_channels(channels, num_channels)
    report = report if report is not None else bad_clips.BadClipReport()
    kind, paths, ds = _clips(
        sources,
        int(sample_rate),
        clip_seconds,
        channels,
        num_channels,
        training,
        shuffle,
        seed,
        report,
        shuffle_buffer=shuffle_buffer,
        input_context=input_context,
        num_parallel_calls=num_parallel_calls,
    )
    ds = ds.map(lambda e: {"waveform": e["waveform"], "seed": e["seed"]})
    ds = _fail_if_empty(ds, report, f"{len(paths)} {kind}")
    if training and (gain_db or roll_seconds):
        roll = round(roll_seconds * sample_rate)
        ds = ds.map(
            lambda e: _augment_clip(e, gain_db, roll),
            num_parallel_calls=num_parallel_calls,
        )
    drop = training if drop_remainder is None else drop_remainder
    ds = ds.map(lambda e: e["waveform"]).batch(batch_size, drop)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.bad_clip_report = report
    return ds


def _parse_label_text(text, multi_label):
    parts = [p for p in text.replace("|", ";").replace(",", ";").split(";")]
    parts = [p.strip() for p in parts if p.strip()]
    if not multi_label:
        return int(parts[0])
    return [int(p) for p in parts]


def _labels_from_manifest(files, multi_label):
    if not (isinstance(files, str) and files.lower().endswith(".csv")):
        return None
    _, rows = sources_lib.read_manifest(files)
    column = next((c for c in ("label", "labels") if c in rows[0]), None)
    if column is None:
        raise ValueError(
            f"`labels` is None and manifest {files} has no `label` column. "
            f"Received: columns={list(rows[0])}"
        )
    try:
        return [_parse_label_text(r[column], multi_label) for r in rows]
    except ValueError:
        raise ValueError(
            f"Manifest {files} column `{column}` must hold int class ids "
            f"(';'-separated for multi-label). Received: files={files}"
        ) from None


def _encode_labels(labels, num_classes, multi_label, label_mask, num_files):
    """Labels as a float32 `(num_files, num_classes)` or int `(num_files,)`."""
    if not multi_label:
        ids = np.asarray(labels)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                "Single-label `labels` must be int class ids, one per file. "
                f"Received: labels with shape {ids.shape}, dtype {ids.dtype}"
            )
        if num_classes is None:
            num_classes = int(ids.max()) + 1
        if ids.min() < 0 or ids.max() >= num_classes:
            raise ValueError(
                f"Class ids must lie in [0, {num_classes}). Received: "
                f"labels in [{ids.min()}, {ids.max()}]"
            )
        out = ids.astype(np.int64)
    else:
        try:
            out = np.asarray(labels, dtype=np.float32)
        except ValueError:  # ragged: lists of class ids
            out = None
        if out is not None and (
            out.ndim != 2 or num_classes not in (None, out.shape[1])
        ):
            out = None
        if out is None:
            # Lists of class ids (AudioSet style) -> multi-hot.
            lists = [np.atleast_1d(np.asarray(ids, np.int64)) for ids in labels]
            if num_classes is None:
                num_classes = 1 + max((int(x.max()) for x in lists if x.size),
                                      default=0)  # fmt: skip
            out = np.zeros((len(lists), num_classes), np.float32)
            for row, ids in zip(out, lists):
                row[ids] = 1.0
        num_classes = num_classes or out.shape[1]
        if out.shape[1] != num_classes:
            raise ValueError(
                f"Multi-hot labels have {out.shape[1]} columns. Received: "
                f"num_classes={num_classes}"
            )
        if label_mask is not None:
            mask = np.asarray(label_mask)
            if mask.shape != out.shape:
                raise ValueError(
                    f"`label_mask` must have the labels' shape {out.shape}. "
                    f"Received: label_mask.shape={mask.shape}"
                )
            out = np.where(mask > 0, out, -1.0).astype(np.float32)
    if len(out) != num_files:
        raise ValueError(
            f"Need one label per file: {num_files} files. "
            f"Received: {len(out)} labels"
        )
    return out, int(num_classes)


def classification_dataset(
    files,
    labels=None,
    num_classes=None,
    multi_label=False,
    label_mask=None,
    sample_weights=None,
    sample_rate=32000,
    clip_seconds=10.0,
    batch_size=32,
    shuffle=True,
    seed=None,
    training=True,
    channels="mono",
    num_channels=2,
    one_hot=True,
    mixup_rate=0.0,
    mixup_alpha=2.0,
    gain_db=0.0,
    roll_seconds=0.0,
    balanced=False,
    samples_per_epoch=None,
    drop_remainder=None,
    shuffle_buffer=4096,
    input_context=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    report=None,
):
    """Labelled audio -> `(waveform, label)` or `(waveform, label, weight)`.

    See the module docstring for the label conventions.

    Args:
        files: audio files/folders/manifests (see `resolve_sources`), or
            TFRecord shards written with labels (then `labels=None`). A
            `.csv` manifest with a `label` column (ids, `;`-separated for
            multi-label) also works with `labels=None`.
        labels: class ids `(num_files,)`; or multi-hot
            `(num_files, num_classes)` / lists of class ids when
            `multi_label`. Same order as the resolved files.
        num_classes: int. Defaults to what `labels` imply.
        multi_label: bool. Multi-hot targets. Defaults to `False`.
        label_mask: optional `(num_files, num_classes)` array, 1 = labelled,
            0 = unknown (OpenMIC); unknown entries become -1.
        sample_weights: optional per-clip weights `(num_files,)`; adds a
            third element to each batch.
        sample_rate: int. Model rate in Hz. Defaults to `32000`.
        clip_seconds: float. Clip length. Defaults to `10.0`.
        batch_size: int. Defaults to `32`.
        shuffle: bool. Plain per-epoch shuffle. Defaults to `True`.
        seed: int. Reproducible shuffles, crops, augmentation.
        training: bool. Random crops and augmentation when true.
        channels: str. Channel mode (DCASE: `"left"`, `"right"`, `"mid"`).
        num_channels: int. Channels kept when `channels="all"`.
        one_hot: bool. Single-label targets one-hot (required by mixup).
            Defaults to `True`.
        mixup_rate: float. Probability a clip is mixed (paper: 0.5).
            Defaults to `0.0` (off).
        mixup_alpha: float. Beta(alpha, alpha) parameter. Defaults to `2.0`.
        gain_db: float. Random gain range in dB (paper: 7). Defaults to 0.
        roll_seconds: float. Random time roll range (paper: 0.5 s).
            Defaults to 0.
        balanced: bool. Class-balanced sampling with replacement (AudioSet
            style weights, see `class_balanced_weights`); files only.
            Defaults to `False`.
        samples_per_epoch: int. Draws per epoch when `balanced`. Defaults to
            the number of files.
        drop_remainder: bool. Defaults to `training`.
        shuffle_buffer: int. Record shuffle buffer for shards.
        input_context: optional `tf.distribute.InputContext`.
        num_parallel_calls: int. Parallel decodes. Defaults to AUTOTUNE.
        report: optional `BadClipReport` (exposed as
            `dataset.bad_clip_report`).

    Returns:
        `tf.data.Dataset` of `(waveform, label)` or
        `(waveform, label, sample_weight)` batches.

    Examples:

    >>> import tempfile
    >>> from keras_maskspec.data.synthetic import write_synthetic_corpus
    >>> folder = tempfile.mkdtemp()
    >>> csv_path = write_synthetic_corpus(folder, num_clips=4,
    ...                                   sample_rate=16000, clip_seconds=1.0)
    >>> ds = classification_dataset(csv_path, num_classes=7, batch_size=4,
    ...                             sample_rate=16000, clip_seconds=1.0,
    ...                             mixup_rate=0.5, gain_db=7.0, seed=0)
    >>> x, y = next(iter(ds))
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 16000), (4, 7))
    """
    _check_positive(
        sample_rate=sample_rate, clip_seconds=clip_seconds,
        batch_size=batch_size,
    )  # fmt: skip
    audio_lib.validate_channels(channels, num_channels)
    if mixup_rate and not (multi_label or one_hot):
        raise ValueError(
            "Mixup mixes labels, so single-label targets must be one-hot. "
            f"Received: mixup_rate={mixup_rate}, one_hot={one_hot}"
        )
    report = report if report is not None else bad_clips.BadClipReport()
    kind, paths = sources_lib.resolve_sources(files)
    if labels is None and kind == "files":
        labels = _labels_from_manifest(files, multi_label)
        if labels is None:
            raise ValueError(
                "`labels` is required for audio files (only shards or a CSV "
                f"manifest carry their own). Received: files={files!r}"
            )
    index_ds, table = None, None
    if kind == "files":
        table, num_classes = _encode_labels(
            labels, num_classes, multi_label, label_mask, len(paths)
        )
        if balanced:
            if samples_per_epoch is None:
                samples_per_epoch = len(paths)
            index_ds = sampling.weighted_index_dataset(
                sampling.class_balanced_weights(table, num_classes),
                samples_per_epoch,
                seed=seed,
            )
    else:
        if labels is not None or balanced or sample_weights is not None:
            raise ValueError(
                "With TFRecord shards, labels come from the records and "
                "balanced sampling/sample weights need audio files. Received: "
                f"labels={labels is not None}, balanced={balanced}, "
                f"sample_weights={sample_weights is not None}"
            )
        if num_classes is None:
            raise ValueError(
                "`num_classes` is required with shards. Received: "
                "num_classes=None"
            )
    if sample_weights is not None:
        sample_weights = np.asarray(sample_weights, np.float32)
        if sample_weights.shape != (len(paths),):
            raise ValueError(
                f"`sample_weights` must have shape ({len(paths)},). "
                f"Received: sample_weights.shape={sample_weights.shape}"
            )
    _, _, ds = _clips(
        files,
        int(sample_rate),
        clip_seconds,
        channels,
        num_channels,
        training,
        shuffle and not balanced,
        seed,
        report,
        index_ds=index_ds,
        shuffle_buffer=shuffle_buffer,
        input_context=input_context,
        num_parallel_calls=num_parallel_calls,
    )
    num_classes = int(num_classes)

    def to_target(raw):
        if multi_label:
            return tf.ensure_shape(tf.cast(raw, tf.float32), [num_classes])
        ids = tf.cast(tf.reshape(raw, [-1])[0], tf.int32)
        if one_hot:
            return tf.one_hot(ids, num_classes)
        return ids

    def attach(e):
        if table is not None:
            raw = tf.gather(tf.constant(table), e["index"])
        else:
            raw = e["label"]
        out = {"waveform": e["waveform"], "label": to_target(raw),
               "seed": e["seed"]}  # fmt: skip
        if sample_weights is not None:
            out["weight"] = tf.gather(tf.constant(sample_weights), e["index"])
        return out

    ds = ds.map(attach, num_parallel_calls=num_parallel_calls)
    ds = _fail_if_empty(ds, report, f"{len(paths)} {kind}")
    if training and (gain_db or roll_seconds):
        roll = round(roll_seconds * sample_rate)
        ds = ds.map(
            lambda e: _augment_clip(e, gain_db, roll),
            num_parallel_calls=num_parallel_calls,
        )
    drop = training if drop_remainder is None else drop_remainder
    ds = ds.batch(batch_size, drop)
    if training and mixup_rate:
        ds = ds.map(
            lambda e: _mix(e, mixup_alpha, mixup_rate),
            num_parallel_calls=num_parallel_calls,
        )

    def to_tuple(e):
        if sample_weights is not None:
            return e["waveform"], e["label"], e["weight"]
        return e["waveform"], e["label"]

    ds = ds.map(to_tuple).prefetch(tf.data.AUTOTUNE)
    ds.bad_clip_report = report
    return ds


def _mix(batch, alpha, rate):
    seed = tf.stack([batch["seed"][0], tf.constant(202, tf.int64)])
    wave, label = augment.mixup(
        batch["waveform"], batch["label"], alpha=alpha, rate=rate, seed=seed
    )
    return {**batch, "waveform": wave, "label": label}
