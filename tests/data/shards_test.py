import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_maskspec.data import bad_clips
from keras_maskspec.data import shards


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    paths = []
    for i in range(5):
        rate = 44100 if i % 2 else 16000
        wave = np.full((rate // 4, 2), 0.1 * (i + 1), np.float32)
        wave[:, 1] *= -1
        path = folder / f"{i}.{'flac' if i % 2 else 'wav'}"
        sf.write(str(path), wave, rate)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("fmt", ["pcm16", "flac"])
def test_round_trip(tmp_path, corpus, fmt):
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    labels[4, 2] = -1.0
    info = shards.write_shards(
        corpus, tmp_path / "out", 8000, labels=labels, format=fmt,
        channels="all", clips_per_shard=2, verbose=0,
    )  # fmt: skip
    assert info["num_clips"] == 5 and len(info["shards"]) == 3
    assert info["seconds"] == pytest.approx(1.25)
    if fmt == "pcm16":  # 2 bytes x 2 channels a sample + ids and fields
        pcm_bytes = 10000 * 2 * 2
        assert pcm_bytes < info["num_bytes"] < pcm_bytes + 5 * 500
    records = list(read := shards.read_shards(
        str(tmp_path / "out" / "*.tfrecord"), shuffle=False
    ))  # fmt: skip
    assert read.bad_clip_report.count == 0
    by_id = {r["id"].numpy().decode(): r for r in records}
    for i, path in enumerate(corpus):
        record = by_id[path]
        wave = record["waveform"].numpy()
        assert wave.shape == (2000, 2)
        np.testing.assert_allclose(wave[100:-100, 0], 0.1 * (i + 1), atol=2e-3)
        np.testing.assert_allclose(wave[100:-100, 1], -0.1 * (i + 1),
                                   atol=2e-3)  # fmt: skip
        np.testing.assert_array_equal(record["label"], labels[i])
        assert int(record["sample_rate"]) == 8000


def test_per_host_sharding_splits_files(tmp_path, corpus):
    shards.write_shards(corpus, tmp_path, 8000, clips_per_shard=1,
                        verbose=0)  # fmt: skip
    seen = []
    for host in range(2):
        context = tf.distribute.InputContext(2, host, 1)
        ds = shards.read_shards(
            str(tmp_path / "*.tfrecord"), seed=0, input_context=context
        )
        seen.append({r["id"].numpy() for r in ds})
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 5
    policy = tf.data.experimental.AutoShardPolicy
    assert ds.options().experimental_distribute.auto_shard_policy == policy.OFF


def test_shuffled_reading_is_seeded(tmp_path, corpus):
    shards.write_shards(corpus, tmp_path, 8000, clips_per_shard=2, verbose=0)
    pattern = str(tmp_path / "*.tfrecord")

    def order(seed):
        ds = shards.read_shards(pattern, seed=seed, shuffle_buffer=8)
        return [r["id"].numpy() for r in ds]

    assert order(1) == order(1)
    assert sorted(order(1)) == sorted(p.encode() for p in corpus)


def test_bad_files_are_skipped_and_counted(tmp_path, corpus, bad_files):
    manifest = tmp_path / "list.txt"
    manifest.write_text("\n".join(corpus[:2] + list(bad_files.values())))
    info = shards.write_shards(manifest, tmp_path / "o", 8000, verbose=0)
    assert info["num_clips"] == 2
    assert info["bad_clips"].count == len(bad_files)


def test_errors(tmp_path, corpus):
    with pytest.raises(ValueError, match="format='mp3'"):
        shards.write_shards(corpus, tmp_path, format="mp3")
    with pytest.raises(ValueError, match="labels.shape"):
        shards.write_shards(corpus, tmp_path, labels=[1, 2], verbose=0)
    with pytest.raises(FileNotFoundError, match="pattern="):
        shards.read_shards(str(tmp_path / "none-*.tfrecord"))


def _records(pattern):
    return [
        (r["id"].numpy().decode(), r["waveform"].shape[0])
        for r in shards.read_shards(pattern, shuffle=False)
    ]


def test_existing_shards_are_refused_unless_overwrite(tmp_path, corpus):
    out = tmp_path / "o"
    shards.write_shards(corpus, out, 8000, clips_per_shard=2, verbose=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(FileExistsError, match="shard-00000-of-00003"):
        shards.write_shards(corpus[:2], out, 8000, verbose=0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    info = shards.write_shards(corpus[:2], out, 8000, verbose=0,
                               overwrite=True)  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "shard-00000-of-00001.tfrecord"
    ]
    assert info["num_clips"] == 2 and len(_records(str(out / "*"))) == 2


def test_truncated_shard_is_named(tmp_path, corpus):
    info = shards.write_shards(corpus, tmp_path / "o", 8000, verbose=0)
    path = info["shards"][0]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 100])
    with pytest.raises(ValueError, match="00000-of-00001.tfrecord.*trunc"):
        shards.read_shards(path)
    with open(path, "wb") as f:
        f.write(data[:5])
    with pytest.raises(ValueError, match="shard-00000-of-00001.tfrecord"):
        shards.peek_shard(path)


_SLOW_WRITER = """
import sys, time
from keras_maskspec.data import decode, shards
load = decode.load_audio
def slow(*args, **kwargs):
    time.sleep(0.2)
    return load(*args, **kwargs)
decode.load_audio = slow
shards.write_shards(sys.argv[1], sys.argv[2], 8000, clips_per_shard=2,
                    num_workers=1, verbose=0)
"""


@pytest.mark.large
def test_kill_during_shard_then_rerun_writes_each_clip_once(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(12):
        sf.write(str(folder / f"{i:02d}.wav"), np.full(800, 0.01 * i), 8000)
    out = tmp_path / "o"
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(folder), str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        done = [n for n in os.listdir(out)] if out.exists() else []
        if sum(n.endswith(".tfrecord") for n in done) >= 2:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the writer finished before it was killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    left = os.listdir(out)
    assert 2 <= sum(n.endswith(".tfrecord") for n in left) < 6
    info = shards.write_shards(str(folder), out, 8000, clips_per_shard=2,
                               verbose=0)  # fmt: skip
    ids = [i for i, _ in _records(str(out / "*.tfrecord"))]
    assert sorted(ids) == sorted(str(p) for p in folder.iterdir())
    assert info["num_clips"] == 12
    assert sorted(os.listdir(out)) == [
        f"shard-{i:05d}-of-00006.tfrecord" for i in range(6)
    ]


def test_a_corrupt_pcm_record_is_skipped_and_named(tmp_path, corpus):
    info = shards.write_shards(corpus[:2], tmp_path / "o", 8000, verbose=0)
    path = info["shards"][0]
    records = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    example = tf.train.Example.FromString(records[0])
    audio = example.features.feature["audio"].bytes_list
    audio.value[0] = audio.value[0][:-1]  # odd byte count: not int16 frames
    broken = str(tmp_path / "broken.tfrecord")
    with tf.io.TFRecordWriter(broken) as writer:
        writer.write(example.SerializeToString())
        writer.write(records[1])
    ds = shards.read_shards(broken, shuffle=False)
    ids = [r["id"].numpy().decode() for r in ds]
    assert ids == [corpus[1]]
    assert [p for p, _ in ds.bad_clip_report.files()] == [corpus[0]]


def test_a_crc_error_mid_shard_ends_that_shard_named_not_the_run(
    tmp_path, corpus
):
    info = shards.write_shards(corpus[:3], tmp_path / "o", 8000,
                               clips_per_shard=3, verbose=0)  # fmt: skip
    path = info["shards"][0]
    records = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    assert len(records) == 3
    with open(path, "rb") as f:
        data = bytearray(f.read())
    # Flip one byte inside record 1's payload (12-byte header, data, CRC).
    start = 12 + len(records[0]) + 4 + 12
    data[start + len(records[1]) // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(data))
    # The oracle: TF's own reader stops with a DataLossError here.
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(path))
    good = shards.write_shards(corpus[3:5], tmp_path / "g", 8000,
                               verbose=0)["shards"][0]  # fmt: skip
    ds = shards.read_shards([path, good], shuffle=False)
    ids = [r["id"].numpy().decode() for r in ds]
    first_id = (
        tf.train.Example.FromString(records[0])
        .features.feature["id"]
        .bytes_list.value[0]
        .decode()
    )
    assert sorted(ids) == sorted([first_id, *corpus[3:5]])
    assert ds.bad_clip_report.files() == [
        (f"{path} (records 1-2 of 3)", bad_clips.CORRUPT_SHARD)
    ]
