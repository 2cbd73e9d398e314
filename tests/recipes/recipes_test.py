import json
import os
import runpy
import sys

import numpy as np
import pytest

from keras_maskspec import recipes
from keras_maskspec.models import MaskSpecEncoder
from tests.recipes import fake_layouts

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _script(name, argv, capsys):
    """Runs recipes/<name>/train.py in-process; returns its JSON output."""
    path = os.path.join(REPO, "recipes", name, "train.py")
    old = sys.argv
    sys.argv = [path, *argv]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = old
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    return json.loads(out[out.index("{") :])


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_config_json_matches_registry(name, tmp_path):
    # The recipe class is the one source of defaults; config.json is
    # written from it by `Recipe.write_config` and must not drift.
    path = os.path.join(REPO, "recipes", name, "config.json")
    with open(path) as f:
        on_disk = json.load(f)
    assert on_disk == json.loads(
        json.dumps(recipes.get_recipe(name).defaults())
    ), f"regenerate with recipes.get_recipe({name!r}).write_config(...)"
    with open(recipes.get_recipe(name).write_config(str(tmp_path))) as f:
        written = f.read()
    with open(path) as f:
        assert written == f.read()


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_readme_states_command_result_and_time(name):
    with open(os.path.join(REPO, "recipes", name, "README.md")) as f:
        text = f.read()
    assert f"python recipes/{name}/train.py --data" in text
    assert "GPU" in text and "paper" in text.lower()


def test_paper_defaults_and_overrides():
    esc = recipes.get_recipe("esc50")
    config, options = esc.resolve()
    assert (config.epochs, config.patchout, config.mixup_alpha) == (
        80,
        100,
        0.3,
    )
    assert config.clip_seconds == 5.0 and options["folds"] == [1, 2, 3, 4, 5]
    assert recipes.get_recipe("speechcommands").resolve()[0].clip_seconds == 1.0
    dcase = recipes.get_recipe("dcase2019_task1a").resolve()[0]
    assert (dcase.epochs, dcase.base_learning_rate, dcase.mixup_alpha) == (
        200,
        5e-3,
        0.2,
    )
    as2m = recipes.get_recipe("audioset").resolve()[0]
    assert as2m.class_balanced and as2m.samples_per_epoch == 100_000
    assert as2m.label_smoothing == 0.0 and as2m.patchout == 200
    as20k = recipes.get_recipe("audioset").resolve(variant="as20k")[0]
    assert not as20k.class_balanced and as20k.samples_per_epoch is None
    assert recipes.get_recipe("openmic2018").resolve()[0].mixup_alpha == 0.0
    config, options = esc.resolve(epochs=3, folds=[2])
    assert config.epochs == 3 and options["folds"] == [2]
    with pytest.raises(ValueError, match="Unknown esc50 setting"):
        esc.resolve(epoch=3)


def test_script_settings_use_the_set_syntax(monkeypatch, capsys):
    from keras_maskspec.cli import recipe as recipe_cli

    esc = recipes.get_recipe("esc50")
    seen = {}

    def finetune(data, init=None, out=None, smoke=False, **overrides):
        seen.update(overrides)
        return {"accuracy": 0.5}

    monkeypatch.setattr(esc, "finetune", finetune)
    with pytest.raises(SystemExit) as exit_info:
        recipe_cli.main(
            "esc50",
            ["--data", "x", "--set", "folds=[1,3]",
             "--set", "base-learning-rate=5e-4",
             "--set", 'encoder_overrides={"num_layers": 2}'],
        )  # fmt: skip
    assert exit_info.value.code == 0
    assert seen == {
        "folds": [1, 3],
        "base_learning_rate": 5e-4,
        "encoder_overrides": {"num_layers": 2},
    }
    assert json.loads(capsys.readouterr().out) == {"accuracy": 0.5}
    # One fold given as a scalar is that one fold.
    assert esc.resolve(**{"folds": 2})[1]["folds"] == [2]


def test_scripts_help_names_the_set_syntax(capsys):
    from keras_maskspec.cli import recipe as recipe_cli

    with pytest.raises(SystemExit):
        recipe_cli.main("audioset", ["--help"])
    text = capsys.readouterr().out
    assert "--set KEY=VALUE" in text and "--pretrain" in text


