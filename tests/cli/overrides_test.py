"""The one `--set KEY=VALUE` syntax."""

import click
import pytest

from keras_maskspec.cli.overrides import parse_overrides


def test_values_are_json_else_strings():
    assert parse_overrides(
        ["folds=[1, 3]", "base_learning_rate=5e-4",
         'encoder_overrides={"num_layers": 2}', "preset=maskspec_small",
         "ema=true", "clipnorm=null", "mixed-precision=mixed_bfloat16"]
    ) == {
        "folds": [1, 3],
        "base_learning_rate": 5e-4,
        "encoder_overrides": {"num_layers": 2},
        "preset": "maskspec_small",
        "ema": True,
        "clipnorm": None,
        "mixed_precision": "mixed_bfloat16",
    }  # fmt: skip


def test_later_pairs_win_and_values_may_hold_equals():
    assert parse_overrides(["a=1", "a=2", "b=x=y"]) == {"a": 2, "b": "x=y"}


@pytest.mark.parametrize("pair", ["nonsense", "=3", " =3"])
def test_malformed_pairs(pair):
    with pytest.raises(click.BadParameter, match="expected KEY=VALUE"):
        parse_overrides([pair])
