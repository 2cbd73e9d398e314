"""`maskspec pretrain` (and `show` on its run)."""

import json

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
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "synthetic corpus: 4 clips of 1 s" in result.output
    for name in ("config.json", "encoder.keras", "model.keras"):
        assert (out / name).exists()
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "maskspec_tiny"
    assert config["encoder_overrides"]["hidden_dim"] == 32

    again = run(*args)
    assert_one_line_error(again, "already holds a run")
    resumed = run(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output

    picture = tmp_path / "recon.png"
    shown = run("show", out, "--out", picture, "--num-clips", 2)
    assert shown.exit_code == 0, shown.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pretrain_on_files(tmp_path, audio_dir):
    out = tmp_path / "files"
    result = run(
        "pretrain", "--data", audio_dir, "--epochs", 1, "--batch-size", 2,
        "--clip-seconds", 0.5, "--out", out, *TINY_PRETRAIN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 files" in result.output
    assert json.loads((out / "config.json").read_text())["steps_per_epoch"] == 1


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
