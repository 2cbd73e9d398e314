import csv
import errno
import json
import os

import keras
import numpy as np
import pytest

from keras_maskspec.models.losses import MaskedBinaryCrossentropy
from keras_maskspec.training import AugmentedBatchImage
from keras_maskspec.training import EpochCSVLogger
from keras_maskspec.training import EpochTestScores
from keras_maskspec.training import NonFiniteLossError
from keras_maskspec.training import RunCheckpoint
from keras_maskspec.training import StepLossLogger
from keras_maskspec.training import StopOnNonFiniteLoss
from keras_maskspec.training import TrainingMonitor
from keras_maskspec.training import ValidationMeanAveragePrecision
from keras_maskspec.training import metrics


def _dense_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_logger_replaces_rerun_epochs(tmp_path):
    path = str(tmp_path / "metrics.csv")
    x, y = np.ones((8, 4)), np.zeros((8, 1))
    model = _dense_model()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[EpochCSVLogger(path)])
    # A resumed run that restarts at epoch index 2 (third epoch).
    model.fit(
        x,
        y,
        epochs=4,
        initial_epoch=2,
        verbose=0,
        callbacks=[EpochCSVLogger(path)],
    )
    assert [int(r["epoch"]) for r in _rows(path)] == [1, 2, 3, 4]


def test_monitor_adds_lr_and_throughput(tmp_path):
    path = str(tmp_path / "metrics.csv")
    model = _dense_model()
    history = model.fit(
        np.ones((8, 4)),
        np.zeros((8, 1)),
        batch_size=2,
        epochs=1,
        verbose=0,
        callbacks=[TrainingMonitor(batch_size=2), EpochCSVLogger(path)],
    )
    assert np.isclose(history.history["lr"][0], 1e-2)
    row = _rows(path)[0]
    assert float(row["clips_per_second"]) > 0
    assert np.isclose(float(row["lr"]), 1e-2)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    backup = str(tmp_path / "checkpoints")
    x = np.ones((8, 4), "float32")
    y = np.zeros((8, 1), "float32")

    class PoisonSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                kernel = self.model.layers[0].kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    model = _dense_model()
    checkpoint = RunCheckpoint(backup)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        model.fit(
            x,
            y,
            epochs=3,
            verbose=0,
            callbacks=[
                PoisonSecondEpoch(),
                StopOnNonFiniteLoss(backup),
                checkpoint,
            ],
        )
    assert checkpoint.latest_epoch() == 1
    restored = _dense_model()
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(
        str(tmp_path / "checkpoints" / checkpoint.metadata()["weights"])
    )
    assert np.isfinite(restored.layers[0].kernel.numpy()).all()


def test_checkpoint_metadata_and_resume(tmp_path):
    backup = str(tmp_path / "checkpoints")
    x, y = np.ones((8, 4)), np.zeros((8, 1))
    model = _dense_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[RunCheckpoint(backup, 1)])
    meta = json.loads(
        (tmp_path / "checkpoints/training_metadata.json").read_text()
    )
    assert meta == {"epoch": 2, "weights": "epoch-0002.weights.h5"}
    # keep_every=1 kept every epoch's weights.
    assert (tmp_path / "checkpoints/epoch-0001.weights.h5").exists()
    resumed = _dense_model()
    history = resumed.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[RunCheckpoint(backup, keep_last=1)],
    )
    assert len(history.history["loss"]) == 1
    # Optimizer state came back: Adam's iteration count continues.
    assert int(resumed.optimizer.iterations.numpy()) == 3
    assert not (tmp_path / "checkpoints/epoch-0002.weights.h5").exists()


def test_map_callback_logs_exact_map():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (rng.random((16, 2)) < 0.5).astype("float32")
    y[0] = 1
    y[1] = 0
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="binary_crossentropy")
    callback = ValidationMeanAveragePrecision([(x[:8], y[:8]), (x[8:], y[8:])])
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    expected = metrics.mean_average_precision(y, model.predict(x, verbose=0))
    assert len(history.history["val_map"]) == 2
    np.testing.assert_allclose(
        history.history["val_map"][-1], expected, rtol=1e-5
    )


def test_map_callback_on_arrays_skips_unlabelled_entries():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (rng.random((16, 2)) < 0.5).astype("float32")
    y[0], y[1] = 1, 0
    y[2:6, 0] = -1
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    # -1 marks an unknown label: the loss must skip it too (PyTorch's BCE
    # refuses targets outside [0, 1]).
    model.compile(loss=MaskedBinaryCrossentropy(from_logits=True))
    callback = ValidationMeanAveragePrecision(x, y, batch_size=4)
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        history.history["val_map"][-1],
        metrics.masked_mean_average_precision(y, scores),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        history.history["val_mauc"][-1],
        metrics.mean_auc(y, scores),
        rtol=1e-5,
    )
    # No positive at all: the value is undefined, the run goes on.
    empty = ValidationMeanAveragePrecision(x, np.zeros_like(y))
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[empty])
    assert np.isnan(history.history["val_map"][-1])
    with pytest.raises(ValueError, match="labels=None"):
        ValidationMeanAveragePrecision(x)
    with pytest.raises(ValueError, match="frequency=0"):
        ValidationMeanAveragePrecision(x, y, frequency=0)


