import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

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
