"""The `maskspec` command: pre-train, fine-tune, evaluate, embed, serve.

Run `maskspec --help` or `maskspec COMMAND --help`. The main job,
pre-training on the built-in synthetic corpus, is one line:

    maskspec pretrain --epochs 1 --out runs/demo

One module per command parses its arguments and calls the library;
`overrides.parse_overrides` is the one `--set KEY=VALUE` syntax, shared
with `recipes/<name>/train.py` (`recipe.py`). Command modules load on
first use and Keras/TensorFlow only when a command runs, so `--help`
answers at once.

A command starts quietly: TensorFlow's C++ start-up lines (oneDNN, CUDA,
cpu_feature_guard, absl) are hidden unless `maskspec --verbose` (or
`--debug`) is given or the user set `TF_CPP_MIN_LOG_LEVEL` themselves; the
training commands print one banner line of their own instead.

Errors a shell user can fix (a wrong path, an unknown recipe, an
unreadable config, a bad audio file) print one line on stderr and exit
with status 1 (usage mistakes: status 2); `maskspec --debug COMMAND ...`
shows the full traceback.
"""

import contextlib
import functools
import importlib
import importlib.util
import os
import sys

import click

from keras_maskspec.cli._common import one_line

# name -> module of `keras_maskspec.cli` defining a command of that name.
COMMANDS = {
    "pretrain": "pretrain",
    "finetune": "finetune",
    "evaluate": "evaluate",
    "embed": "embed",
    "predict": "predict",
    "export": "export",
    "shard": "shard",
    "show": "show",
    "convert": "convert",
}
# Commands that never touch tf.data: no TensorFlow import under JAX/torch.
_WITHOUT_TF = ("convert",)


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Sends file descriptor 2 to /dev/null (C++ logs bypass sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _load(tensorflow):
    import keras  # noqa: F401  (imports the backend)

    if tensorflow and importlib.util.find_spec("tensorflow"):
        import tensorflow  # noqa: F401

    # Registers the package's Keras classes (the `maskspec` script does
    # not import them with the package).
    import keras_maskspec.models  # noqa: F401


def quiet_start(verbose=False, tensorflow=True):
    """Imports Keras (and TensorFlow) without their start-up chatter.

    TensorFlow >= 2.18 writes its oneDNN/CUDA/cpu_feature_guard lines from
    C++ before absl's logging is set up, so `TF_CPP_MIN_LOG_LEVEL` does
    not hold them back: the import runs with file descriptor 2 pointed at
    /dev/null (a failing import still raises, with its message). Later
    C++ messages obey `TF_CPP_MIN_LOG_LEVEL` (set to 3 here unless the
    user set it) and Python's absl/TF loggers are set to errors only.

    Args:
        verbose: bool. Hide nothing. Defaults to `False`.
        tensorflow: bool. Also import TensorFlow when it is installed
            (tf.data pipelines load it under every backend). Defaults to
            `True`.

    Examples:
    >>> quiet_start(verbose=True)  # Imports, hiding nothing.
    """
    if verbose:
        _load(tensorflow)
        return
    user_set = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    silenced = contextlib.nullcontext() if user_set else _stderr_fd_silenced()
    failure = None
    with silenced:
        try:
            _load(tensorflow)
        except Exception as exc:  # re-raised once stderr is back
            failure = exc
    if failure is not None:
        raise failure
    import logging

    for name in ("absl", "tensorflow", "jax._src.xla_bridge"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _Group(click.Group):
    """Commands load on first use; they fail with one line, not a traceback."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"keras_maskspec.cli.{COMMANDS[name]}")
        command = getattr(module, name)
        if not getattr(command, "_maskspec_quiet", False):
            command.callback = _quietly(command.callback, name)
            command._maskspec_quiet = True
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if ctx.meta.get("maskspec.debug"):
                raise
            raise click.ClickException(one_line(exc)) from None


def _quietly(callback, name):
    """Runs `quiet_start` just before the command (never for `--help`)."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        ctx = click.get_current_context()
        quiet_start(
            verbose=bool(ctx.meta.get("maskspec.verbose")),
            tensorflow=name not in _WITHOUT_TF,
        )
        return callback(*args, **kwargs)

    return run


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show full tracebacks instead of one-line errors (and every "
    "library message, as --verbose).",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Show the libraries' start-up messages (TensorFlow's C++ logs).",
)
@click.version_option(package_name="keras-maskspec", prog_name="maskspec")
@click.pass_context
def cli(ctx, debug, verbose):
    """MaskSpec: masked spectrogram pre-training for audio, in Keras 3.

    \b
    Pre-train on the built-in synthetic corpus (a couple of minutes on CPU):
      maskspec pretrain --epochs 1 --out runs/demo
      maskspec show runs/demo --out reconstruction.png
    Fine-tune and evaluate with a recipe, then serve:
      maskspec finetune --recipe esc50 --data ESC-50-master --init runs/demo
      maskspec export --model runs/esc50/fold1 --out exports/esc50/1
      maskspec predict --model exports/esc50/1 dog.wav

    The Keras backend comes from KERAS_BACKEND (tensorflow, jax or torch).
    """
    ctx.meta["maskspec.debug"] = debug
    ctx.meta["maskspec.verbose"] = verbose or debug


def main(argv=None):
    """Entry point of the `maskspec` console script.

    Args:
        argv: list of str or `None` (the process arguments).

    Examples:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Usage: maskspec [OPTIONS] COMMAND [ARGS]...
    ...
    """
    try:
        cli.main(args=argv, prog_name="maskspec", standalone_mode=True)
    except SystemExit as exc:
        if argv is None or exc.code:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
