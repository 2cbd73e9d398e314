"""The `maskspec` command: pre-train, fine-tune, evaluate, embed, serve.

Run `maskspec --help` or `maskspec COMMAND --help`. The main job,
pre-training on the built-in synthetic corpus, is one line:

    maskspec pretrain --epochs 1 --out runs/demo

One module per command parses its arguments and calls the library;
`overrides.parse_overrides` is the one `--set KEY=VALUE` syntax, shared
with `recipes/<name>/train.py` (`recipe.py`).

Errors a shell user can fix (a wrong path, an unknown recipe, an
unreadable config, a bad audio file) print one line on stderr and exit
with status 1 (usage mistakes: status 2); `maskspec --debug COMMAND ...`
shows the full traceback.
"""

import os
import sys

import click

from keras_maskspec.cli._common import one_line
from keras_maskspec.cli.convert import convert
from keras_maskspec.cli.embed import embed
from keras_maskspec.cli.evaluate import evaluate
from keras_maskspec.cli.export import export
from keras_maskspec.cli.finetune import finetune
from keras_maskspec.cli.predict import predict
from keras_maskspec.cli.pretrain import pretrain
from keras_maskspec.cli.shard import shard
from keras_maskspec.cli.show import show


class _Group(click.Group):
    """A group whose commands fail with one line, not a traceback."""

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


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show full tracebacks instead of one-line errors.",
)
@click.version_option(package_name="keras-maskspec", prog_name="maskspec")
@click.pass_context
def cli(ctx, debug):
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


for _command in (
    pretrain,
    finetune,
    evaluate,
    embed,
    predict,
    export,
    shard,
    show,
    convert,
):
    cli.add_command(_command)


def main(argv=None):
    """Entry point of the `maskspec` console script.

    Args:
        argv: list of str or `None` (the process arguments).

    Examples:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Usage: maskspec [OPTIONS] COMMAND [ARGS]...
    ...
    """
    # TensorFlow's C++ start-up chatter is noise in a shell tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        cli.main(args=argv, prog_name="maskspec", standalone_mode=True)
    except SystemExit as exc:
        if argv is None or exc.code:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
