import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_maskspec
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.training import PretrainConfig
from keras_maskspec.training import load_encoder
from keras_maskspec.training import load_model
from keras_maskspec.training import load_run
from keras_maskspec.training import pretrain
from keras_maskspec.training import run_dir as run_dir_lib


def test_load_run_and_encoder(pretrained):
    run_dir, model, audio = pretrained
    config, loaded = load_run(run_dir)
    assert isinstance(config, PretrainConfig)
    assert isinstance(loaded, MaskSpecPretrainer)
    encoder = load_encoder(run_dir)
    assert isinstance(encoder, MaskSpecEncoder)
    np.testing.assert_allclose(
        encoder.predict(audio[:2], verbose=0),
        model.encoder.predict(audio[:2], verbose=0),
        atol=1e-5,
    )
    # EMA: the saved optimizer carries its averages.
    assert loaded.optimizer.use_ema


def test_load_model_file_and_folder(pretrained):
    run_dir, model, audio = pretrained
    assert keras_maskspec.load_model is load_model
    from_folder = load_model(run_dir)
    from_file = load_model(os.path.join(run_dir, "model.keras"))
    assert isinstance(from_folder, MaskSpecPretrainer)
    assert isinstance(from_file, MaskSpecPretrainer)
    assert getattr(from_folder, "optimizer", None) is None  # not compiled
    assert load_model(run_dir, compile=True).optimizer.use_ema
    encoder = load_model(os.path.join(run_dir, "encoder.keras"))
    assert isinstance(encoder, MaskSpecEncoder)
    np.testing.assert_allclose(
        from_folder.encoder.predict(audio[:2], verbose=0),
        model.encoder.predict(audio[:2], verbose=0),
        atol=1e-5,
    )


def test_unfinished_run_loads_newest_checkpoint(pretrained, tmp_path):
    run_dir, model, audio = pretrained
    copy = str(tmp_path / "unfinished")
    shutil.copytree(run_dir, copy)
    for name in ("model.keras", "encoder.keras"):
        os.remove(os.path.join(copy, name))
    loaded = load_model(copy)
    assert isinstance(loaded, MaskSpecPretrainer)
    encoder = load_encoder(copy)
    assert isinstance(encoder, MaskSpecEncoder)
    np.testing.assert_allclose(
        encoder.predict(audio[:2], verbose=0),
        loaded.encoder.predict(audio[:2], verbose=0),
        atol=1e-5,
    )
    # The weights are the trained ones, not a fresh model's.
    config, _ = load_run(copy)
    fresh = config.build_model().encoder.get_weights()
    trained = loaded.encoder.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(fresh, trained))
    shutil.rmtree(os.path.join(copy, "checkpoints"))
    with pytest.raises(ValueError, match="no checkpoint yet"):
        load_model(copy)


def test_load_model_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing.keras"
    with pytest.raises(ValueError, match="No such file or folder"):
        load_model(missing)
    with pytest.raises(ValueError, match=re.escape(f"path='{missing}'")):
        load_model(missing)
    with pytest.raises(ValueError, match="No run in .*encoder.keras"):
        load_model(tmp_path)
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="weights.h5"):
        load_model(tmp_path / "weights.h5")
    with pytest.raises(FileNotFoundError, match="No run in"):
        load_run(tmp_path)


def test_encoder_only_folder(pretrained, tmp_path):
    run_dir, model, audio = pretrained
    folder = tmp_path / "converted"
    folder.mkdir()
    shutil.copy(os.path.join(run_dir, "encoder.keras"), folder)
    (folder / "config.json").write_text('{"source": "converted"}')
    encoder = load_model(folder)
    assert isinstance(encoder, MaskSpecEncoder)
    assert isinstance(load_encoder(folder), MaskSpecEncoder)


def _fake_checkpoint(run_dir, epoch):
    folder = os.path.join(run_dir, "checkpoints")
    os.makedirs(folder, exist_ok=True)
    name = f"epoch-{epoch:04d}.weights.h5"
    with open(os.path.join(folder, name), "wb") as f:
        f.write(b"weights")
    with open(os.path.join(folder, "training_metadata.json"), "w") as f:
        json.dump({"epoch": epoch, "weights": name}, f)


def test_prepare_writes_marker_and_config_and_checks_resumption(tmp_path):
    config = PretrainConfig(preset="maskspec_test", epochs=3)
    run_dir = str(tmp_path / "run")
    assert run_dir_lib.prepare(run_dir, config) == run_dir
    assert sorted(os.listdir(run_dir)) == [".maskspec-run", "config.json"]
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["kind"] == "PretrainConfig"
    # No checkpoint yet (the run failed before its first epoch ended): the
    # same call, and even another config, just start it again.
    run_dir_lib.prepare(run_dir, config)
    run_dir_lib.prepare(run_dir, config.replace(mask_ratio=0.5))
    run_dir_lib.prepare(run_dir, config)
    _fake_checkpoint(run_dir, 2)
    # Resumable changes are accepted; a larger `epochs` extends the run.
    run_dir_lib.prepare(run_dir, config.replace(verbose=2))
    run_dir_lib.prepare(run_dir, config.replace(epochs=5, checkpoint_every=2))
    with pytest.raises(ValueError, match="already finished 2 epochs"):
        run_dir_lib.prepare(run_dir, config.replace(epochs=1))
    with pytest.raises(ValueError, match="another config"):
        run_dir_lib.prepare(run_dir, config.replace(mask_ratio=0.5))
    with pytest.raises(ValueError, match="holds a PretrainConfig run"):
        from keras_maskspec.training import FinetuneConfig

        run_dir_lib.prepare(run_dir, FinetuneConfig(preset="maskspec_test"))


