"""`tf.data` pipelines for pre-training and classification.

Both pipelines: resolve `sources` (failing early on missing folders or empty
manifests), shuffle paths, decode + resample + crop in parallel
(`keras_maskspec.data.decode`), skip and count bad clips, augment, batch,
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
epoch end and keep a `bad_clips.csv` (a backend whose data adapter reads
ahead into the next epoch may count a clip in the epoch before). No decode
failure stops an iteration: soundfile errors come back as a status, and an
error raised by an in-graph decoder (`tf.audio.decode_wav`,
tensorflow-io) is caught per clip, which is then skipped and recorded by
name. When no file is readable at all, building the dataset raises a
one-line `ValueError` starting "No readable audio" with the reasons and
the first bad paths.

A dataset is one pass over the files; bad files make a pass shorter than
`num_files // batch_size` batches. For training, give the run a callable
`epoch -> pretraining_dataset(..., seed=base + epoch)`:
`keras_maskspec.data.arrays.dataset_epochs` builds it once (lazily,
whatever the number of epochs) and fills each epoch to its planned number
of steps from the next pass of the same epoch's order, so no epoch ends
early with Keras' "ran out of data".
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_maskspec.data import augment
from keras_maskspec.data import bad_clips
from keras_maskspec.data import clips as clips_lib
from keras_maskspec.data import decode
from keras_maskspec.data import sampling
from keras_maskspec.data import shards as shards_lib
from keras_maskspec.data import sources as sources_lib
from keras_maskspec.utils.cpus import usable_cpu_count


@dataclasses.dataclass(frozen=True)
class _ClipOptions:
    """The arguments both entry points share, checked once.

    What a clip is (`sample_rate`, `clip_seconds`, `channels`,
    `num_channels`), how clips are drawn (`shuffle`, `seed`, `training`,
    `shuffle_buffer`, `input_context`, `num_parallel_calls`), augmented
    (`gain_db`, `roll_seconds`/`roll_samples`, `extra_augment`,
    `container_seconds`) and batched (`batch_size`, `drop_remainder`). See
    `pretraining_dataset` for each argument.
    """

    sample_rate: int
    clip_seconds: float
    batch_size: int
    shuffle: bool
    seed: object
    training: bool
    channels: str
    num_channels: int
    gain_db: float
    roll_seconds: float
    drop_remainder: object
    shuffle_buffer: int
    input_context: object
    num_parallel_calls: int
    roll_samples: int = 0
    extra_augment: bool = False
    container_seconds: float = None
    crop: str = None

    @classmethod
    def from_arguments(cls, arguments, **changes):
        """The options among an entry point's `locals()` (called first
        thing, so they hold only its arguments), with `changes`."""
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: arguments[n] for n in names if n in arguments}
        return cls(**{**values, **changes})

    def __post_init__(self):
        for name in ("sample_rate", "clip_seconds", "batch_size"):
            value = getattr(self, name)
            if value is None or value <= 0:
                raise ValueError(
                    f"`{name}` must be positive. Received: {name}={value}"
                )
        clips_lib.validate_channels(self.channels, self.num_channels)
        clips_lib.crop_mode(self.crop)

    @property
    def crop_mode(self):
        """`crop`, or by `training`: random in training, else centre."""
        return clips_lib.crop_mode(self.crop, self.training)

    @property
    def num_samples(self):
        return round(self.clip_seconds * self.sample_rate)

    @property
    def max_shift(self):
        """Largest roll in samples: `roll_samples`, else `roll_seconds`."""
        if self.roll_samples:
            return int(self.roll_samples)
        return round((self.roll_seconds or 0.0) * self.sample_rate)

    @property
    def container_samples(self):
        """The reference's clip buffer in samples (`None`: the clip)."""
        if not self.container_seconds:
            return None
        return round(self.container_seconds * self.sample_rate)

    @property
    def augments(self):
        """Whether per-clip gain, extra augment or roll runs (training)."""
        return self.training and bool(
            self.gain_db or self.max_shift or self.extra_augment
        )

    @property
    def drop(self):
        """`drop_remainder`, defaulting to `training`."""
        if self.drop_remainder is None:
            return self.training
        return self.drop_remainder


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


