"""Running the `maskspec` command in-process, and checking its errors."""

from click.testing import CliRunner

from keras_maskspec.cli import cli

LABELS = ["dog", "rain", "siren"]


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
