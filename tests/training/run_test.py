import csv
import glob
import os

import keras
import numpy as np
import pytest

from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.training import finetune
from keras_maskspec.training import load_model
from keras_maskspec.training import pretrain


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_run_dir_layout(pretrained):
    run_dir, model, _ = pretrained
    for name in ("config.json", "metrics.csv", "model.keras", "encoder.keras"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert os.listdir(os.path.join(run_dir, "checkpoints"))
    assert glob.glob(os.path.join(run_dir, "logs", "train", "events.*"))
    assert glob.glob(os.path.join(run_dir, "logs", "images", "events.*"))
    rows = _rows(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for key in ("loss", "val_loss", "lr", "clips_per_second"):
        assert np.isfinite(float(rows[-1][key])), key
    assert isinstance(model, MaskSpecPretrainer)


def test_images_reach_tensorboard(pretrained):
    tf = pytest.importorskip("tensorflow")
    run_dir, _, _ = pretrained
    tags = set()
    for path in glob.glob(os.path.join(run_dir, "logs", "images", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    assert "reconstruction/example_0" in tags


def test_finished_run_is_not_rerun(pretrained, pretrain_config):
    run_dir, _, audio = pretrained
    before = _rows(run_dir)
    model = pretrain(
        pretrain_config(image_every=1, ema=True, ema_momentum=0.5),
        audio,
        run_dir,
        save_optimizer=True,
    )
    assert _rows(run_dir) == before
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4


def test_resume_refuses_other_config(pretrained, pretrain_config):
    run_dir, _, audio = pretrained
    with pytest.raises(ValueError, match="another config"):
        pretrain(pretrain_config(mask_ratio=0.5), audio, run_dir)


def test_finetune_from_run_dir_with_mixup_and_balancing(
    pretrained, tmp_path, finetune_config
):
    run_dir, model, audio = pretrained
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    config = finetune_config(
        mixup_alpha=0.3,
        mixup_rate=0.5,
        class_balanced=True,
        label_smoothing=0.1,
        drop_path_rate=0.1,
    )
    out = str(tmp_path / "ft")
    classifier = finetune(
        config, run_dir, (audio, labels), out, validation_data=(audio, labels)
    )
    assert isinstance(classifier, MaskSpecClassifier)
    assert classifier.encoder.drop_path_rate == 0.1
    rows = _rows(out)
    assert "val_accuracy" in rows[-1] and "accuracy" in rows[-1]
    assert isinstance(load_model(out), MaskSpecClassifier)


def test_finetune_multilabel_partial_labels_bfloat16(
    audio, tmp_path, finetune_config
):
    labels = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2, 0, 1]]
    labels[0, 1] = -1
    config = finetune_config(
        multi_label=True,
        mixed_precision="mixed_bfloat16",
        mixup_alpha=0.3,
        class_balanced=True,
    )
    out = str(tmp_path / "ft")
    model = finetune(config, None, (audio, labels), out, (audio, labels))
    rows = _rows(out)
    assert np.isfinite(float(rows[-1]["loss"]))
    assert 0.0 <= float(rows[-1]["val_map"]) <= 1.0
    assert model.encoder.transformer_layers[0].compute_dtype == "bfloat16"
    assert model.encoder.frontend.compute_dtype == "float32"
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == (
        "float32"
    )


def _jax_on_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.devices()[0].platform == "cpu"


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="jit_compile under torch is torch.compile; not a target here.",
)
@pytest.mark.skipif(
    _jax_on_cpu(),
    reason="XLA:CPU has no float16 dot_general ('F16_F16_F32' unsupported); "
    "mixed_float16 under JAX needs a GPU. bfloat16 is tested on CPU.",
)
def test_mixed_float16_with_xla(audio, tmp_path, pretrain_config):
    config = pretrain_config(
        mixed_precision="mixed_float16", jit_compile=True, epochs=1
    )
    model = pretrain(config, audio, str(tmp_path / "run"))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(float(_rows(str(tmp_path / "run"))[0]["loss"]))
    out = model(audio[:2])
    assert keras.backend.standardize_dtype(out["reconstruction"].dtype) == (
        "float32"
    )
    assert keras.backend.standardize_dtype(out["spectrogram"].dtype) == (
        "float32"
    )


def test_callable_data_and_bad_batch(audio, tmp_path, pretrain_config):
    tf = pytest.importorskip("tensorflow")
    seen = []

    def data(epoch):
        seen.append(epoch)
        return tf.data.Dataset.from_tensor_slices(audio).batch(4)

    pretrain(
        pretrain_config(epochs=1, steps_per_epoch=2),
        data,
        str(tmp_path / "a"),
    )
    # Built lazily: traced once with the epoch as a scalar int64 tensor
    # (see `data.arrays.dataset_epochs`), never once per epoch up front.
    assert len(seen) == 1
    assert getattr(seen[0], "dtype", None) == tf.int64
    with pytest.raises(ValueError, match="batch_size=16"):
        pretrain(pretrain_config(batch_size=16), audio, str(tmp_path / "b"))


def test_pretrain_says_when_audioset_statistics_do_not_fit(
    audio, tmp_path, pretrain_config, capfd
):
    # Full-band noise under the AudioSet table (the default): a note on
    # stderr names the blown-up top bins; with the clips' own statistics,
    # nothing is said.
    config = pretrain_config(epochs=1)
    assert config.frame_stats == "audioset"
    pretrain(config, audio, str(tmp_path / "audioset"))
    err = capfd.readouterr().err
    assert "Note: The per-mel-bin statistics 'audioset' do not fit" in err
    assert "-127 " in err
    pretrain(
        pretrain_config(epochs=1, frame_stats="train"),
        audio,
        str(tmp_path / "train"),
    )
    assert "do not fit" not in capfd.readouterr().err