def _check_readable(paths, options):
    """Raises a one-line `ValueError` if no file holds a readable clip.

    Files are tried in order until one decodes (one read for a healthy
    corpus; a full pass only when every file is bad, which training would
    hit anyway). Shards are checked by `_shard_clips` (`peek_shard`).
    Raising here, in Python, keeps the message whole: the same failure
    inside `tf.data` reaches the user as "Graph execution error".
    """
    report = bad_clips.BadClipReport()
    for path in paths:
        try:
            decode.load_audio(
                path,
                options.sample_rate,
                options.channels,
                options.num_samples,
                num_channels=options.num_channels,
            )
            return None
        except bad_clips.AudioReadError as exc:
            report.record(path, exc.reason)
        except Exception:  # noqa: BLE001 - any failure skips the clip
            report.record(path, bad_clips.NOT_AUDIO)
    raise ValueError(
        f"No readable audio in {len(paths)} files: every clip was skipped "
        f"({report.summary()})."
    )


def _shard_clips(paths, options, report, randoms):
    """Shard records -> dicts `waveform`, `label`, `seed`."""
    first = shards_lib.peek_shard(paths[0])
    if int(first["sample_rate"]) != options.sample_rate:
        raise ValueError(
            f"Shard {paths[0]} stores audio at {first['sample_rate']} Hz "
            f"but the pipeline wants {options.sample_rate} Hz; rewrite the "
            f"shards with write_shards(sample_rate={options.sample_rate}). "
            f"Received: sample_rate={options.sample_rate}"
        )
    ds = shards_lib.read_shards(
        paths,
        shuffle=options.shuffle,
        seed=options.seed,
        shuffle_buffer=options.shuffle_buffer,
        input_context=options.input_context,
        report=report,
    )

    def crop(record, r):
        wave = clips_lib.tf_mix_channels(
            record["waveform"], options.channels, options.num_channels
        )
        wave = clips_lib.crop_or_pad(
            wave,
            options.num_samples,
            crop=options.crop_mode,
            seed=tf.stack([r, r + 1]),
        )
        return {"waveform": wave, "label": record["label"], "seed": r}

    return tf.data.Dataset.zip(ds, randoms).map(
        crop, num_parallel_calls=options.num_parallel_calls
    )


def _file_index_dataset(num_files, options):
    """File indices for one epoch: this host's share, shuffled if asked."""
    index_ds = tf.data.Dataset.range(num_files)
    if options.input_context is not None:
        index_ds = index_ds.shard(
            options.input_context.num_input_pipelines,
            options.input_context.input_pipeline_id,
        )
    if options.shuffle:
        index_ds = index_ds.shuffle(
            num_files, seed=options.seed, reshuffle_each_iteration=True
        )
    return index_ds


def _guarded(load, failed):
    """`load` for one element, or `failed` if any op inside it errors.

    Graph decoders (`tf.audio.decode_wav`, tensorflow-io) raise instead of
    returning a status; run alone with `ignore_errors`, a failing element
    falls through to `failed`, which records it by name, so no decode error
    can stop an iteration.
    """

    def one(*args):
        loaded = tf.data.Dataset.from_tensors(args).map(lambda *a: load(*a))
        fallback = tf.data.Dataset.from_tensors(args).map(lambda *a: failed(*a))
        return loaded.ignore_errors().concatenate(fallback).take(1)

    return one


