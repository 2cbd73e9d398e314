"""The one `--set KEY=VALUE` syntax of every command line in this package.

`maskspec pretrain|finetune|evaluate` and `recipes/<name>/train.py` take
config fields and recipe options the same way, as repeatable
`--set KEY=VALUE` options. A value is read as JSON when it parses
(`3`, `1e-3`, `true`, `null`, `[1, 2]`, `{"num_layers": 2}`), else kept as
a string (`--set preset=maskspec_small`). Dashes in keys become
underscores.
"""

import json

import click


def parse_overrides(pairs, option="--set"):
    """`("a=1", "b=x")` -> `{"a": 1, "b": "x"}` (values read as JSON).

    Args:
        pairs: iterable of str, each `"KEY=VALUE"`.
        option: str. The option name used in error messages. Defaults to
            `"--set"`.

    Returns:
        dict from str to the parsed values, in the order given (a later
        pair wins over an earlier one with the same key).

    Raises:
        click.BadParameter: a pair without `=` or with an empty key.

    Examples:
    >>> parse_overrides(["epochs=3", "folds=[1, 2]", "preset=maskspec_small",
    ...                  "clip-seconds=null"])
    {'epochs': 3, 'folds': [1, 2], 'preset': 'maskspec_small', \
'clip_seconds': None}
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"expected KEY=VALUE. Received: {pair!r}", param_hint=option
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        overrides[key.strip().replace("-", "_")] = parsed
    return overrides


def set_option(help_text):
    """The repeatable `--set KEY=VALUE` click option (parameter `sets`).

    Args:
        help_text: str. What the keys may be, for `--help`.

    Returns:
        A click decorator.
    """
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help=help_text + " Values are JSON (else strings); repeatable.",
    )


__all__ = ["parse_overrides", "set_option"]
