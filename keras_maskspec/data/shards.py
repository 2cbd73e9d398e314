"""Sharded TFRecords of resampled audio, for AudioSet-size corpora.

`write_shards` decodes, resamples and (optionally) crops every clip once and
stores it as 16-bit PCM or FLAC bytes with its id and labels;
`read_shards` streams the records back with file interleaving, a shuffle
buffer and per-host sharding, so training reads large sequential files
instead of millions of small ones.

Record layout (`tf.train.Example`): `id` (bytes), `audio` (bytes: raw
little-endian int16 interleaved `(samples, channels)`, or a FLAC file),
`format` (`b"pcm16"` or `b"flac"`), `sample_rate`, `num_samples`,
`num_channels` (int64), `label` (float list: `[class_id]` for a class id,
the multi-hot vector otherwise, -1 marking unknown entries; empty when
unlabelled).

Disk cost per hour of audio (16-bit PCM is `rate * 2 bytes * channels`;
record overhead is about 100 bytes a clip, 0.04 MB/h for 10 s clips):

| rate, channels | pcm16 | flac (typical) |
|---|---|---|
| 16 kHz mono | 115.2 MB/h | 40-80 MB/h |
| 32 kHz mono | 230.4 MB/h | 80-160 MB/h |
| 32 kHz stereo | 460.8 MB/h | 160-320 MB/h |
| 44.1 kHz stereo (CD) | 635.0 MB/h | 220-440 MB/h |

FLAC is lossless; its ratio depends on content (35-70% of PCM for speech,
music and environmental sound; see `benchmarks/README.md` for a measured
figure). AudioSet-2M (about 5,600 h of 10 s clips) at 32 kHz mono is 1.29 TB
as pcm16. pcm16 decodes in graph; FLAC decodes in Python (or in graph with
tensorflow-io), trading CPU for half the disk and I/O.
"""

import concurrent.futures
import glob
import hashlib
import io
import json
import math
import os

import keras
import numpy as np
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import clips
from keras_maskspec.data import decode
from keras_maskspec.data import sources as sources_lib
from keras_maskspec.utils import atomic_path
from keras_maskspec.utils import atomic_write_text

FORMATS = ("pcm16", "flac")


