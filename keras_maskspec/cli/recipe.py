"""The command line of `recipes/<name>/train.py` scripts.

`python recipes/esc50/train.py --data PATH [--init RUN_DIR] [--out DIR]
[--smoke] [--set KEY=VALUE ...]` fine-tunes with the paper's protocol and
prints the metrics as JSON. Settings take the `--set` syntax of `maskspec
finetune` (`--set base_learning_rate=5e-4 --set folds=[1,2]`);
`--evaluate MODEL` scores a finished run instead, `--probe linear|knn`
probes a frozen encoder, and AudioSet's `--pretrain` pre-trains
(`PretrainConfig` fields then apply).
"""

import json
import os

import click

from keras_maskspec.cli.overrides import parse_overrides
from keras_maskspec.cli.overrides import set_option


def recipe_command(recipe):
    """The click command of a recipe's `train.py`.

    Args:
        recipe: a `keras_maskspec.recipes.Recipe`.

    Returns:
        A `click.Command`.

    Examples:
    >>> from keras_maskspec.recipes import get_recipe
    >>> command = recipe_command(get_recipe("esc50"))
    >>> command.name
    'recipes/esc50/train.py'
    """
    can_pretrain = hasattr(recipe, "pretrain")

    @click.command(
        name=f"recipes/{recipe.name}/train.py",
        help=f"MaskSpec on {recipe.title}: {recipe.task}. Defaults: "
        f"recipes/{recipe.name}/config.json.",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.option("--data", required=True, help="Data set folder.")
    @click.option(
        "--init", help="Pre-training run dir to start from (default random)."
    )
    @click.option("--out", help="Output folder (runs + metrics.json).")
    @click.option("--smoke", is_flag=True, help="Tiny model, a few steps.")
    @click.option(
        "--evaluate",
        "model",
        metavar="MODEL",
        help="Score a finetune output folder / run dir instead of training.",
    )
    @click.option(
        "--probe",
        type=click.Choice(["linear", "knn"]),
        help="Probe the frozen encoder of --init (or --evaluate).",
    )
    @click.option(
        "--pretrain",
        is_flag=True,
        hidden=not can_pretrain,
        help="Pre-train without labels (segment CSVs or shards).",
    )
    @set_option("Override a config field or recipe option (config.json).")
    def command(data, init, out, smoke, model, probe, pretrain, sets):
        overrides = parse_overrides(sets)
        if pretrain:
            if not can_pretrain:
                raise click.UsageError(f"{recipe.name} does not pre-train.")
            result = recipe.pretrain(data, out=out, smoke=smoke, **overrides)
        elif model or probe:
            model = model or init
            if model is None:
                raise click.UsageError(
                    "--probe needs --init RUN_DIR (or --evaluate)."
                )
            result = recipe.evaluate(
                model, data, smoke=smoke, probe=probe, **overrides
            )
            if out:
                os.makedirs(out, exist_ok=True)
                name = f"probe_{probe}.json" if probe else "evaluate.json"
                from keras_maskspec.utils import files

                files.atomic_write_text(
                    os.path.join(out, name),
                    json.dumps(result, indent=2, sort_keys=True) + "\n",
                )
        else:
            result = recipe.finetune(
                data, init=init, out=out, smoke=smoke, **overrides
            )
        click.echo(json.dumps(result, indent=2, sort_keys=True))

    return command


def main(recipe_name, argv=None):
    """Runs a recipe from the command line; prints the metrics as JSON.

    Args:
        recipe_name: str. A name of `keras_maskspec.recipes.RECIPES`.
        argv: list of str. Defaults to `sys.argv[1:]`.

    Returns:
        int exit status (0); click exits on its own when run as a script.
    """
    from keras_maskspec.recipes import get_recipe

    command = recipe_command(get_recipe(recipe_name))
    command.main(args=argv, prog_name=command.name)
    return 0
