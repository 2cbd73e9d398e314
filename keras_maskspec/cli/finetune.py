"""`maskspec finetune`: fine-tune with a recipe's protocol."""

import json
import os

import click

from keras_maskspec.cli._common import banner
from keras_maskspec.cli._common import err
from keras_maskspec.cli._common import get_recipe
from keras_maskspec.cli.overrides import parse_overrides
from keras_maskspec.cli.overrides import set_option


@click.command()
@click.option("--recipe", required=True, help="Recipe name, e.g. esc50.")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="The data set folder, in its official layout.",
)
@click.option(
    "--init",
    type=click.Path(exists=True),
    help="Pre-training run folder to start from.  [default: random init]",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Output folder: one run folder per fold/channel and metrics.json.",
)
@click.option(
    "--smoke", is_flag=True, help="Tiny model, a few steps: checks the wiring."
)
@set_option(
    "Override a FinetuneConfig field or recipe option, e.g. "
    "--set epochs=10 --set folds=[1]."
)
def finetune(recipe, data, init, out, smoke, sets):
    """Fine-tune with a recipe's protocol (the paper's settings)."""
    chosen = get_recipe(recipe)
    overrides = parse_overrides(sets)
    config, _ = chosen.resolve(smoke=smoke, **overrides)
    banner(
        "finetune",
        config.preset,
        f"{recipe} from {data}",
        out or "a temporary folder",
    )
    metrics = chosen.finetune(
        data, init=init, out=out, smoke=smoke, **overrides
    )
    click.echo(json.dumps(metrics, indent=2, sort_keys=True))
    if out:
        err(f"Metrics written to {os.path.join(out, 'metrics.json')}")