def test_checkpoints_keep_the_newest_two_by_default(tmp_path):
    backup = tmp_path / "checkpoints"
    x, y = np.ones((8, 4)), np.zeros((8, 1))
    model = _dense_model()
    model.fit(x, y, epochs=4, verbose=0, callbacks=[RunCheckpoint(str(backup))])
    assert sorted(os.listdir(backup)) == [
        "epoch-0003.weights.h5",
        "epoch-0004.weights.h5",
        "training_metadata.json",
    ]


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(
    tmp_path, monkeypatch
):
    backup = tmp_path / "checkpoints"
    x, y = np.ones((8, 4)), np.zeros((8, 1))
    model = _dense_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[RunCheckpoint(str(backup))])
    saved = (backup / "epoch-0001.weights.h5").read_bytes()

    def full_disk(self, path):
        with open(path, "wb") as f:
            f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(RunCheckpoint, "_write_weights", full_disk)
    with pytest.raises(OSError, match="epoch 1 is intact") as info:
        model.fit(
            x, y, epochs=2, verbose=0, callbacks=[RunCheckpoint(str(backup))]
        )
    assert info.value.errno == errno.ENOSPC
    assert "No space left on device" in str(info.value)
    monkeypatch.undo()
    # Nothing half-written is left, and the previous checkpoint loads.
    assert sorted(os.listdir(backup)) == [
        "epoch-0001.weights.h5",
        "training_metadata.json",
    ]
    assert (backup / "epoch-0001.weights.h5").read_bytes() == saved
    resumed = _dense_model()
    checkpoint = RunCheckpoint(str(backup))
    assert checkpoint.latest_epoch() == 1
    resumed.fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint])
    assert int(resumed.optimizer.iterations.numpy()) == 2


def test_step_loss_logger_recovers_every_step_and_replaces_reruns(tmp_path):
    path = str(tmp_path / "steps.csv")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    # lr 0: the weights stay put, so every batch's loss is known exactly.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    kernel, bias = model.get_weights()
    per_batch = [
        float(np.mean((x[i : i + 2] @ kernel + bias - y[i : i + 2]) ** 2))
        for i in range(0, 8, 2)
    ]
    fit = dict(batch_size=2, shuffle=False, verbose=0)
    model.fit(x, y, epochs=2, callbacks=[StepLossLogger(path)], **fit)
    rows = _rows(path)
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    assert [int(r["epoch"]) for r in rows] == [1] * 4 + [2] * 4
    np.testing.assert_allclose(
        [float(r["loss"]) for r in rows], per_batch * 2, rtol=1e-5
    )
    np.testing.assert_allclose(
        float(rows[3]["epoch_mean_loss"]), np.mean(per_batch), rtol=1e-5
    )
    # A resumed run re-running the second epoch replaces its rows.
    model.fit(
        x, y, epochs=2, initial_epoch=1, callbacks=[StepLossLogger(path)],
        **fit,
    )  # fmt: skip
    assert [int(r["step"]) for r in _rows(path)] == list(range(1, 9))


def test_epoch_test_scores_keep_every_epoch_and_the_best():
    cb = EpochTestScores(
        [(np.zeros((2, 3), "float32"), np.array([0, 1]))],
        lambda y, s: {"accuracy": float(np.mean(s.argmax(-1) == y))},
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    cb.set_model(model)
    logs = {}
    cb.on_epoch_end(0, logs)
    cb.history.append({"epoch": 2, "accuracy": 1.0})
    cb.history.append({"epoch": 3, "accuracy": 0.25})
    assert "test_accuracy" in logs and cb.history[0]["epoch"] == 1
    assert cb.best("accuracy") == {"accuracy": 1.0, "epoch": 2}
    assert cb.best("map") is None


def test_augmented_batch_image_reaches_tensorboard_and_png(tmp_path):
    import types

    from keras_maskspec.models import MaskSpecEncoder
    from keras_maskspec.models.presets import get_encoder_preset

    encoder = MaskSpecEncoder(**get_encoder_preset("maskspec_test"))
    model = types.SimpleNamespace(encoder=encoder)
    waves = np.random.default_rng(0).normal(size=(2, 16000)) * 0.1
    png = str(tmp_path / "augmented_batch.png")
    cb = AugmentedBatchImage(waves, np.eye(2), str(tmp_path / "logs"), png)
    cb.set_model(model)
    cb.on_train_begin()
    assert os.path.getsize(png) > 1000
    events = [f for f in os.listdir(tmp_path / "logs") if "tfevents" in f]
    assert events