def _file_clips(paths, options, report, randoms, index_ds=None):
    """Audio files -> dicts `waveform`, `index`, `seed`; bad files dropped."""
    # Made eagerly even while a per-epoch pipeline is traced (`flat_map` in
    # `arrays.dataset_epochs`): the function then captures the tensor
    # instead of serialising every path into its graph.
    with tf.init_scope():
        table = tf.constant([os.fsencode(p) for p in paths], tf.string)
    if index_ds is None:
        index_ds = _file_index_dataset(len(paths), options)
    decoder = decode.make_decoder(
        options.sample_rate,
        options.num_samples,
        options.channels,
        options.num_channels,
        crop=options.crop_mode,
        report=report,
    )
    out_channels = clips_lib.validate_channels(
        options.channels, options.num_channels
    )
    shape = [options.num_samples] + ([out_channels] if out_channels else [])

    def load(index, r):
        wave, ok = decoder(tf.gather(table, index), tf.stack([r, index]))
        return {"waveform": wave, "index": index, "seed": r, "ok": ok}

    def record_failure(path):
        report.record(path, bad_clips.NOT_AUDIO)
        return np.bool_(False)

    def failed(index, r):
        ok = tf.numpy_function(
            record_failure, [tf.gather(table, index)], tf.bool
        )
        return {"waveform": tf.zeros(shape), "index": index, "seed": r,
                "ok": tf.reshape(ok, [])}  # fmt: skip

    ds = tf.data.Dataset.zip(index_ds, randoms).interleave(
        _guarded(load, failed),
        cycle_length=_cycle_length(options.num_parallel_calls),
        num_parallel_calls=options.num_parallel_calls,
        deterministic=True,
    )
    ds = ds.filter(lambda e: e["ok"])
    return ds.map(lambda e: {k: v for k, v in e.items() if k != "ok"})


def _cycle_length(num_parallel_calls):
    if num_parallel_calls in (None, tf.data.AUTOTUNE):
        return max(2, usable_cpu_count())
    return max(1, int(num_parallel_calls))


def _clips(kind, paths, options, report, index_ds=None):
    """Unbatched dict dataset: `waveform`, `seed` (+ `index` or `label`).

    Per-clip randomness comes from `Dataset.random(seed)`, one stateless
    seed per clip, so results do not depend on the decode order.
    """
    randoms = tf.data.Dataset.random(
        seed=options.seed, rerandomize_each_iteration=True
    )
    if kind == "shards":
        return _shard_clips(paths, options, report, randoms)
    _check_readable(paths, options)
    return _file_clips(paths, options, report, randoms, index_ds)


def _augment_clip(element, options):
    """The reference's per-clip chain: gain, extra augment, roll."""
    seed = tf.stack([element["seed"], tf.constant(101, tf.int64)])
    wave = element["waveform"]
    if options.gain_db:
        wave = augment.random_gain(wave, options.gain_db, seed=seed)
    if options.extra_augment:
        wave = augment.extra_augment(wave, options.sample_rate, seed=seed)
    if options.max_shift:
        wave = augment.random_time_roll(
            wave,
            options.max_shift,
            seed=seed,
            container_samples=options.container_samples,
        )
    return {**element, "waveform": wave}


def _augment(ds, options):
    """Per-clip augmentation (training only), in parallel."""
    if not options.augments:
        return ds
    return ds.map(
        lambda e: _augment_clip(e, options),
        num_parallel_calls=options.num_parallel_calls,
    )


def _augment_and_batch(ds, options):
    """Per-clip augmentation (training), then batches of dicts."""
    return _augment(ds, options).batch(options.batch_size, options.drop)


