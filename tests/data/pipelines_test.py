import csv
import warnings

import keras
import numpy as np
import pytest
import soundfile as sf

from keras_maskspec.data import arrays
from keras_maskspec.data import bad_clips
from keras_maskspec.data import pipelines
from keras_maskspec.data import shards
from keras_maskspec.data import synthetic

RATE = 8000


@pytest.fixture
def corpus(tmp_path):
    """7 one-second synthetic clips at 16 kHz (one per class) + labels.csv."""
    folder = tmp_path / "corpus"
    manifest = synthetic.write_synthetic_corpus(
        folder, num_clips=7, sample_rate=16000, clip_seconds=1.0
    )
    return folder, manifest


def _batches(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple)
            else np.asarray(b) for b in ds]  # fmt: skip


def test_pretraining_shapes_and_seeded_determinism(corpus):
    folder, _ = corpus
    kwargs = {
        "sample_rate": RATE,
        "clip_seconds": 0.5,
        "batch_size": 3,
        "seed": 7,
        "gain_db": 7.0,
        "roll_seconds": 0.1,
    }
    ds = pipelines.pretraining_dataset(str(folder), **kwargs)
    first = _batches(ds)
    assert [b.shape for b in first] == [(3, 4000), (3, 4000)]
    assert first[0].dtype == np.float32
    again = _batches(pipelines.pretraining_dataset(str(folder), **kwargs))
    np.testing.assert_array_equal(first[0], again[0])
    second_epoch = _batches(ds)
    assert not np.array_equal(first[0], second_epoch[0])
    evaluation = pipelines.pretraining_dataset(
        str(folder), sample_rate=RATE, clip_seconds=0.5, batch_size=3,
        training=False, shuffle=False,
    )  # fmt: skip
    assert [b.shape[0] for b in _batches(evaluation)] == [3, 3, 1]


def test_eval_centre_crop_matches_load_audio(corpus):
    from keras_maskspec.data.decode import load_audio

    folder, _ = corpus
    ds = pipelines.pretraining_dataset(
        str(folder), sample_rate=RATE, clip_seconds=0.5, batch_size=7,
        training=False, shuffle=False,
    )  # fmt: skip
    batch = _batches(ds)[0]
    expected = load_audio(str(folder / "clip_00002.wav"), RATE,
                          num_samples=4000)  # fmt: skip
    np.testing.assert_allclose(batch[2], expected, atol=1e-4)


def test_bad_inputs_are_skipped_counted_and_reported(tmp_path, corpus,
                                                     bad_files):  # fmt: skip
    folder, _ = corpus
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(800), RATE)
    short = tmp_path / "short.wav"
    sf.write(str(short), np.full(10, 0.5), RATE)
    good = sorted(str(p) for p in folder.glob("*.wav"))
    manifest = tmp_path / "all.txt"
    manifest.write_text(
        "\n".join(good + [str(silent), str(short)] + list(bad_files.values()))
    )
    ds = pipelines.pretraining_dataset(
        str(manifest), sample_rate=RATE, clip_seconds=0.5, batch_size=4,
        training=False, seed=0,
    )  # fmt: skip
    batches = _batches(ds)
    waves = np.concatenate(batches)
    assert waves.shape == (len(good) + 2, 4000)
    assert np.isfinite(waves).all()
    report = ds.bad_clip_report
    assert report.count == len(bad_files)
    assert report.counts_by_reason() == {
        bad_clips.EMPTY: 1,
        bad_clips.NOT_AUDIO: 2,
        bad_clips.NON_FINITE: 1,
        bad_clips.UNREADABLE: 1,
    }
    # Silence is kept as is; a 10-sample clip is zero-padded.
    assert (~waves.any(axis=1)).sum() == 1
    lines = []
    bad_clips.BadClipLogger(ds, print_fn=lines.append).on_epoch_end(0)
    assert "5 bad clips skipped" in lines[0] and "zero.wav" in "".join(lines)


