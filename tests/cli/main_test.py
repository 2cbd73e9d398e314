"""The `maskspec` group: help, and every error as one line."""

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