def _finish(ds, report):
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.bad_clip_report = report
    return ds


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
    roll_samples=0,
    extra_augment=False,
    container_seconds=None,
    crop=None,
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
        gain_db: int. Random integer gain in `-gain_db..gain_db-1` dB
            (training only; the authors' fine-tuning uses 7: -7..6 dB).
            Defaults to `0.0` (off, as in pre-training).
        roll_seconds: float. Random time roll range in seconds (training
            only); `roll_samples` takes precedence. Defaults to `0.0`.
        drop_remainder: bool. Drop the last partial batch. Defaults to
            `training`.
        shuffle_buffer: int. Record shuffle buffer for shards.
        input_context: optional `tf.distribute.InputContext` for per-host
            sharding.
        num_parallel_calls: int. Parallel decodes. Defaults to AUTOTUNE.
        report: optional `BadClipReport`; a new one otherwise. Either way it
            is `dataset.bad_clip_report`.
        roll_samples: int. Random roll `-roll_samples..roll_samples`
            samples (training only; the authors: 50). Defaults to `0`.
        extra_augment: bool. The authors' noise/volume/high-/low-pass
            chain (`augment.extra_augment`, training only). Defaults to
            `False`.
        container_seconds: float or `None`. The reference's clip buffer
            (10 s): rolls are zero-filled shifts of shorter clips and
            mixup's means run over it (`augment.CONTAINER_SECONDS`).
            Defaults to `None` (the clip itself).
        crop: str or `None`. Which window of a longer file:
            `"random"`, `"centre"` or `"start"` (the first
            `clip_seconds`, as the authors' `pad_or_truncate`); `None`:
            random in training, centre otherwise. Defaults to `None`.

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
    options = _ClipOptions.from_arguments(locals())
    report = report if report is not None else bad_clips.BadClipReport()
    kind, paths = sources_lib.resolve_sources(sources)
    ds = _clips(kind, paths, options, report)
    ds = ds.map(lambda e: {"waveform": e["waveform"], "seed": e["seed"]})
    ds = _fail_if_empty(ds, report, f"{len(paths)} {kind}")
    ds = _augment_and_batch(ds, options)
    return _finish(ds.map(lambda e: e["waveform"]), report)


def _parse_label_text(text, multi_label):
    parts = [p for p in text.replace("|", ";").replace(",", ";").split(";")]
    parts = [p.strip() for p in parts if p.strip()]
    if not multi_label:
        return int(parts[0])
    return [int(p) for p in parts]


def _labels_from_manifest(files, multi_label):
    """Labels from the `label` column of a `.csv` manifest `files`."""
    if not (isinstance(files, str) and files.lower().endswith(".csv")):
        raise ValueError(
            "`labels` is required for audio files (only shards or a CSV "
            f"manifest carry their own). Received: files={files!r}"
        )
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
    roll_samples=0,
    extra_augment=False,
    container_seconds=None,
    crop=None,
    copies=1,
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
        mixup_rate: float. Probability a clip is mixed with a partner drawn
            uniformly from the whole training set, before batching (the
            authors' `MixupDataset`: 0.5; `augment.waveform_mixup`).
            Defaults to `0.0` (off).
        mixup_alpha: float. Beta(alpha, alpha) parameter. Defaults to `2.0`
            (the authors').
        gain_db: int. Random integer gain in `-gain_db..gain_db-1` dB (the
            authors: 7). Defaults to 0.
        roll_seconds: float. Random time roll range in seconds;
            `roll_samples` takes precedence. Defaults to 0.
        balanced: bool. Class-balanced sampling without replacement (the
            authors' AudioSet rule, see `keras_maskspec.data.sampling`);
            files only. Defaults to `False`.
        samples_per_epoch: int. Draws per epoch when `balanced`. Defaults to
            the number of files.
        drop_remainder: bool. Defaults to `training`.
        shuffle_buffer: int. Record shuffle buffer for shards.
        input_context: optional `tf.distribute.InputContext`.
        num_parallel_calls: int. Parallel decodes. Defaults to AUTOTUNE.
        report: optional `BadClipReport` (exposed as
            `dataset.bad_clip_report`).
        roll_samples: int. See `pretraining_dataset`. Defaults to `0`.
        extra_augment: bool. See `pretraining_dataset`. Defaults to
            `False`.
        container_seconds: float or `None`. See `pretraining_dataset`.
        crop: str or `None`. See `pretraining_dataset`. Defaults to `None`.
        copies: int. Training only: each clip is emitted this many times
            in a row, each copy with its own augmentation draws (gain,
            extra augment, roll, mixup partner); the decode and crop are
            shared. Defaults to `1`.

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
    options = _ClipOptions.from_arguments(
        locals(), shuffle=shuffle and not balanced
    )
    if not isinstance(copies, int) or copies < 1:
        raise ValueError(
            f"`copies` must be an int >= 1. Received: copies={copies!r}"
        )
    if mixup_rate and not (multi_label or one_hot):
        raise ValueError(
            "Mixup mixes labels, so single-label targets must be one-hot. "
            f"Received: mixup_rate={mixup_rate}, one_hot={one_hot}"
        )
    report = report if report is not None else bad_clips.BadClipReport()
    kind, paths = sources_lib.resolve_sources(files)
    index_ds, table = None, None
    if kind == "files":
        if labels is None:
            labels = _labels_from_manifest(files, multi_label)
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
        _check_shard_arguments(labels, num_classes, balanced, sample_weights)
    if sample_weights is not None:
        sample_weights = _check_sample_weights(sample_weights, len(paths))
    to_target = _target_fn(int(num_classes), multi_label, one_hot)

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

    ds = _clips(kind, paths, options, report, index_ds=index_ds)
    ds = ds.map(attach, num_parallel_calls=num_parallel_calls)
    ds = _fail_if_empty(ds, report, f"{len(paths)} {kind}")
    if training and copies > 1:
        ds = _copies(ds, copies)
    ds = _augment(ds, options)
    if training and mixup_rate:
        partners = _partner_clips(kind, paths, options).map(
            attach, num_parallel_calls=num_parallel_calls
        )
        ds = tf.data.Dataset.zip(ds, _augment(partners, options)).map(
            lambda e, p: _mix(e, p, mixup_alpha, mixup_rate, options),
            num_parallel_calls=num_parallel_calls,
        )
    ds = ds.batch(options.batch_size, options.drop)

    def to_tuple(e):
        if sample_weights is not None:
            return e["waveform"], e["label"], e["weight"]
        return e["waveform"], e["label"]

    return _finish(ds.map(to_tuple), report)


def _check_shard_arguments(labels, num_classes, balanced, sample_weights):
    if labels is not None or balanced or sample_weights is not None:
        raise ValueError(
            "With TFRecord shards, labels come from the records and "
            "balanced sampling/sample weights need audio files. Received: "
            f"labels={labels is not None}, balanced={balanced}, "
            f"sample_weights={sample_weights is not None}"
        )
    if num_classes is None:
        raise ValueError(
            "`num_classes` is required with shards. Received: num_classes=None"
        )


def _check_sample_weights(sample_weights, num_files):
    sample_weights = np.asarray(sample_weights, np.float32)
    if sample_weights.shape != (num_files,):
        raise ValueError(
            f"`sample_weights` must have shape ({num_files},). "
            f"Received: sample_weights.shape={sample_weights.shape}"
        )
    return sample_weights


def _target_fn(num_classes, multi_label, one_hot):
    """Maps a raw label (ids or multi-hot row) to the emitted target."""

    def to_target(raw):
        if multi_label:
            return tf.ensure_shape(tf.cast(raw, tf.float32), [num_classes])
        ids = tf.cast(tf.reshape(raw, [-1])[0], tf.int32)
        if one_hot:
            return tf.one_hot(ids, num_classes)
        return ids

    return to_target


def _copies(ds, copies):
    """Each element `copies` times in a row, copy `c` with a seed hashed
    from its own and `c` (independent augmentation and mixup draws)."""

    def repeat(element):
        def copy(c):
            seed = tf.random.stateless_uniform(
                [], tf.stack([element["seed"], c]), minval=None,
                maxval=None, dtype=tf.int64,
            )  # fmt: skip
            return {**element, "seed": seed}

        return tf.data.Dataset.range(copies).map(copy)

    return ds.flat_map(repeat)


def _partner_clips(kind, paths, options):
    """Mixup partners: clips drawn uniformly from all of `paths`.

    As the reference's `MixupDataset` (`randint(len(dataset))`), the
    partner ignores the class-balanced sampler and the host's shard.
    Failures are counted in a report of their own, so the main report
    counts each clip of the epoch once.
    """
    # `options.seed` may be a scalar tensor (the epoch, when
    # `dataset_epochs` traces the pipeline once): no `int()` here.
    seed = None if options.seed is None else options.seed + 1
    options = dataclasses.replace(
        options, seed=seed, shuffle=True, input_context=None
    )
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    report = bad_clips.BadClipReport()
    if kind == "shards":
        return _shard_clips(paths, options, report, randoms).repeat()
    uniform = tf.data.Dataset.random(
        seed=None if seed is None else seed + 1,
        rerandomize_each_iteration=True,
    ).map(lambda r: tf.math.floormod(r, len(paths)))
    return _file_clips(paths, options, report, randoms, index_ds=uniform)


def _mix(element, partner, alpha, rate, options):
    seed = tf.stack([element["seed"], tf.constant(202, tf.int64)])
    wave, label = augment.waveform_mixup(
        element["waveform"],
        element["label"],
        partner["waveform"],
        partner["label"],
        alpha=alpha,
        rate=rate,
        seed=seed,
        container_samples=options.container_samples,
    )
    return {**element, "waveform": wave, "label": label}
