"""The `maskspec` group: help, and every error as one line."""

import os
import shutil
import subprocess
import sys

import keras
import pytest

from keras_maskspec.cli import main
from tests.cli.helpers import assert_one_line_error
from tests.cli.helpers import run

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


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    if command is None:
        for name in COMMANDS:
            assert name in result.output


def test_main_returns_zero_on_help(capsys):
    assert main(["--help"]) == 0
    assert "Usage: maskspec" in capsys.readouterr().out


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


def test_run_dir_without_model_is_one_line(tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert_one_line_error(
        run("export", "--model", empty, "--out", tmp_path / "e"), "No run in"
    )


# What TensorFlow prints from C++ at start-up (TF >= 2.18), and absl.
TF_START_UP = ("I0000", "E0000", "W0000", "oneDNN", "cpu_feature_guard", "absl")


def _maskspec(*args, **env):
    script = shutil.which("maskspec")
    if script is None:
        pytest.skip("the maskspec console script is not installed")
    environ = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), **env)
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [script, *map(str, args)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=1800,  # a loaded CI box can take minutes to import TF
    )


@pytest.mark.parametrize("args", [["--help"], ["pretrain", "--help"]])
def test_help_is_quiet_and_loads_no_keras(args):
    result = _maskspec(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage: maskspec" in result.stdout
    assert result.stderr == ""
    # The same in-process: the help path imports neither Keras nor TF.
    code = (
        "import sys; sys.argv = ['maskspec', *sys.argv[1:]]\n"
        "from keras_maskspec.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('keras', 'tensorflow') if m in sys.modules]\n"
        "print('heavy', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.stdout.strip().splitlines()[-1] == "heavy []", out.stderr


@pytest.mark.parametrize("module", ["keras_maskspec", "keras_maskspec.cli"])
def test_python_dash_m_is_the_same_quiet_command(module):
    environ = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    # `-X importtime` lists every module imported: the help path must not
    # reach Keras or TensorFlow through the package's eager imports.
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            module,
            "pretrain",
            "--help",
        ],  # fmt: skip
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: maskspec pretrain")
    lines = result.stderr.splitlines()
    imported = [line.split("|")[-1].strip() for line in lines]
    assert "keras_maskspec.cli" in imported
    heavy = [m for m in imported if m.split(".")[0] in ("keras", "tensorflow")]
    assert not heavy
    assert not [line for line in lines if "|" not in line]


@pytest.mark.large
def test_a_command_prints_no_tensorflow_start_up_lines(tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    args = ["export", "--model", empty, "--out", tmp_path / "e"]
    result = _maskspec(*args)
    assert result.returncode == 1
    # Our one error line, nothing from TensorFlow before it.
    assert result.stderr.splitlines() == [
        f"Error: No run in {empty}: no model.keras, encoder.keras or "
        f"config.json. Received: path='{empty}'"
    ]
    if keras.backend.backend() == "tensorflow":
        # The oracle: the same command, asked to be verbose, shows them.
        verbose = _maskspec("--verbose", *args)
        assert verbose.returncode == 1
        assert any(t in verbose.stderr for t in TF_START_UP), verbose.stderr
