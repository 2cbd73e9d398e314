"""Callbacks that make a long run watchable and survivable.

- `TrainingMonitor`: adds `lr` and `clips_per_second` to the logs, so the
  progress bar, `metrics.csv` and TensorBoard show them.
- `StopOnNonFiniteLoss`: a NaN/Inf loss ends `fit` with
  `NonFiniteLossError` before the bad weights reach a checkpoint.
- `RunCheckpoint`: `keras.callbacks.BackupAndRestore` with atomic writes
  (a SIGKILL at any moment leaves a loadable checkpoint) and optional
  permanent per-epoch snapshots.
- `EpochCSVLogger`: one row per epoch, rows of re-run epochs replaced, so a
  resumed run never has duplicates.
- `ReconstructionImages`: every N epochs, a picture per example of the
  masked reconstruction in TensorBoard.
- `ValidationMeanAveragePrecision`: exact (masked) mAP, mAUC and d' on
  validation data per epoch for multi-label classifiers.
"""

import csv
import io
import json
import math
import os
import time

import keras
import numpy as np

from keras_maskspec.training import metrics as metrics_lib
from keras_maskspec.utils import atomic_write_text


def _current_learning_rate(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    lr = inner.learning_rate
    return float(keras.ops.convert_to_numpy(lr))


class TrainingMonitor(keras.callbacks.Callback):
    """Adds `lr` and `clips_per_second` to the batch and epoch logs.

    Put it before the loggers in the callback list: Keras hands every
    callback the same `logs` dict, so the progress bar, CSV logger and
    TensorBoard see the added entries. Throughput is measured from the end
    of the first batch of the epoch (which may include compilation) to the
    end of the current one.

    Args:
        batch_size: int. Global batch size (clips per step).

    Examples:
    >>> monitor = TrainingMonitor(batch_size=8)
    >>> monitor.batch_size
    8
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = int(batch_size)
        self._start = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = None
        self._steps = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._start is None:
            self._start = now
            self._first_batch = batch
        self._steps = batch - self._first_batch
        if logs is not None:
            logs["lr"] = _current_learning_rate(self.model)
            logs["clips_per_second"] = self._rate(now)

    def _rate(self, now):
        if self._steps > 0:
            return self._steps * self.batch_size / (now - self._start)
        elapsed = max(now - self._epoch_start, 1e-9)
        return self.batch_size / elapsed

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["lr"] = _current_learning_rate(self.model)
        logs["clips_per_second"] = self._rate(time.perf_counter())


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; the run stopped before saving it."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends `fit` with `NonFiniteLossError` on a NaN/Inf loss.

    Raising (rather than `stop_training`) skips `on_epoch_end`, so the
    checkpoint callbacks never save the broken weights: the last good
    checkpoint stays the one a re-run resumes from.

    Args:
        checkpoint_dir: str or `None`. Named in the error message.

    Examples:
    >>> StopOnNonFiniteLoss("/tmp/run/checkpoints").checkpoint_dir
    '/tmp/run/checkpoints'
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(keras.ops.convert_to_numpy(loss)))
        if math.isfinite(loss):
            return
        where = (
            f"; the last good checkpoint is kept in {self.checkpoint_dir} "
            "and the same command resumes from it"
            if self.checkpoint_dir
            else ""
        )
        raise NonFiniteLossError(
            f"Training stopped: the loss became {loss} at epoch "
            f"{self._epoch + 1}, batch {batch + 1}{where}. Lower the learning "
            "rate, add warm-up or gradient clipping (clipnorm), or use "
            "mixed_bfloat16 instead of mixed_float16. Received: "
            f"loss={loss}"
        )


class RunCheckpoint(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose checkpoint survives a SIGKILL at any moment.

    Keras' callback writes `latest.weights.h5` and then the epoch number;
    a kill in between (or during the first write) leaves a torn or
    mismatched pair. Here each save writes a new weights file, then
    atomically replaces `training_metadata.json`, which names that file:
    the metadata only ever points at a complete file. Older files are
    removed after the switch. Model weights include the optimizer state
    (moments, iteration count: the learning-rate schedule position) and the
    layers' seed-generator states.

    Args:
        backup_dir: str. Folder for checkpoints.
        keep_every: int. Also keep the weights of every `keep_every`-th
            epoch as `epoch-XXXX.weights.h5` (0 = only the latest).
            Defaults to `0`.
        write: bool. `False` on non-chief workers, which restore but never
            write. Defaults to `True`.

    Examples:
    >>> RunCheckpoint("/tmp/ckpt").latest_epoch()
    0
    """

    def __init__(self, backup_dir, keep_every=0, write=True):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.keep_every = int(keep_every or 0)
        self.write = write

    def metadata(self):
        """The saved `{"epoch", "weights"}` dict, or `None`."""
        if not os.path.exists(self._training_metadata_path):
            return None
        with open(self._training_metadata_path) as f:
            return json.load(f)

    def latest_epoch(self):
        """Number of epochs the latest checkpoint has finished."""
        meta = self.metadata()
        return int(meta["epoch"]) if meta else 0

    def on_train_begin(self, logs=None):
        self._load_model()

    def _load_model(self):
        meta = self.metadata()
        if meta is None:
            return
        path = os.path.join(self.backup_dir, meta["weights"])
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(path)
        self.model._initial_epoch = int(meta["epoch"])

    def _save_model(self):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        old = self.metadata()
        name = f"epoch-{epoch:04d}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name))
        atomic_write_text(
            self._training_metadata_path,
            json.dumps({"epoch": epoch, "weights": name}),
        )
        if old and old["weights"] != name:
            previous = int(old["epoch"])
            if not (self.keep_every and previous % self.keep_every == 0):
                path = os.path.join(self.backup_dir, old["weights"])
                if os.path.exists(path):
                    os.remove(path)


class EpochCSVLogger(keras.callbacks.Callback):
    """`metrics.csv` with exactly one row per finished epoch.

    Existing rows are kept; rows of epochs that are run again (a resumed
    run restarts the unfinished epoch) are replaced, not duplicated. The
    whole file is rewritten atomically at each epoch end, so a kill never
    leaves half a row. Epochs are numbered from 1.

    Args:
        path: str. The CSV file.

    Examples:
    >>> EpochCSVLogger("/tmp/metrics.csv").path
    '/tmp/metrics.csv'
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self._rows = None

    def _read(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def on_epoch_begin(self, epoch, logs=None):
        if self._rows is None:
            self._rows = [r for r in self._read() if int(r["epoch"]) <= epoch]

    def on_epoch_end(self, epoch, logs=None):
        if self._rows is None:
            self._rows = []
        row = {"epoch": epoch + 1}
        for key, value in sorted((logs or {}).items()):
            try:
                row[key] = float(np.asarray(keras.ops.convert_to_numpy(value)))
            except (TypeError, ValueError):
                continue
        self._rows = [r for r in self._rows if int(r["epoch"]) != epoch + 1]
        self._rows.append(row)
        fields = ["epoch"]
        for r in self._rows:
            fields += [k for k in r if k not in fields]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(self._rows)
        atomic_write_text(self.path, text.getvalue())


class ReconstructionImages(keras.callbacks.Callback):
    """Every `every` epochs, writes a reconstruction picture per example.

    Each picture (see `plotting.reconstruction_figure`) shows the input
    log-mel, the mask, the reconstruction and the reconstruction pasted
    into the hidden patches, with axes in seconds and mel bins. Pictures go
    to TensorBoard as `reconstruction/example_<i>` (tab "Images"), step =
    epoch number.

    Args:
        waveforms: array `(num_examples, samples)`.
        log_dir: str. TensorBoard folder for the images.
        every: int. Epoch interval (0 = never).
        write: bool. `False` on non-chief workers (they still predict,
            which multi-worker collectives need). Defaults to `True`.

    Examples:
    >>> import numpy as np
    >>> cb = ReconstructionImages(np.zeros((1, 16000)), "/tmp/logs", 5)
    >>> cb.every
    5
    """

    def __init__(self, waveforms, log_dir, every, write=True):
        super().__init__()
        self.waveforms = np.asarray(waveforms, dtype="float32")
        self.log_dir = log_dir
        self.every = int(every or 0)
        self.write = write
        self._writer = None

    def render(self, step):
        """Draws the pictures now and writes them at `step`."""
        from keras_maskspec.training.plotting import figure_to_array
        from keras_maskspec.training.plotting import reconstruction_figure

        spec, mask, recon = self.model.reconstruct(self.waveforms)
        if not self.write:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        frontend = self.model.encoder.frontend
        with self._writer.as_default():
            for i in range(len(spec)):
                fig = reconstruction_figure(
                    spec,
                    mask,
                    recon,
                    frontend.sample_rate,
                    frontend.hop_length,
                    index=i,
                    title=f"example {i}, epoch {step}",
                )
                tf.summary.image(
                    f"reconstruction/example_{i}",
                    figure_to_array(fig)[None],
                    step=step,
                )
        self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        if self.every and (epoch + 1) % self.every == 0:
            self.render(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ValidationMeanAveragePrecision(keras.callbacks.Callback):
    """Adds the exact validation mAP, mAUC and d' to the epoch logs.

    The mAP is `metrics.masked_mean_average_precision` (labels < 0 are
    unknown and left out), computed on the whole validation set, unlike
    streaming Keras metrics that bucket scores. Put it before the loggers
    (`EpochCSVLogger`, `TensorBoard`, `ModelCheckpoint(monitor="val_map")`):
    they read the same `logs` dict afterwards. A value that is undefined
    (no class with a positive, or with a negative for the AUC) is logged as
    `nan` rather than stopping the run.

    Args:
        validation_data: waveforms `(n, samples)` (then `labels` is
            required), or an iterable of `(waveforms, labels)` batches such
            as a `tf.data.Dataset`.
        labels: array `(n, num_classes)`; entries < 0 are unlabelled.
            Only with a waveforms array. Defaults to `None`.
        batch_size: int. Prediction batch size for a waveforms array.
            Defaults to `32`.
        prefix: str. Log key prefix. Defaults to `"val_"` (keys `val_map`,
            `val_mauc`, `val_d_prime`).
        frequency: int. Evaluate every this many epochs. Defaults to `1`.

    Examples:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss="binary_crossentropy")
    >>> x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    >>> y = np.array([[1, 0], [0, 1]] * 4, "float32")
    >>> cb = ValidationMeanAveragePrecision(x, y, batch_size=4)
    >>> history = model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    >>> sorted(k for k in history.history if k.startswith("val_"))
    ['val_d_prime', 'val_map', 'val_mauc']
    """

    def __init__(
        self,
        validation_data,
        labels=None,
        batch_size=32,
        prefix="val_",
        frequency=1,
    ):
        super().__init__()
        if int(frequency) < 1:
            raise ValueError(
                f"`frequency` must be >= 1. Received: frequency={frequency}"
            )
        if labels is None and isinstance(validation_data, np.ndarray):
            raise ValueError(
                "A waveforms array needs its `labels`. Received: "
                f"validation_data.shape={validation_data.shape}, labels=None"
            )
        self.validation_data = validation_data
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = batch_size
        self.prefix = prefix
        self.frequency = int(frequency)

    def _labels_and_scores(self):
        if self.labels is None:
            return metrics_lib.predict_dataset(self.model, self.validation_data)
        scores = self.model.predict(
            self.validation_data, batch_size=self.batch_size, verbose=0
        )
        return self.labels, scores

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.frequency:
            return
        y_true, y_score = self._labels_and_scores()
        values = {"map": float("nan"), "mauc": float("nan")}
        try:
            values["map"] = metrics_lib.masked_mean_average_precision(
                y_true, y_score
            )
            values["mauc"] = metrics_lib.mean_auc(y_true, y_score)
        except ValueError:
            pass
        values["d_prime"] = metrics_lib.d_prime(values["mauc"])
        for key, value in values.items():
            logs[self.prefix + key] = value