def _bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _encode(waveform, sample_rate, fmt):
    if fmt == "pcm16":
        pcm = np.clip(np.round(waveform * 32767.0), -32768, 32767)
        return pcm.astype("<i2").tobytes()
    buffer = io.BytesIO()
    sf.write(buffer, waveform, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def _check_labels(labels, num_files):
    if labels is None:
        return None
    labels = np.asarray(labels, dtype=np.float32)
    if labels.ndim not in (1, 2) or labels.shape[0] != num_files:
        raise ValueError(
            "`labels` must have one entry (class id or multi-hot row) per "
            f"file: {num_files} files. Received: labels.shape={labels.shape}"
        )
    return labels.reshape(num_files, -1)


def _plan(files, labels, ids, **settings):
    """What a `write_shards` call will write, to recognise its own rerun."""
    digest = hashlib.sha256()
    for i, path in enumerate(files):
        digest.update(os.fsencode(path) + b"\0")
        if ids is not None:
            digest.update(str(ids[i]).encode("utf-8") + b"\0")
    if labels is not None:
        digest.update(np.ascontiguousarray(labels).tobytes())
    return {"files": len(files), "sha256": digest.hexdigest(), **settings}


def _existing_outputs(out_dir, prefix):
    """Shard files and leftovers of a killed writer with this `prefix`."""
    shards = sorted(
        glob.glob(
            os.path.join(glob.escape(out_dir), f"{prefix}-*-of-*.tfrecord")
        )
    )
    # `atomic_path` temporaries: `.<shard name>.*.tmp` for shards and
    # `..<prefix>-progress.json.*.tmp` for the progress file.
    temps = []
    for pattern in (f".{prefix}-*.tmp", f"..{prefix}-progress.json.*.tmp"):
        temps += glob.glob(os.path.join(glob.escape(out_dir), pattern))
    return shards, sorted(temps)


def _serialize(waveform, sample_rate, fmt, record_id, label):
    waveform = waveform.reshape(waveform.shape[0], -1)
    features = {
        "id": _bytes_feature(str(record_id).encode("utf-8", "surrogateescape")),
        "audio": _bytes_feature(_encode(waveform, sample_rate, fmt)),
        "format": _bytes_feature(fmt.encode()),
        "sample_rate": _int_feature(sample_rate),
        "num_samples": _int_feature(waveform.shape[0]),
        "num_channels": _int_feature(waveform.shape[1]),
        "label": tf.train.Feature(
            float_list=tf.train.FloatList(
                value=[] if label is None else label.tolist()
            )
        ),
    }
    return tf.train.Example(
        features=tf.train.Features(feature=features)
    ).SerializeToString()


def write_shards(
    sources,
    out_dir,
    sample_rate=32000,
    labels=None,
    format="pcm16",
    channels="mono",
    num_channels=2,
    max_seconds=None,
    clips_per_shard=1024,
    prefix="shard",
    ids=None,
    num_workers=2,
    verbose=1,
    overwrite=False,
):
    """Decodes audio files once and writes them as sharded TFRecords.

    Bad files are skipped and counted, never fatal (see `BadClipReport`).

    Every shard is written under a temporary name and renamed when
    complete, so a shard file on disk is always whole. A progress file
    (`.{prefix}-progress.json`) records the finished shards: after a kill,
    the same call keeps them and writes only the rest, so no clip is
    written twice. Shard `i` always holds files `i * clips_per_shard` to
    `(i + 1) * clips_per_shard - 1` of the resolved list.

    Args:
        sources: files, folders or manifests (see `resolve_sources`).
        out_dir: str. Output folder, created if needed.
        sample_rate: int. Rate the audio is stored at. Defaults to `32000`.
        labels: optional class ids `(num_files,)` or multi-hot
            `(num_files, num_classes)` in the order of the resolved files
            (-1 marks unknown entries).
        format: str. `"pcm16"` or `"flac"`. Defaults to `"pcm16"`.
        channels: str. Channel mode (`"mono"`, `"all"`, ...). Defaults to
            `"mono"`.
        num_channels: int. Channels kept when `channels="all"`.
        max_seconds: float. Centre-crop longer files to this length;
            `None` keeps whole files.
        clips_per_shard: int. Records per file. Defaults to `1024` (about
            650 MB of 10 s 32 kHz pcm16 clips).
        prefix: str. Shard file name prefix. Defaults to `"shard"`.
        ids: optional list of str ids; defaults to the file paths.
        num_workers: int. Decoding threads. Defaults to `2`.
        verbose: int. 1 shows a `keras.utils.Progbar`, 0 is silent.
        overwrite: bool. Replace shards of this `prefix` already in
            `out_dir` (from a finished or a different run). Without it,
            such shards raise `FileExistsError`; an interrupted run of the
            same call is resumed either way. Defaults to `False`.

    Returns:
        dict with `shards` (paths), `num_clips`, `num_bytes`, `seconds`
        (audio written, resumed shards included) and `bad_clips` (a
        `BadClipReport` of the files read in this call).

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     sf.write(f"{folder}/{i}.wav", np.zeros(16000), 16000)
    >>> info = write_shards(folder, folder + "/shards", 32000,
    ...                     labels=[0, 1, 1], verbose=0)
    >>> info["num_clips"], len(info["shards"]), info["num_bytes"] > 192000
    (3, 1, True)
    """
    if format not in FORMATS:
        raise ValueError(
            f"`format` must be one of {FORMATS}. Received: format={format!r}"
        )
    if int(clips_per_shard) < 1:
        raise ValueError(
            "`clips_per_shard` must be >= 1. "
            f"Received: clips_per_shard={clips_per_shard}"
        )
    kind, files = sources_lib.resolve_sources(sources)
    if kind != "files":
        raise ValueError(
            f"`sources` must be audio files, not shards. Received: {sources}"
        )
    labels = _check_labels(labels, len(files))
    if ids is not None and len(ids) != len(files):
        raise ValueError(
            f"`ids` must have one entry per file ({len(files)}). "
            f"Received: len(ids)={len(ids)}"
        )
    clips.validate_channels(channels, num_channels)
    num_samples = None
    if max_seconds is not None:
        num_samples = round(max_seconds * sample_rate)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    per_shard = int(clips_per_shard)
    num_shards = math.ceil(len(files) / per_shard)
    shard_paths = [
        os.path.join(out_dir, f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord")
        for i in range(num_shards)
    ]
    plan = _plan(
        files, labels, ids, sample_rate=int(sample_rate), format=format,
        channels=channels, num_channels=int(num_channels),
        max_seconds=max_seconds, clips_per_shard=per_shard,
    )  # fmt: skip
    progress_path = os.path.join(out_dir, f".{prefix}-progress.json")
    done = _resume_or_refuse(
        out_dir, prefix, plan, progress_path, shard_paths, overwrite
    )
    report = bad_clips.BadClipReport()

    def load(path):
        try:
            return decode.load_audio(
                path, sample_rate, channels, num_samples,
                num_channels=num_channels,
            )  # fmt: skip
        except bad_clips.AudioReadError as exc:
            report.record(path, exc.reason)
        except Exception:  # noqa: BLE001 - any failure skips the clip
            report.record(path, bad_clips.NOT_AUDIO)
        return None

    progbar = keras.utils.Progbar(len(files), unit_name="clip", verbose=verbose)
    with concurrent.futures.ThreadPoolExecutor(int(num_workers)) as pool:
        for shard, shard_path in enumerate(shard_paths):
            lo, hi = shard * per_shard, min((shard + 1) * per_shard, len(files))
            if shard not in done:
                done[shard] = _write_one_shard(
                    shard_path, pool.map(load, files[lo:hi]), lo,
                    lambda i: ids[i] if ids else files[i],
                    lambda i: None if labels is None else labels[i],
                    sample_rate, format,
                )  # fmt: skip
                atomic_write_text(
                    progress_path,
                    json.dumps({"plan": plan, "done": done}, sort_keys=True),
                )
            progbar.update(hi)
    if os.path.exists(progress_path):
        os.remove(progress_path)
    if verbose and report.count:
        print(report.summary())
    return {
        "shards": shard_paths,
        "num_clips": sum(d["num_clips"] for d in done.values()),
        "num_bytes": sum(d["num_bytes"] for d in done.values()),
        "seconds": sum(d["samples"] for d in done.values()) / sample_rate,
        "bad_clips": report,
    }


def _resume_or_refuse(out_dir, prefix, plan, progress_path, shard_paths,
                      overwrite):  # fmt: skip
    """Finished shards of an interrupted identical run, else `{}`.

    Raises `FileExistsError` naming the shards already in `out_dir` unless
    they are such a run's or `overwrite` is set (then they are removed).
    """
    shards, temps = _existing_outputs(out_dir, prefix)
    for tmp in temps:  # a killed writer's partial shard: never a result
        os.remove(tmp)
    state = None
    if os.path.exists(progress_path):
        try:
            with open(progress_path, encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = None
    if not overwrite and state is not None and state.get("plan") == plan:
        done = {
            int(k): v
            for k, v in state.get("done", {}).items()
            if int(k) < len(shard_paths) and os.path.isfile(shard_paths[int(k)])
        }
        stray = sorted(set(shards) - {shard_paths[k] for k in done})
        for path in stray:  # this run's shard, renamed after the last save
            if path in shard_paths:
                os.remove(path)
        return done
    if shards and not overwrite:
        listed = ", ".join(os.path.basename(p) for p in shards[:3])
        more = f" and {len(shards) - 3} more" if len(shards) > 3 else ""
        raise FileExistsError(
            f"{out_dir} already holds {len(shards)} shard(s) ({listed}"
            f"{more}); pass overwrite=True (`maskspec shard --overwrite`) to "
            f"replace them, or choose another folder. Received: "
            f"out_dir={out_dir}"
        )
    for path in shards:
        os.remove(path)
    if os.path.exists(progress_path):
        os.remove(progress_path)
    return {}


def _write_one_shard(path, waveforms, first, id_of, label_of, rate, fmt):
    """Writes one shard atomically; returns its stats for the progress file."""
    stats = {"num_clips": 0, "num_bytes": 0, "samples": 0}
    with atomic_path(path) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
            for i, waveform in enumerate(waveforms, start=first):
                if waveform is None:
                    continue
                record = _serialize(waveform, rate, fmt, id_of(i), label_of(i))
                writer.write(record)
                stats["num_clips"] += 1
                stats["num_bytes"] += len(record)
                stats["samples"] += int(waveform.shape[0])
    return stats


_FEATURES = {
    "id": tf.io.FixedLenFeature([], tf.string),
    "audio": tf.io.FixedLenFeature([], tf.string),
    "format": tf.io.FixedLenFeature([], tf.string),
    "sample_rate": tf.io.FixedLenFeature([], tf.int64),
    "num_samples": tf.io.FixedLenFeature([], tf.int64),
    "num_channels": tf.io.FixedLenFeature([], tf.int64),
    "label": tf.io.VarLenFeature(tf.float32),
}


def peek_shard(path):
    """Returns the first record of a shard file as a dict of numpy values.

    Args:
        path: str. A TFRecord file written by `write_shards`.

    Returns:
        dict with the record's fields (the audio still encoded).

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> sf.write(f"{folder}/a.wav", np.zeros(800), 8000)
    >>> info = write_shards(folder, folder, 16000, verbose=0)
    >>> int(peek_shard(info["shards"][0])["sample_rate"])
    16000
    """
    try:
        for raw in tf.data.TFRecordDataset(path).take(1):
            parsed = tf.io.parse_single_example(raw, _FEATURES)
            parsed["label"] = tf.sparse.to_dense(parsed["label"])
            return {k: v.numpy() for k, v in parsed.items()}
    except (tf.errors.OpError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"Shard {path} is truncated or not a shard written by "
            f"write_shards ({type(exc).__name__}: {message}). "
            f"Received: path={path}"
        ) from None
    raise ValueError(f"Shard holds no records. Received: path={path}")


def check_shard(path):
    """Raises a `ValueError` naming `path` if its TFRecord framing is cut.

    Walks the record headers (8-byte length, 4-byte CRC; data and its CRC
    are seeked over), so a shard cut short by a killed writer or a partial
    copy is named before training instead of failing mid-epoch with a bare
    `DataLossError`. Remote paths (`gs://`, ...) are not checked.

    Args:
        path: str. A TFRecord file.

    Returns:
        int, the number of records.

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> sf.write(f"{folder}/a.wav", np.zeros(800), 8000)
    >>> info = write_shards(folder, folder + "/s", 8000, verbose=0)
    >>> check_shard(info["shards"][0])
    1
    """
    path = os.fspath(path)
    if "://" in path:
        return None
    count = 0
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos < size:
            head = f.read(12)
            length = int.from_bytes(head[:8], "little")
            if len(head) < 12 or pos + 12 + length + 4 > size:
                raise ValueError(
                    f"Shard {path} is truncated: record {count} at byte "
                    f"{pos} runs past the end of the file ({size} bytes); "
                    f"rewrite it with `maskspec shard --overwrite`. "
                    f"Received: path={path}"
                )
            pos += 12 + length + 4
            f.seek(pos)
            count += 1
    return count


def _report_lost_records(report, path, read, expected):
    path = bytes(path).decode("utf-8", "replace")
    report.record(
        f"{path} (records {int(read)}-{int(expected) - 1} of {int(expected)})",
        bad_clips.CORRUPT_SHARD,
    )
    return np.bool_(False)


def _records_or_report(path, expected, report):
    """One shard's serialized records; a corrupt record ends it, named.

    A flipped bit inside a record fails its CRC (`DataLossError`) and
    would stop the whole iteration. Read with `ignore_errors`,
    `TFRecordDataset` moves on to the next file at such an error (TF's
    reader advances the file index on any non-end-of-file error), so the
    shard yields the records before the damage; when fewer than the
    `expected` count (from `check_shard`'s header walk) came out, the
    shard and the unread record range go into `report`.
    """
    read = tf.data.TFRecordDataset(path).ignore_errors()
    read = read.map(lambda raw: (raw, tf.constant(False)))
    end = tf.data.Dataset.from_tensors((tf.constant(b""), tf.constant(True)))

    def count(n, element):
        raw, last = element
        return n + tf.cast(tf.logical_not(last), tf.int64), (raw, last, n)

    def keep(raw, last, n):
        del raw

        def lost():
            return tf.reshape(
                tf.numpy_function(
                    lambda p, r, e: _report_lost_records(report, p, r, e),
                    [path, n, expected],
                    tf.bool,
                    stateful=True,
                ),
                [],
            )

        def at_end():
            complete = tf.logical_or(expected < 0, n >= expected)
            return tf.cond(complete, lambda: tf.constant(False), lost)

        # Records pass; the end marker passes never, reporting a short read.
        return tf.cond(last, at_end, lambda: tf.constant(True))

    records = read.concatenate(end).scan(tf.constant(0, tf.int64), count)
    return records.filter(keep).map(lambda raw, last, n: raw)


def _record_bad(report, record_id):
    report.record(bytes(np.asarray(record_id).item()), bad_clips.NOT_AUDIO)
    return np.bool_(False)


def _decode_flac_py(data, num_channels, report, record_id):
    try:
        with sf.SoundFile(io.BytesIO(bytes(data))) as f:
            audio = decode.read_float32(f)
        if audio.shape[1] != num_channels or not audio.size:
            raise ValueError("bad channel count")
        return audio, True
    except Exception:  # noqa: BLE001 - any failure skips the clip
        report.record(bytes(record_id), bad_clips.NOT_AUDIO)
        return np.zeros([0, num_channels], np.float32), False


def read_shards(
    pattern,
    shuffle=True,
    seed=None,
    shuffle_buffer=4096,
    cycle_length=8,
    input_context=None,
    auto_shard_policy=None,
    report=None,
    use_tfio=None,
):
    """Streams records written by `write_shards`, decoded to waveforms.

    Shard files are listed (shuffled when `shuffle`), split between hosts,
    read `cycle_length` at a time with `interleave`, and records pass a
    shuffle buffer.

    Args:
        pattern: str or list of str. Shard paths or glob patterns.
        shuffle: bool. Shuffle file order and records. Defaults to `True`.
        seed: int. Seed for both shuffles. Defaults to `None`.
        shuffle_buffer: int. Records in the shuffle buffer (memory: about
            640 KB per 10 s 32 kHz clip). Defaults to `4096`.
        cycle_length: int. Shard files read concurrently. Defaults to `8`.
        input_context: optional `tf.distribute.InputContext`; this host then
            reads only its `1 / num_input_pipelines` of the files.
        auto_shard_policy: optional `tf.data.experimental.AutoShardPolicy`
            for `strategy.experimental_distribute_dataset`. Defaults to
            `FILE` (or `OFF` when `input_context` already split the files).
        report: optional `BadClipReport` for records that fail to decode.
        use_tfio: bool. Decode FLAC with tensorflow-io in graph; `None`
            means "if its kernels load".

    Returns:
        `tf.data.Dataset` of dicts: `id` (string), `waveform` (float32
        `(samples, channels)`), `label` (float32 `(k,)`), `sample_rate`.

    Examples:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> sf.write(f"{folder}/a.wav", np.full(800, 0.5), 8000)
    >>> info = write_shards(folder, folder, 8000, labels=[3], verbose=0)
    >>> record = next(iter(read_shards(folder + "/*.tfrecord")))
    >>> record["waveform"].shape, record["label"].numpy().tolist()
    (TensorShape([800, 1]), [3.0])
    """
    patterns = [pattern] if isinstance(pattern, (str, os.PathLike)) else pattern
    files = []
    for p in patterns:
        matches = sorted(tf.io.gfile.glob(os.fspath(p)))
        if not matches:
            raise FileNotFoundError(
                f"No TFRecord shard matches. Received: pattern={p}"
            )
        files.extend(matches)
    counts = [check_shard(path) for path in files]
    report = report if report is not None else bad_clips.BadClipReport()
    if use_tfio is None:
        use_tfio = decode.tfio_available()
    ds = tf.data.Dataset.from_tensor_slices(
        (files, np.array([-1 if c is None else c for c in counts], np.int64))
    )
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if input_context is not None:
        ds = ds.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
    ds = ds.interleave(
        lambda path, expected: _records_or_report(path, expected, report),
        cycle_length=max(1, min(int(cycle_length), len(files))),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle or seed is not None,
    )
    if shuffle:
        ds = ds.shuffle(int(shuffle_buffer), seed=seed,
                        reshuffle_each_iteration=True)  # fmt: skip

    def parse(raw):
        ex = tf.io.parse_single_example(raw, _FEATURES)
        channels = tf.cast(ex["num_channels"], tf.int32)

        def pcm():
            pcm = tf.io.decode_raw(ex["audio"], tf.int16, little_endian=True)
            wave = tf.cast(tf.reshape(pcm, [-1, channels]), tf.float32)
            return wave / 32768.0, tf.constant(True)

        def bad_pcm():
            # `decode_raw`/`reshape` would raise and stop the iteration.
            ok = tf.numpy_function(
                lambda i: _record_bad(report, i), [ex["id"]], tf.bool,
                stateful=False,
            )  # fmt: skip
            empty = tf.zeros([0, tf.maximum(channels, 1)], tf.float32)
            return empty, tf.reshape(ok, [])

        def pcm_checked():
            size = tf.strings.length(ex["audio"])
            whole = tf.logical_and(
                channels > 0, tf.equal(size % (2 * tf.maximum(channels, 1)), 0)
            )
            return tf.cond(whole, pcm, bad_pcm)

        def flac():
            if use_tfio:
                import tensorflow_io as tfio

                wave = tfio.audio.decode_flac(ex["audio"], dtype=tf.int16)
                return tf.cast(wave, tf.float32) / 32768.0, tf.constant(True)
            wave, ok = tf.numpy_function(
                lambda d, c, i: _decode_flac_py(d, int(c), report, i),
                [ex["audio"], channels, ex["id"]],
                [tf.float32, tf.bool],
                stateful=False,
            )
            return tf.reshape(wave, [-1, channels]), tf.reshape(ok, [])

        wave, ok = tf.cond(tf.equal(ex["format"], b"pcm16"), pcm_checked, flac)
        return {
            "id": ex["id"],
            "waveform": wave,
            "label": tf.sparse.to_dense(ex["label"]),
            "sample_rate": ex["sample_rate"],
            "ok": ok,
        }

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.filter(lambda r: r["ok"]).map(
        lambda r: {k: v for k, v in r.items() if k != "ok"}
    )
    options = tf.data.Options()
    if auto_shard_policy is None:
        policy = tf.data.experimental.AutoShardPolicy
        auto_shard_policy = policy.OFF if input_context else policy.FILE
    options.experimental_distribute.auto_shard_policy = auto_shard_policy
    ds = ds.with_options(options)
    ds.bad_clip_report = report
    return ds
