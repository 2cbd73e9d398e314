"""`maskspec predict`."""

import json

import pytest

from tests.cli.helpers import LABELS
from tests.cli.helpers import assert_one_line_error
from tests.cli.helpers import run


def test_predict_table_and_json(exported, classifier_run, audio_dir):
    files = sorted(str(p) for p in audio_dir.iterdir())
    result = run("predict", "--model", exported, *files, "--json")
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)
    assert [p["file"] for p in predictions] == files
    for p in predictions:
        assert [x["label"] for x in p["labels"]][:1][0] in LABELS
        scores = [x["score"] for x in p["labels"]]
        assert scores == sorted(scores, reverse=True)
        assert sum(scores) == pytest.approx(1.0, abs=1e-5)
    assert (
        predictions[files.index(str(audio_dir / "long.flac"))]["windows"] == 1
    )

    # The run dir gives the same answer as its export.
    from_run = run("predict", "--model", classifier_run, *files, "--json")
    assert from_run.exit_code == 0, from_run.output
    for a, b in zip(predictions, json.loads(from_run.stdout)):
        assert a["labels"][0]["label"] == b["labels"][0]["label"]
        assert a["labels"][0]["score"] == pytest.approx(
            b["labels"][0]["score"], abs=1e-5
        )

    table = run("predict", "--model", exported, files[0], "--top-k", 2)
    assert table.exit_code == 0, table.output
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["file", "rank", "score", "label"]
    assert len(lines) == 3


def test_predict_windows_long_files(exported, audio_dir):
    result = run(
        "predict", "--model", exported, audio_dir / "long.flac", "--json",
        "--window-seconds", 1.0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["windows"] == 6


def test_bad_audio_is_skipped_then_an_error(exported, audio_dir, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = run("predict", "--model", exported, bad, audio_dir / "clip0.wav")
    assert result.exit_code == 0, result.output
    assert "Skipped" in result.stderr
    assert_one_line_error(
        run("predict", "--model", exported, bad), "no readable audio file"
    )