def test_folder_of_user_files_is_refused_and_untouched(tmp_path):
    folder = tmp_path / "mine"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "diary.txt").write_text("day 1")
    (folder / "model.keras").write_bytes(b"my model")
    (folder / "metrics.csv").write_text("my,numbers\n")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    config = PretrainConfig(preset="maskspec_test")
    with pytest.raises(run_dir_lib.RunDirError) as info:
        run_dir_lib.prepare(folder, config)
    for name in ("logs", "metrics.csv", "model.keras"):
        assert name in str(info.value)
    with pytest.raises(run_dir_lib.RunDirError):
        run_dir_lib.prepare(folder, config, restart=True)
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    # A user's own config.json is not a run either.
    other = tmp_path / "configs"
    other.mkdir()
    config.to_json(str(other / "config.json"))
    with pytest.raises(run_dir_lib.RunDirError, match="config.json"):
        run_dir_lib.prepare(other, config)


def test_restart_moves_the_run_aside_and_deletes_nothing(tmp_path):
    config = PretrainConfig(preset="maskspec_test", epochs=3)
    run_dir = tmp_path / "run"
    run_dir_lib.prepare(run_dir, config)
    _fake_checkpoint(run_dir, 2)
    (run_dir / "metrics.csv").write_text("epoch\n1\n2\n")
    (run_dir / "notes.txt").write_text("the user's")
    run_dir_lib.prepare(run_dir, config.replace(mask_ratio=0.5), restart=True)
    assert sorted(os.listdir(run_dir)) == [
        ".maskspec-run",
        "config.json",
        "notes.txt",
    ]
    (old,) = tmp_path.glob("run.old-*")
    assert sorted(os.listdir(old)) == [
        ".maskspec-run",
        "checkpoints",
        "config.json",
        "metrics.csv",
    ]
    assert (old / "checkpoints" / "epoch-0002.weights.h5").exists()
    assert (run_dir / "notes.txt").read_text() == "the user's"


def test_run_folder_sized_for_what_it_holds(audio, tmp_path, pretrain_config):
    run_dir = str(tmp_path / "run")
    config = pretrain_config(epochs=3)
    pretrain(config, audio, run_dir)
    folder = os.path.join(run_dir, "checkpoints")
    kept = sorted(n for n in os.listdir(folder) if n.endswith(".h5"))
    assert kept == ["epoch-0002.weights.h5", "epoch-0003.weights.h5"]
    checkpoint = os.path.getsize(os.path.join(folder, kept[-1]))
    model = os.path.getsize(os.path.join(run_dir, "model.keras"))
    assert model < 0.6 * checkpoint, (model, checkpoint)
    loaded = load_model(run_dir, compile=True)
    assert getattr(loaded, "optimizer", None) is None
    sizes = dict(run_dir_lib.artefact_sizes(run_dir))
    assert sizes["model.keras"] == model and sizes["checkpoints/"] > checkpoint
    # Resuming (here: extending to 4 epochs) works from the checkpoint.
    extended = pretrain(config.replace(epochs=4), audio, run_dir)
    assert int(keras.ops.convert_to_numpy(extended.optimizer.iterations)) == 8
    kept = sorted(n for n in os.listdir(folder) if n.endswith(".h5"))
    assert kept == ["epoch-0003.weights.h5", "epoch-0004.weights.h5"]


def test_save_optimizer_and_pinned_checkpoints(
    audio, tmp_path, pretrain_config
):
    run_dir = str(tmp_path / "run")
    config = pretrain_config(epochs=3, checkpoint_every=1)
    pretrain(config, audio, run_dir, keep_checkpoints=1, save_optimizer=True)
    folder = os.path.join(run_dir, "checkpoints")
    kept = sorted(n for n in os.listdir(folder) if n.endswith(".h5"))
    assert len(kept) == 3  # all pinned
    loaded = load_model(run_dir, compile=True)
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 6


def test_old_config_with_explicit_decoder_resumes(tmp_path):
    # Configs written before the decoder sizes moved into the presets
    # spell them out; resuming with the preset's values is the same run.
    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    old = PretrainConfig(
        preset="maskspec_test",
        decoder_hidden_dim=32,
        decoder_num_layers=1,
        decoder_num_heads=2,
        decoder_intermediate_dim=64,
    )
    old.to_json(os.path.join(run_dir, "config.json"))
    # A run folder of a version without the marker: config + checkpoint.
    _fake_checkpoint(run_dir, 1)
    assert run_dir_lib.is_run_dir(run_dir)
    run_dir_lib.prepare(run_dir, PretrainConfig(preset="maskspec_test"))
    with pytest.raises(ValueError, match="decoder_num_layers"):
        run_dir_lib.prepare(
            run_dir,
            PretrainConfig(preset="maskspec_test", decoder_num_layers=2),
        )


def test_import_is_light():
    # `import keras_maskspec` loads neither the apps (recipes, cli) nor,
    # under JAX/torch, TensorFlow (only a run's tf.data pipeline does).
    backend = keras.backend.backend()
    code = (
        "import sys, keras_maskspec\n"
        "apps = ('keras_maskspec.recipes', 'keras_maskspec.cli')\n"
        "heavy = [m for m in sys.modules if m.startswith(apps)]\n"
        f"if {backend!r} != 'tensorflow' and 'tensorflow' in sys.modules:\n"
        "    heavy.append('tensorflow')\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, KERAS_BACKEND=backend),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
