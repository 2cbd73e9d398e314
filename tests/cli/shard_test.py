"""`maskspec shard`."""

import os

from tests.cli.helpers import run


def test_shard(audio_dir, tmp_path):
    out = tmp_path / "shards"
    result = run("shard", "--data", audio_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 clips" in result.output
    assert any(name.endswith(".tfrecord") for name in os.listdir(out))