def test_nothing_readable_is_a_clear_error(tmp_path, bad_files):
    manifest = tmp_path / "bad.txt"
    manifest.write_text("\n".join(bad_files.values()))
    # Raised in Python before any `tf.data` op runs: one line, whole (inside
    # a graph it reached the user cut to "Graph execution error:").
    with pytest.raises(ValueError, match="No readable audio.*zero.wav") as e:
        pipelines.pretraining_dataset(
            str(manifest), sample_rate=RATE, clip_seconds=0.5, batch_size=2
        )
    assert "\n" not in str(e.value) and "Graph execution" not in str(e.value)
    with pytest.raises(ValueError, match="No readable audio.*missing.wav"):
        pipelines.classification_dataset(
            str(manifest), labels=[0] * 5, sample_rate=RATE, clip_seconds=0.5
        )


def test_missing_folder_and_empty_manifest_fail_before_training(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        pipelines.pretraining_dataset(str(tmp_path / "missing_dir"))
    empty = tmp_path / "empty.csv"
    empty.write_text("path\n")
    with pytest.raises(ValueError, match="empty.csv"):
        pipelines.classification_dataset(str(empty), num_classes=2)


def test_classification_single_label_from_csv_with_mixup(corpus):
    _, manifest = corpus
    ds = pipelines.classification_dataset(
        manifest, num_classes=7, sample_rate=RATE, clip_seconds=0.5,
        batch_size=7, seed=1, mixup_rate=1.0, gain_db=7.0,
    )  # fmt: skip
    x, y = _batches(ds)[0]
    assert x.shape == (7, 4000) and y.shape == (7, 7)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-6)
    assert (y.max(-1) < 1.0).any()  # something was mixed
    plain = pipelines.classification_dataset(
        manifest, num_classes=7, sample_rate=RATE, clip_seconds=0.5,
        batch_size=7, training=False, shuffle=False, one_hot=False,
    )  # fmt: skip
    assert _batches(plain)[0][1].tolist() == list(range(7))
    with pytest.raises(ValueError, match="one_hot=False"):
        pipelines.classification_dataset(
            manifest, num_classes=7, one_hot=False, mixup_rate=0.5
        )


def test_classification_multi_label_mask_and_weights(corpus):
    folder, _ = corpus
    files = sorted(str(p) for p in folder.glob("*.wav"))
    lists = [[0, 2], [1], [2], [0], [1, 2], [0], [2]]
    mask = np.ones((7, 3))
    mask[1, 0] = 0
    ds = pipelines.classification_dataset(
        files, lists, num_classes=3, multi_label=True, label_mask=mask,
        sample_weights=np.arange(7.0), sample_rate=RATE, clip_seconds=0.25,
        batch_size=7, training=False, shuffle=False,
    )  # fmt: skip
    _, y, w = _batches(ds)[0]
    assert y.tolist()[:2] == [[1, 0, 1], [-1, 1, 0]]
    assert w.tolist() == list(range(7))
    with pytest.raises(ValueError, match="label_mask.shape"):
        pipelines.classification_dataset(
            files, lists, num_classes=3, multi_label=True,
            label_mask=np.ones((7, 2)),
        )  # fmt: skip
    with pytest.raises(ValueError, match="class ids"):
        pipelines.classification_dataset(files, np.full(7, 0.5))


def test_class_balanced_sampling(corpus):
    folder, _ = corpus
    files = sorted(str(p) for p in folder.glob("*.wav"))[:4]
    labels = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], np.float32)
    ds = pipelines.classification_dataset(
        files, labels, multi_label=True, balanced=True, samples_per_epoch=200,
        sample_rate=RATE, clip_seconds=0.05, batch_size=50, seed=0,
    )  # fmt: skip
    y = np.concatenate([b[1] for b in _batches(ds)])
    assert y.shape == (200, 2)
    # Without replacement (the authors' sampler): 200 draws from 4 clips are
    # 50 rounds that each take every clip once, so the class-1 clip is
    # exactly a quarter of them (with replacement it would be about half).
    assert y[:, 1].sum() == 50
    for start in range(0, 200, 4):
        assert y[start : start + 4, 1].sum() == 1


