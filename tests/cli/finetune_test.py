"""`maskspec finetune --recipe` and `maskspec evaluate`."""

import json

import pytest

from tests.cli.helpers import run
from tests.recipes.fake_layouts import make_esc50


# CLI glue over the data and training paths that run under every backend
# elsewhere: once, under TensorFlow (`large`), to keep CI short.
@pytest.mark.large
def test_finetune_and_evaluate_with_recipe(tmp_path):
    data = make_esc50(str(tmp_path / "data"))
    out = tmp_path / "esc50"
    result = run(
        "finetune", "--recipe", "esc50", "--data", data, "--smoke",
        "--out", out, "--set", "folds=[1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert "accuracy" in json.dumps(metrics)
    assert (out / "metrics.json").exists()
    result = run(
        "evaluate", "--model", out / "fold1", "--recipe", "esc50",
        "--data", data, "--smoke", "--set", "folds=[1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "fold1" / "metrics_esc50.json").exists()