@pytest.mark.large
def test_esc50_smoke_script(tmp_path, capsys):
    root = fake_layouts.make_esc50(str(tmp_path))
    out = str(tmp_path / "out")
    result = _script("esc50", ["--data", root, "--smoke", "--out", out], capsys)
    assert set(result["folds"]) == {"fold1"}
    assert 0.0 <= result["accuracy"] <= 1.0
    assert os.path.isfile(os.path.join(out, "fold1", "model.keras"))
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["accuracy"] == result["accuracy"]
    # Final and best-over-epochs (the authors' number), labelled; the run
    # folder keeps the statistics and the picture of an augmented batch.
    best = result["folds"]["fold1"]["best_over_epochs"]
    assert best["epoch"] == 1 and 0.0 <= best["accuracy"] <= 1.0
    for name in ("frame_stats.npz", "augmented_batch.png"):
        assert os.path.isfile(os.path.join(out, "fold1", name))
    # The finished run scores the same through evaluate().
    again = recipes.get_recipe("esc50").evaluate(out, root, smoke=True)
    assert again["accuracy"] == pytest.approx(result["accuracy"])


@pytest.mark.large
def test_speechcommands_smoke_script(tmp_path, capsys):
    root = fake_layouts.make_speechcommands(str(tmp_path))
    result = _script("speechcommands", ["--data", root, "--smoke"], capsys)
    assert 0.0 <= result["accuracy"] <= 1.0


@pytest.mark.large
def test_dcase_smoke_script_ensembles_channels(tmp_path, capsys):
    root = fake_layouts.make_dcase2019(str(tmp_path))
    result = _script("dcase2019_task1a", ["--data", root, "--smoke"], capsys)
    assert set(result) >= {"left", "mid", "ensemble", "accuracy"}
    assert result["accuracy"] == result["ensemble"]["accuracy"]


@pytest.mark.large
def test_openmic_smoke_script(tmp_path, capsys):
    root = fake_layouts.make_openmic2018(str(tmp_path))
    result = _script("openmic2018", ["--data", root, "--smoke"], capsys)
    assert 0.0 <= result["map"] <= 1.0


@pytest.mark.large
def test_audioset_smoke_pretrain_then_finetune(tmp_path, capsys):
    root, _ = fake_layouts.make_audioset(str(tmp_path))
    run = str(tmp_path / "pretrain")
    result = _script(
        "audioset",
        ["--data", root, "--smoke", "--pretrain", "--out", run],
        capsys,
    )
    assert result["sources"] == 6 and result["missing_clips"] == 2
    assert os.path.isfile(os.path.join(run, "encoder.keras"))
    result = _script(
        "audioset",
        ["--data", root, "--smoke", "--init", run, "--set", "variant=as20k"],
        capsys,
    )
    assert set(result) >= {"map", "mauc", "d_prime", "missing_clips"}
    assert result["missing_clips"] == 2  # one balanced + one eval clip


@pytest.mark.parametrize("method", ["linear", "knn"])
def test_probe_on_recipe_data(tmp_path, method):
    root = fake_layouts.make_esc50(str(tmp_path))
    encoder = MaskSpecEncoder.from_preset("maskspec_test")
    result = recipes.get_recipe("esc50").evaluate(
        encoder, root, smoke=True, probe=method, folds=[1, 2]
    )
    assert set(result["folds"]) == {"fold1", "fold2"}
    assert 0.0 <= result["accuracy"] <= 1.0


def test_probe_multilabel_openmic(tmp_path):
    root = fake_layouts.make_openmic2018(str(tmp_path))
    encoder = MaskSpecEncoder.from_preset("maskspec_test")
    result = recipes.get_recipe("openmic2018").evaluate(
        encoder, root, smoke=True, probe="knn"
    )
    assert 0.0 <= result["map"] <= 1.0


