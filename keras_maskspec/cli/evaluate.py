"""`maskspec evaluate`: score a trained model on a recipe's test split(s)."""

import json
import os

import click

from keras_maskspec.cli._common import err
from keras_maskspec.cli._common import get_recipe
from keras_maskspec.cli.overrides import parse_overrides
from keras_maskspec.cli.overrides import set_option


@click.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True),
    help="A fine-tuned run folder or a finetune --out folder.",
)
@click.option("--recipe", required=True, help="Recipe name, e.g. esc50.")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="The data set folder, in its official layout.",
)
@click.option(
    "--probe",
    type=click.Choice(["linear", "knn"]),
    help="Probe the frozen encoder instead of using the model's head.",
)
@click.option("--smoke", is_flag=True, help="A few clips, short crops.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Metrics JSON file.  [default: MODEL/metrics_RECIPE.json]",
)
@set_option("Override a FinetuneConfig field or recipe option.")
def evaluate(model_path, recipe, data, probe, smoke, out, sets):
    """Score a trained model on a data set's test split(s)."""
    metrics = get_recipe(recipe).evaluate(
        model_path, data, smoke=smoke, probe=probe, **parse_overrides(sets)
    )
    text = json.dumps(metrics, indent=2, sort_keys=True)
    click.echo(text)
    if out is None and os.path.isdir(model_path):
        suffix = f"_{probe}" if probe else ""
        out = os.path.join(model_path, f"metrics_{recipe}{suffix}.json")
    if out:
        from keras_maskspec.utils import files

        files.atomic_write_text(out, text + "\n")
        err(f"Metrics written to {out}")