def test_shards_as_sources(tmp_path, corpus):
    folder, _ = corpus
    files = sorted(str(p) for p in folder.glob("*.wav"))
    shards.write_shards(files, tmp_path / "s", RATE, labels=np.arange(7),
                        verbose=0)  # fmt: skip
    pattern = str(tmp_path / "s" / "*.tfrecord")
    ds = pipelines.classification_dataset(
        pattern, num_classes=7, sample_rate=RATE, clip_seconds=0.5,
        batch_size=7, training=False, shuffle=False,
    )  # fmt: skip
    x, y = _batches(ds)[0]
    assert x.shape == (7, 4000) and y.argmax(-1).tolist() == list(range(7))
    pre = pipelines.pretraining_dataset(
        pattern, sample_rate=RATE, clip_seconds=0.5, batch_size=2
    )
    assert _batches(pre)[0].shape == (2, 4000)
    with pytest.raises(ValueError, match="16000 Hz"):
        pipelines.pretraining_dataset(pattern, sample_rate=16000)


def test_channels_for_stereo_recipes(tmp_path):
    wave = np.stack([np.full(4000, 0.5), np.full(4000, -0.25)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), wave, RATE, subtype="PCM_16")
    ds = pipelines.pretraining_dataset(
        str(path), sample_rate=RATE, clip_seconds=0.25, batch_size=1,
        channels="side", training=False,
    )  # fmt: skip
    np.testing.assert_allclose(_batches(ds)[0][0, 500:-500], 0.375, atol=1e-3)
    ds = pipelines.pretraining_dataset(
        str(path), sample_rate=RATE, clip_seconds=0.25, batch_size=1,
        channels="all", training=False,
    )  # fmt: skip
    assert _batches(ds)[0].shape == (1, 2000, 2)


def test_fit_with_bad_clip_logger_on_current_backend(tmp_path, corpus,
                                                     capsys):  # fmt: skip
    _, manifest = corpus
    with open(manifest) as f:
        rows = list(csv.DictReader(f))
    broken = tmp_path / "corpus" / "broken.wav"
    broken.write_bytes(b"RIFF....")
    with open(manifest, "a") as f:
        f.write(f"broken.wav,0,{rows[0]['class_name']}\n")
    # What a training run does: one report shared by every epoch's
    # pipeline, epochs of a planned length, a logger keeping the CSV.
    report = bad_clips.BadClipReport()

    def train_data(epoch):
        return pipelines.classification_dataset(
            manifest, num_classes=7, sample_rate=RATE, clip_seconds=0.1,
            batch_size=4, seed=epoch, report=report,
        )  # fmt: skip

    steps = (len(rows) + 1) // 4
    model = keras.Sequential(
        [keras.Input((800,)), keras.layers.Dense(7, activation="softmax")]
    )
    model.compile("sgd", "categorical_crossentropy")
    csv_path = tmp_path / "run" / "bad_clips.csv"
    logger = bad_clips.BadClipLogger(report, csv_path=csv_path)
    model.fit(arrays.dataset_epochs(train_data, 0, 2, steps), epochs=2,
              steps_per_epoch=steps, verbose=0, shuffle=False,
              callbacks=[logger])  # fmt: skip
    out = capsys.readouterr().out
    # Some backends' data adapters (torch's) read ahead into the next
    # epoch before `on_epoch_end`, so a clip may count in an earlier epoch.
    assert "Epoch 1: " in out and "0 bad clips" not in out
    assert "broken.wav" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "path,reason,epoch"
    assert all("broken.wav" in row for row in rows[1:]) and len(rows) >= 2


def _manifest_with_bad_files(tmp_path, corpus, bad_files):
    folder, _ = corpus
    good = sorted(str(p) for p in folder.glob("*.wav"))
    manifest = tmp_path / "mixed.txt"
    manifest.write_text("\n".join(good + list(bad_files.values())))
    return str(manifest), len(good), len(good) + len(bad_files)


