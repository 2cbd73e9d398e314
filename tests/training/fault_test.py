"""Fault injection: SIGKILLs at several points of a pre-training run.

Each kill is followed by the same command; in the end every epoch is in
`metrics.csv` exactly once, the run resumed each time at the first
unfinished epoch, and the user's own files in the run folder are untouched.
"""

import csv
import json
import os
import signal
import subprocess
import sys

import keras
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "run_script.py")


def _run(run_dir, epochs, **env):
    environ = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), **env)
    environ.pop("TF_CONFIG", None)
    return subprocess.run(
        [sys.executable, SCRIPT, "resume", str(run_dir), str(epochs)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _saved_epoch(run_dir):
    path = os.path.join(run_dir, "checkpoints", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return json.load(f)["epoch"]


def _begun(run_dir):
    with open(f"{run_dir}_epochs_begun.txt") as f:
        return [int(line) for line in f]


def _metric_epochs(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


@pytest.mark.large
def test_sigkill_at_several_points_then_the_same_command(tmp_path):
    run_dir = tmp_path / "run"
    epochs = 5
    runs = []
    # Killed while writing epoch 2's checkpoint data, after renaming epoch
    # 3's file but before the metadata switched to it, then mid-epoch 4.
    for kill_at, saved in (("data:2", 1), ("metadata:3", 2), ("batch:4", 3)):
        before = len(_begun(run_dir)) if runs else 0
        result = _run(run_dir, epochs, KILL_AT=kill_at)
        assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
        assert _saved_epoch(run_dir) == saved, kill_at
        runs.append(_begun(run_dir)[before:])
        if kill_at == "data:2":
            # The user adds files to the run folder while it goes on.
            (run_dir / "notes.txt").write_text("my notes")
            (run_dir / "mine").mkdir()
            (run_dir / "mine" / "clip.wav").write_bytes(b"RIFF....")
    before = len(_begun(run_dir))
    result = _run(run_dir, epochs)
    assert result.returncode == 0, result.stderr[-3000:]
    runs.append(_begun(run_dir)[before:])
    # Each run began at the first epoch without a finished checkpoint.
    assert [r[0] for r in runs] == [0, 1, 2, 3]
    assert runs[-1] == [3, 4]
    assert _metric_epochs(run_dir) == list(range(1, epochs + 1))
    assert (run_dir / "notes.txt").read_text() == "my notes"
    assert (run_dir / "mine" / "clip.wav").read_bytes() == b"RIFF...."
    # The last two checkpoints, no half-written file left behind.
    assert sorted(os.listdir(run_dir / "checkpoints")) == [
        "epoch-0004.weights.h5",
        "epoch-0005.weights.h5",
        "training_metadata.json",
    ]
    assert (run_dir / "model.keras").exists()
    assert "done 10" in result.stdout
