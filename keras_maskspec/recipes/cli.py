"""Command line shared by `recipes/<name>/train.py` scripts.

`python recipes/esc50/train.py --data PATH [--init RUN_DIR] [--out DIR]
[--smoke] [--epochs N ...]` fine-tunes with the paper's protocol and prints
the metrics as JSON. Every `FinetuneConfig` field and recipe option is a
flag (`--base-learning-rate 5e-4`, `--folds 1,2`, `--channels mid`);
`--evaluate MODEL` scores a finished run instead, `--probe linear|knn`
probes a frozen encoder, and AudioSet's `--pretrain` pre-trains
(`PretrainConfig` flags such as `--mask-ratio` then apply).
"""

import argparse
import dataclasses
import json
import os

from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.training.config import PretrainConfig


def _parse_value(text):
    """`"3"` -> 3, `"1e-3"` -> 0.001, `"1,2"` -> [1, 2], `"none"` -> None."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(text)
    except ValueError:
        pass
    if "," in text:
        return [_parse_value(part) for part in text.split(",") if part]
    return text


def build_parser(recipe):
    """The `argparse` parser of a recipe's script.

    Examples:
    >>> from keras_maskspec.recipes import get_recipe
    >>> parser = build_parser(get_recipe("esc50"))
    >>> args = parser.parse_args(["--data", "x", "--epochs", "3"])
    >>> args.data, args.epochs
    ('x', '3')
    """
    parser = argparse.ArgumentParser(
        prog=f"recipes/{recipe.name}/train.py",
        description=f"MaskSpec on {recipe.title}: {recipe.task}.",
    )
    parser.add_argument("--data", required=True, help="Data set folder.")
    parser.add_argument(
        "--init", help="Pre-training run dir to start from (default random)."
    )
    parser.add_argument("--out", help="Output folder (runs + metrics.json).")
    parser.add_argument(
        "--smoke", action="store_true", help="Tiny model, a few steps."
    )
    parser.add_argument(
        "--evaluate",
        metavar="MODEL",
        help="Score a finetune output folder / run dir instead of training.",
    )
    parser.add_argument(
        "--probe",
        choices=("linear", "knn"),
        help="Probe the frozen encoder of --init (or --evaluate).",
    )
    if hasattr(recipe, "pretrain"):
        parser.add_argument(
            "--pretrain",
            action="store_true",
            help="Pre-train without labels (segment CSVs or shards).",
        )
    names = {f.name for f in dataclasses.fields(FinetuneConfig)}
    if hasattr(recipe, "pretrain"):
        names |= {f.name for f in dataclasses.fields(PretrainConfig)}
    names |= set(recipe.option_defaults)
    group = parser.add_argument_group("settings (defaults: config.json)")
    for name in sorted(names):
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            metavar="VALUE",
        )
    return parser


def _overrides(args, recipe):
    fixed = {"data", "init", "out", "smoke", "evaluate", "probe", "pretrain"}
    overrides = {}
    for name, text in vars(args).items():
        if name in fixed:
            continue
        value = _parse_value(text)
        default = recipe.option_defaults.get(name)
        if isinstance(default, list) and not isinstance(value, list):
            value = [value]
        overrides[name] = value
    return overrides


def main(recipe_name, argv=None):
    """Runs a recipe from the command line; prints the metrics as JSON.

    Args:
        recipe_name: str. A name of `keras_maskspec.recipes.RECIPES`.
        argv: list of str. Defaults to `sys.argv[1:]`.

    Returns:
        int exit status (0).
    """
    from keras_maskspec.recipes import get_recipe

    recipe = get_recipe(recipe_name)
    args = build_parser(recipe).parse_args(argv)
    overrides = _overrides(args, recipe)
    if getattr(args, "pretrain", False):
        result = recipe.pretrain(
            args.data, out=args.out, smoke=args.smoke, **overrides
        )
    elif args.evaluate or args.probe:
        model = args.evaluate or args.init
        if model is None:
            raise SystemExit("--probe needs --init RUN_DIR (or --evaluate).")
        result = recipe.evaluate(
            model, args.data, smoke=args.smoke, probe=args.probe, **overrides
        )
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            name = f"probe_{args.probe}.json" if args.probe else "evaluate.json"
            with open(os.path.join(args.out, name), "w") as f:
                json.dump(result, f, indent=2, sort_keys=True)
    else:
        result = recipe.finetune(
            args.data,
            init=args.init,
            out=args.out,
            smoke=args.smoke,
            **overrides,
        )
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def write_config(recipe, folder):
    """Writes `folder/config.json`: the recipe's defaults (`defaults()`).

    Examples:
    >>> import tempfile
    >>> from keras_maskspec.recipes import get_recipe
    >>> path = write_config(get_recipe("esc50"), tempfile.mkdtemp())
    >>> os.path.basename(path)
    'config.json'
    """
    path = os.path.join(folder, "config.json")
    with open(path, "w") as f:
        json.dump(recipe.defaults(), f, indent=2, sort_keys=True)
        f.write("\n")
    return path