def test_pretraining_epochs_are_full_despite_bad_files(tmp_path, corpus,
                                                       bad_files):  # fmt: skip
    manifest, num_good, num_files = _manifest_with_bad_files(
        tmp_path, corpus, bad_files
    )
    batch_size, epochs = 2, 3
    # The training run plans epochs from the file count, bad files included.
    steps = num_files // batch_size
    assert steps * batch_size > num_good
    calls = []

    def train_data(epoch):
        calls.append(epoch)
        return pipelines.pretraining_dataset(
            manifest, sample_rate=RATE, clip_seconds=0.25,
            batch_size=batch_size, seed=epoch,
        )  # fmt: skip

    stream = arrays.dataset_epochs(train_data, 0, epochs, steps)
    batches = _batches(stream)
    assert len(batches) == epochs * steps
    assert all(b.shape == (batch_size, 2000) for b in batches)
    # Built lazily: traced once, not once per epoch before the first step.
    assert len(calls) == 1
    # Same seed, same epochs (a resumed run sees the same batches).
    resumed = _batches(arrays.dataset_epochs(train_data, 1, epochs, steps))
    for a, b in zip(resumed, batches[steps:]):
        np.testing.assert_array_equal(a, b)


def test_fit_epochs_never_run_out_of_data(tmp_path, corpus, bad_files):
    manifest, _, num_files = _manifest_with_bad_files(
        tmp_path, corpus, bad_files
    )
    batch_size = 2
    steps = num_files // batch_size
    labels = [0] * num_files
    calls = []

    def train_data(epoch):
        calls.append(epoch)
        # Mixup partners too are seeded from the epoch tensor.
        return pipelines.classification_dataset(
            manifest, labels=labels, num_classes=2, sample_rate=RATE,
            clip_seconds=0.1, batch_size=batch_size, seed=epoch,
            mixup_rate=0.5, one_hot=True,
        )  # fmt: skip

    model = keras.Sequential(
        [keras.Input((800,)), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile("sgd", "categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            arrays.dataset_epochs(train_data, 0, 2, steps),
            epochs=2, steps_per_epoch=steps, verbose=0, shuffle=False,
        )  # fmt: skip
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "ran out of data" in m], messages
    assert len(history.history["loss"]) == 2
    # Built lazily (traced once), mixup included.
    assert len(calls) == 1


def test_fewer_readable_clips_than_a_batch_is_an_error(tmp_path, bad_files,
                                                       make_audio):  # fmt: skip
    good = make_audio("one_good.wav", rate=RATE)
    manifest = tmp_path / "one.txt"
    manifest.write_text("\n".join([good] + list(bad_files.values())))

    def train_data(epoch):
        return pipelines.pretraining_dataset(
            str(manifest), sample_rate=RATE, clip_seconds=0.1, batch_size=4,
            seed=epoch,
        )  # fmt: skip

    with pytest.raises(Exception, match="fewer readable clips than one"):
        _batches(arrays.dataset_epochs(train_data, 0, 1, 1))


def test_mixup_partner_is_drawn_from_the_whole_set_with_the_full_chain(corpus):
    # Batches of one clip: an in-batch partner could only be the clip
    # itself; the authors' MixupDataset draws it from the whole set.
    _, manifest = corpus
    ds = pipelines.classification_dataset(
        manifest, num_classes=7, sample_rate=RATE, clip_seconds=0.25,
        batch_size=1, seed=3, mixup_rate=1.0, gain_db=7, roll_samples=50,
        extra_augment=True, container_seconds=10.0,
    )  # fmt: skip
    labels = np.concatenate([np.asarray(b[1]) for b in ds.take(21)])
    np.testing.assert_allclose(labels.sum(-1), 1.0, atol=1e-6)
    assert ((labels > 0).sum(-1) == 2).mean() > 0.6  # partner: another clip
    assert labels.max(-1).min() >= 0.5  # lam folded to max(lam, 1 - lam)
    again = pipelines.classification_dataset(
        manifest, num_classes=7, sample_rate=RATE, clip_seconds=0.25,
        batch_size=1, seed=3, mixup_rate=1.0, gain_db=7, roll_samples=50,
        extra_augment=True, container_seconds=10.0,
    )  # fmt: skip
    np.testing.assert_array_equal(
        labels, np.concatenate([np.asarray(b[1]) for b in again.take(21)])
    )


def test_start_crop_reads_the_first_seconds_everywhere(tmp_path):
    # crop="start" (the authors' pad_or_truncate): files, shards, training
    # and evaluation pipelines all read the first clip_seconds.
    rng = np.random.default_rng(0)
    waves = rng.uniform(-0.5, 0.5, (2, 3 * RATE)).astype("float32")
    paths = []
    for i, wave in enumerate(waves):
        paths.append(str(tmp_path / f"long_{i}.wav"))
        sf.write(paths[-1], wave, RATE, subtype="FLOAT")
    shard_paths = shards.write_shards(
        paths, str(tmp_path / "shards"), sample_rate=RATE
    )["shards"]
    first = waves[:, : RATE // 2]
    for sources in (paths, shard_paths):
        for training in (True, False):
            ds = pipelines.pretraining_dataset(
                sources, sample_rate=RATE, clip_seconds=0.5, batch_size=2,
                shuffle=False, seed=1, training=training, crop="start",
            )  # fmt: skip
            np.testing.assert_allclose(_batches(ds)[0], first, atol=1e-4)
    ds = pipelines.classification_dataset(
        paths, [0, 1], num_classes=2, sample_rate=RATE, clip_seconds=0.5,
        batch_size=2, shuffle=False, training=False, crop="start",
    )  # fmt: skip
    np.testing.assert_allclose(_batches(ds)[0][0], first, atol=1e-4)
    # The default evaluation crop is the centre.
    ds = pipelines.pretraining_dataset(
        paths, sample_rate=RATE, clip_seconds=0.5, batch_size=2,
        shuffle=False, training=False,
    )  # fmt: skip
    centre = waves[:, RATE + RATE // 4 : RATE + 3 * RATE // 4]
    np.testing.assert_allclose(_batches(ds)[0], centre, atol=1e-4)


def test_copies_repeat_each_clip_with_its_own_augmentation(corpus):
    # replica_copies: each training clip k times in a row (one decode),
    # each copy with its own gain draw; evaluation ignores it.
    folder, manifest = corpus
    kwargs = dict(
        sample_rate=RATE, clip_seconds=0.5, batch_size=12, shuffle=False,
        num_classes=7, seed=3, gain_db=7,
    )  # fmt: skip
    ds = pipelines.classification_dataset(
        manifest, training=True, copies=3, **kwargs
    )
    x, y = _batches(ds.take(1))[0]
    x, y = x.reshape(4, 3, -1), y.reshape(4, 3, -1)
    assert (y == y[:, :1]).all()
    distinct_gains = 0
    for clip in x:
        # Copies differ only by an integer-dB gain: ratios are constant.
        ref = clip[0]
        loud = np.abs(ref) > 1e-3
        gains = [np.median(c[loud] / ref[loud]) for c in clip]
        for c, g in zip(clip, gains):
            np.testing.assert_allclose(c, g * ref, atol=1e-5)
        db = 20 * np.log10(gains)
        np.testing.assert_allclose(db - db[0], np.round(db - db[0]), atol=1e-3)
        distinct_gains += len(set(np.round(db, 2))) > 1
    assert distinct_gains >= 3
    # Different clips in each row of copies.
    assert not np.allclose(x[0, 0], x[1, 0])
    evaluation = pipelines.classification_dataset(
        manifest, training=False, copies=3, **kwargs
    )
    assert sum(len(b[0]) for b in _batches(evaluation)) == 7
    with pytest.raises(ValueError, match="copies=0"):
        pipelines.classification_dataset(manifest, copies=0, **kwargs)
