"""`maskspec shard`."""

import os

from tests.cli.helpers import run


def test_shard(audio_dir, tmp_path):
    out = tmp_path / "shards"
    result = run("shard", "--data", audio_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 clips" in result.output
    assert any(name.endswith(".tfrecord") for name in os.listdir(out))


def test_shard_refuses_existing_output_unless_overwrite(audio_dir, tmp_path):
    from tests.cli.helpers import assert_one_line_error

    out = tmp_path / "shards"
    assert run("shard", "--data", audio_dir, "--out", out).exit_code == 0
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    again = run("shard", "--data", audio_dir, "--out", out, "--sample-rate",
                "16000")  # fmt: skip
    assert_one_line_error(again, "--overwrite")
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
    forced = run("shard", "--data", audio_dir, "--out", out, "--sample-rate",
                 "16000", "--overwrite")  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} != before
