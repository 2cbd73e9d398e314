"""`maskspec pretrain` (and `show` on its run)."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from keras_maskspec.cli.pretrain import DEMO_PRESET
from tests.cli.helpers import assert_one_line_error
from tests.cli.helpers import run

TINY = dict(hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64)
# Spelled out on purpose: this checks `--set` reaches nested config fields.
TINY_PRETRAIN = [
    "--set",
    "encoder_overrides=" + json.dumps(TINY),
    "--set",
    "decoder_hidden_dim=32",
    "--set",
    "decoder_num_layers=1",
    "--set",
    "decoder_num_heads=2",
    "--set",
    "decoder_intermediate_dim=64",
    "--set",
    "jit_compile=false",
    "--set",
    "image_every=0",
    "--set",
    "verbose=0",
]


def test_pretrain_on_synthetic_corpus_then_show(tmp_path):
    out = tmp_path / "demo"
    args = ["pretrain", "--epochs", 1, "--num-clips", 4, "--batch-size", 2]
    args += ["--clip-seconds", 1, "--out", out, *TINY_PRETRAIN]
    args += ["--steps-per-epoch", 2]  # not the demo's 64
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "synthetic corpus: 4 clips of 1 s" in result.output
    for name in ("config.json", "encoder.keras", "model.keras"):
        assert (out / name).exists()
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == DEMO_PRESET
    assert config["encoder_overrides"]["hidden_dim"] == 32

    # The same command on a finished run: nothing to do, no error;
    # `--resume` is still accepted; a larger --epochs extends the run.
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert "continuing after epoch 1" in again.output
    resumed = run(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "Run folder" in resumed.output and "model.keras" in resumed.output

    picture = tmp_path / "recon.png"
    shown = run("show", out, "--out", picture, "--num-clips", 2)
    assert shown.exit_code == 0, shown.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# CLI glue over the data and training paths that run under every backend
# elsewhere: once, under TensorFlow (`large`), to keep CI short.
@pytest.mark.large
def test_pretrain_on_files(tmp_path, audio_dir):
    out = tmp_path / "files"
    result = run(
        "pretrain", "--data", audio_dir, "--epochs", 1, "--batch-size", 2,
        "--clip-seconds", 0.5, "--out", out, *TINY_PRETRAIN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 files" in result.output
    assert json.loads((out / "config.json").read_text())["steps_per_epoch"] == 1
    # Statistics of the files themselves: one un-augmented pass, cached.
    out = tmp_path / "own_stats"
    result = run(
        "pretrain", "--data", audio_dir, "--epochs", 1, "--batch-size", 2,
        "--clip-seconds", 0.5, "--out", out, *TINY_PRETRAIN,
        "--set", "frame_stats=train",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "frame_stats.npz").exists()
    assert "do not fit" not in result.output


@pytest.mark.large
def test_pretrain_says_when_audioset_statistics_do_not_fit_the_files(tmp_path):
    # Full-band noise at 48 kHz: energy in the mel bins AudioSet's table
    # (the default statistics) has empty.
    folder = tmp_path / "noise"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        sf.write(str(folder / f"n{i}.wav"), 0.1 * rng.normal(size=24000), 48000)
    result = run(
        "pretrain", "--data", folder, "--epochs", 1, "--batch-size", 2,
        "--clip-seconds", 0.5, "--out", tmp_path / "run", *TINY_PRETRAIN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Note: The per-mel-bin statistics 'audioset' do not fit" in (
        result.output
    )
    assert "--set frame_stats=train" in result.output


def test_unreadable_config_is_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    assert_one_line_error(
        run("pretrain", "--config", path, "--out", tmp_path / "r"),
        "not valid JSON",
    )
    path.write_text('{"kind": "PretrainConfig", "epochz": 3}')
    assert_one_line_error(
        run("pretrain", "--config", path, "--out", tmp_path / "r"),
        "Unknown PretrainConfig fields ['epochz']",
    )


def test_out_with_the_users_files_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "model.keras").write_bytes(b"my model")
    (out / "metrics.csv").write_text("my,numbers\n")
    args = ["pretrain", "--epochs", 1, "--num-clips", 2, "--batch-size", 2]
    args += ["--clip-seconds", 1, "--out", out, *TINY_PRETRAIN]
    result = run(*args)
    assert_one_line_error(result, "holds no run")
    assert "metrics.csv, model.keras" in result.output
    assert_one_line_error(run(*args, "--restart"), "holds no run")
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.csv",
        "model.keras",
    ]
    assert (out / "model.keras").read_bytes() == b"my model"


def test_extend_and_restart(tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--num-clips", 2, "--batch-size", 2]
    args += ["--clip-seconds", 1, "--out", out, *TINY_PRETRAIN]
    args += ["--steps-per-epoch", 2]  # not the demo's 64
    assert run(*args, "--epochs", 1).exit_code == 0
    extended = run(*args, "--epochs", 2)
    assert extended.exit_code == 0, extended.output
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2"]
    (out / "notes.txt").write_text("mine")
    restarted = run(*args, "--epochs", 1, "--restart")
    assert restarted.exit_code == 0, restarted.output
    assert "Moved the previous run to" in restarted.output
    (old,) = tmp_path.glob("run.old-*")
    rows = (old / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and (old / "model.keras").exists()
    assert (out / "notes.txt").read_text() == "mine"
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) == 1


# CLI glue over the data and training paths that run under every backend
# elsewhere: once, under TensorFlow (`large`), to keep CI short.
@pytest.mark.large
def test_demo_defaults_draw_loss_and_reconstruction(tmp_path):
    out = tmp_path / "demo"
    # The demo's own settings, fewer clips and steps.
    result = run(
        "pretrain", "--epochs", 1, "--out", out, "--num-clips", 32,
        "--steps-per-epoch", 6, "--set", "verbose=0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "maskspec_test"
    assert config["learning_rate"] == 0.002
    assert config["clip_seconds"] == 2.0
    # Its own statistics: no note that AudioSet's do not fit.
    assert config["frame_stats"] == "train"
    assert (out / "frame_stats.npz").exists()
    assert "do not fit" not in result.output
    steps = (out / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + 6
    # The demo's cosine ends with the run: the last lr is near its floor.
    assert config["schedule_epochs"] is None
    with open(out / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert float(last["lr"]) < 0.1 * config["learning_rate"], last
    for name in ("reconstruction.png", "loss.png"):
        assert f"Picture: {out / name}" in result.output
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    raw = tmp_path / "raw.png"
    shown = run("show", out, "--out", raw, "--num-clips", 1, "--view", "raw")
    assert shown.exit_code == 0, shown.output
    assert "raw view" in shown.output
    assert raw.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("show", out, "--view", "normalised").exit_code != 0