def test_linear_and_knn_probe_learn_separable_classes():
    from keras_maskspec.training import probe

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 3
    y = np.repeat(np.arange(3), 20)
    x = centers[y] + rng.normal(size=(60, 8))
    for fn in (probe.linear_probe, probe.knn_probe):
        scores = fn(x[::2], y[::2], x[1::2], num_classes=3)
        assert np.mean(scores.argmax(-1) == y[1::2]) > 0.9
    multi = np.stack([y == 0, y == 1], axis=1).astype("float32")
    multi[::3, 0] = -1  # unknown entries are ignored
    scores = probe.linear_probe(
        x[::2], multi[::2], x[1::2], 2, multi_label=True
    )
    assert scores.shape == (30, 2)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_parity_settings_of_every_recipe(name):
    # docs/parity.md: the authors' settings, recipe by recipe, and the
    # smoke run keeps every waveform augmentation on.
    recipe = recipes.get_recipe(name)
    config = recipe.resolve()[0]
    smoke = recipe.resolve(smoke=True)[0]
    stats = {"audioset": "audioset", "esc50": "audioset"}
    assert config.frame_stats == stats.get(name, "train")
    # dcase19/openmic18 `get_mean_std.py`: the first 32 000 samples (1 s).
    one_second = name in ("dcase2019_task1a", "openmic2018")
    assert config.stats_clip_seconds == (1.0 if one_second else None)
    assert config.crop == "random"
    assert config.label_smoothing == 0.0
    for c in (config, smoke):
        assert (c.gain_db, c.roll_samples, c.container_seconds) == (7, 50, 10)
        assert c.extra_augment and c.wave_mixup_alpha == 2.0
        assert c.mixup_rate == (0.0 if name == "openmic2018" else 0.5)
    alpha = {"dcase2019_task1a": 0.2, "openmic2018": 0.0}
    assert config.mixup_alpha == alpha.get(name, 0.3)
    if name == "audioset":
        assert config.batch_size == 512 and config.samples_per_epoch == 100_000
    if name == "openmic2018":
        assert config.loss_normalize == "all"


def test_dcase_ensemble_averages_logits():
    dcase = recipes.get_recipe("dcase2019_task1a")
    y = np.array([0])
    # Mean logits [1, -3, -3] pick class 0; mean softmax probabilities
    # (0.46, 0.06, 0.47) would pick class 2.
    left = np.array([[1.0, -1.0, -6.0]])
    mid = np.array([[0.0, -2.0, 3.0]])
    per_run = {
        "left": {"metrics": {"accuracy": 1.0}, "y_true": y, "y_score": left},
        "mid": {"metrics": {"accuracy": 0.0}, "y_true": y, "y_score": mid},
    }
    result = dcase.summarize(per_run)
    assert result["ensemble"]["accuracy"] == 1.0


def test_openmic_positives_are_strictly_above_one_half(tmp_path):
    root = fake_layouts.make_openmic2018(str(tmp_path))
    parts = recipes.get_recipe("openmic2018").read(root)
    for part in ("train", "test"):
        y_true = parts["y_true"][part]
        y_mask = parts["y_mask"][part]
        labels = np.asarray(getattr(parts[part], "labels"))
        want = np.where(y_mask, (y_true > 0.5).astype(np.float32), -1.0)
        np.testing.assert_array_equal(labels, want)


def test_steps_per_epoch_drop_the_last_partial_batch():
    # The authors: `DistributedSampler` + `drop_last=True`, floor(N / 64).
    recipe = recipes.get_recipe("esc50")
    config = recipe.default_config()
    assert config.batch_size == 64 and not config.steps_per_epoch
    clips = list(range(1600))  # one ESC-50 training split of 4 folds
    assert recipe.steps_per_epoch(clips, config) == 1600 // 64 == 25
    assert recipe.steps_per_epoch(clips[:127], config) == 1
    assert recipe.steps_per_epoch(clips, config.replace(steps_per_epoch=7)) == 7
    balanced = config.replace(class_balanced=True, samples_per_epoch=6400)
    assert recipe.steps_per_epoch(clips, balanced) == 100


def test_replica_copies_give_the_authors_as2m_steps():
    # The literal reading of the AS-2M run: 8 GPUs x 64 clips, the same 64
    # on every GPU, 100 000 draws per epoch -> 1562 steps of 512 rows.
    recipe = recipes.get_recipe("audioset")
    config = recipe.resolve(replica_copies=8)[0]
    assert (config.batch_size, config.samples_per_epoch) == (512, 100000)
    assert recipe.steps_per_epoch(range(2_000_000), config) == 100000 // 64
    plain = recipe.resolve()[0]
    assert plain.replica_copies == 1
    assert recipe.steps_per_epoch(range(2_000_000), plain) == 100000 // 512
    with pytest.raises(ValueError, match="replica_copies=0"):
        plain.replace(replica_copies=0)
