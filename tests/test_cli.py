"""The `maskspec` command line, run in-process with click's CliRunner."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from keras_maskspec import MaskSpecClassifier
from keras_maskspec import MaskSpecEncoder
from keras_maskspec.cli import cli
from tests.test_case import tone_batch

TINY = dict(hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64)
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
LABELS = ["dog", "rain", "siren"]
COMMANDS = [
    "pretrain",
    "finetune",
    "evaluate",
    "embed",
    "predict",
    "export",
    "shard",
    "show",
    "convert",
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, text):
    """Non-zero exit, an `Error:` line naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert text in errors[0], result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    )


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    clips = tone_batch(2, 1.0, sample_rate=16000)
    for i, clip in enumerate(clips):
        sf.write(str(folder / f"clip{i}.wav"), clip, 16000)
    # A 3.5 s file: several windows in predict/embed.
    long = tone_batch(1, 3.5, sample_rate=32000, seed=3)[0]
    sf.write(str(folder / "long.flac"), long, 32000)
    return folder


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finetuned")
    encoder = MaskSpecEncoder(**TINY, seed=1)
    model = MaskSpecClassifier(encoder, num_classes=3, seed=1)
    head = model.get_layer("head")
    rng = np.random.default_rng(0)
    head.set_weights([rng.normal(size=w.shape) for w in head.get_weights()])
    model.save(str(folder / "model.keras"))
    encoder.save(str(folder / "encoder.keras"))
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return folder


@pytest.fixture(scope="module")
def exported(classifier_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "1"
    result = run("export", "--model", classifier_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Exported MaskSpecClassifier" in result.output
    return out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    if command is None:
        for name in COMMANDS:
            assert name in result.output


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


def test_embed(exported, classifier_run, audio_dir, tmp_path):
    out = tmp_path / "emb.npz"
    result = run(
        "embed", "--model", exported, audio_dir, "--out", out,
        "--window-seconds", 2.0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = np.load(out)
    n = len(data["files"])
    assert n == 3 and data["scene"].shape == (3, 32)
    offsets = data["frame_offsets"]
    assert offsets[0] == 0 and offsets[-1] == len(data["frame_embeddings"])
    assert data["frame_embeddings"].shape[1] == 32
    long = list(data["files"]).index(str(audio_dir / "long.flac"))
    times = data["frame_times"][offsets[long] : offsets[long + 1]]
    assert np.all(np.diff(times) > 0) and times[-1] < 3.5

    from_run = tmp_path / "emb_run.npz"
    result = run(
        "embed", "--model", classifier_run, audio_dir, "--out", from_run,
        "--window-seconds", 2.0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(
        np.load(from_run)["scene"], data["scene"], atol=1e-4
    )
    np.testing.assert_allclose(
        np.load(from_run)["frame_times"], data["frame_times"], atol=1e-9
    )


def test_encoder_export_has_no_scores(classifier_run, audio_dir, tmp_path):
    out = tmp_path / "enc" / "1"
    result = run(
        "export", "--model", classifier_run / "encoder.keras", "--out", out
    )
    assert result.exit_code == 0, result.output
    assert "MaskSpecEncoder" in result.output
    predicted = run("predict", "--model", out, audio_dir / "clip0.wav")
    assert_one_line_error(predicted, "without a classifier head")


def test_shard(audio_dir, tmp_path):
    out = tmp_path / "shards"
    result = run("shard", "--data", audio_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 clips" in result.output
    assert any(name.endswith(".tfrecord") for name in os.listdir(out))


def test_convert(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras_maskspec.convert")
    rng = np.random.default_rng(0)
    d = 32
    state = {
        "patch_embed.proj.weight": rng.normal(size=(d, 1, 16, 16)),
        "patch_embed.proj.bias": np.zeros(d),
        "cls_token": np.zeros((1, 1, d)),
        "pos_embed": rng.normal(size=(1, 1 + 8 * 6, d)),
        "norm.weight": np.ones(d),
        "norm.bias": np.zeros(d),
    }
    for name, shape in [
        ("norm1.weight", (d,)), ("norm1.bias", (d,)),
        ("attn.qkv.weight", (3 * d, d)), ("attn.qkv.bias", (3 * d,)),
        ("attn.proj.weight", (d, d)), ("attn.proj.bias", (d,)),
        ("norm2.weight", (d,)), ("norm2.bias", (d,)),
        ("mlp.fc1.weight", (64, d)), ("mlp.fc1.bias", (64,)),
        ("mlp.fc2.weight", (d, 64)), ("mlp.fc2.bias", (d,)),
    ]:  # fmt: skip
        state[f"blocks.0.{name}"] = rng.normal(size=shape) * 0.02
    checkpoint = tmp_path / "ckpt.pth"
    torch.save(
        {"model": {k: torch.tensor(v) for k, v in state.items()}},
        str(checkpoint),
    )
    out = tmp_path / "converted"
    result = run(
        "convert", "--from", "audiomae", checkpoint, "--out", out,
        "--num-heads", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "encoder.keras").exists()


def test_finetune_and_evaluate_with_recipe(tmp_path):
    from tests.recipes.fake_layouts import make_esc50

    data = make_esc50(str(tmp_path / "data"))
    out = tmp_path / "esc50"
    result = run(
        "finetune", "--recipe", "esc50", "--data", data, "--smoke",
        "--out", out, "--set", "folds=[1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert "accuracy" in json.dumps(metrics)
    assert (out / "metrics.json").exists()
    result = run(
        "evaluate", "--model", out / "fold1", "--recipe", "esc50",
        "--data", data, "--smoke", "--set", "folds=[1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "fold1" / "metrics_esc50.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--model", "/no/such/run", "--out", "x"], "no such file"),
        (["predict", "--model", "/no/such", "a.wav"], "no such file"),
        (
            ["finetune", "--recipe", "nope", "--data", "."],
            "unknown recipe 'nope'",
        ),
        (["pretrain", "--config", "/no/such.json"], "no such file"),
        (["pretrain", "--set", "nonsense"], "expected KEY=VALUE"),
        (["pretrain", "--set", "no_such_field=1"], "Unknown PretrainConfig"),
        (["show", "/no/such/run"], "does not exist"),
    ],
)
def test_errors_are_one_line(args, message, tmp_path):
    result = run(*args)
    assert_one_line_error(result, message)


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


def test_bad_audio_is_skipped_then_an_error(exported, audio_dir, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = run("predict", "--model", exported, bad, audio_dir / "clip0.wav")
    assert result.exit_code == 0, result.output
    assert "Skipped" in result.stderr
    assert_one_line_error(
        run("predict", "--model", exported, bad), "no readable audio file"
    )


def test_run_dir_without_model_is_one_line(tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert_one_line_error(
        run("export", "--model", empty, "--out", tmp_path / "e"), "No run in"
    )
