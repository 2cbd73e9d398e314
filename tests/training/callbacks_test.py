import csv
import json

import keras
import numpy as np
import pytest

from keras_maskspec.training import EpochCSVLogger
from keras_maskspec.training import NonFiniteLossError
from keras_maskspec.training import RunCheckpoint
from keras_maskspec.training import StopOnNonFiniteLoss
from keras_maskspec.training import TrainingMonitor
from keras_maskspec.training.callbacks import masked_mean_average_precision


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
        x, y, epochs=3, verbose=0, callbacks=[RunCheckpoint(backup)]
    )
    assert len(history.history["loss"]) == 1
    # Optimizer state came back: Adam's iteration count continues.
    assert int(resumed.optimizer.iterations.numpy()) == 3
    assert not (tmp_path / "checkpoints/epoch-0002.weights.h5").exists()


def test_masked_map_matches_sklearn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 5)) < 0.4).astype("float32")
    scores = rng.random((40, 5))
    expected = np.mean(
        [
            sklearn.average_precision_score(labels[:, c], scores[:, c])
            for c in range(5)
        ]
    )
    assert np.isclose(masked_mean_average_precision(labels, scores), expected)
    labels[:10, 0] = -1
    keep = labels[:, 0] >= 0
    first = sklearn.average_precision_score(labels[keep, 0], scores[keep, 0])
    others = [
        sklearn.average_precision_score(labels[:, c], scores[:, c])
        for c in range(1, 5)
    ]
    assert np.isclose(
        masked_mean_average_precision(labels, scores),
        np.mean([first, *others]),
    )
