"""Callbacks that make a long run watchable and survivable.

- `TrainingMonitor`: adds `lr` and `clips_per_second` to the logs, so the
  progress bar, `metrics.csv` and TensorBoard show them.
- `StopOnNonFiniteLoss`: a NaN/Inf loss ends `fit` with
  `NonFiniteLossError` before the bad weights reach a checkpoint.
- `RunCheckpoint`: `keras.callbacks.BackupAndRestore` with atomic writes
  (a SIGKILL or a full disk at any moment leaves a loadable checkpoint),
  the newest N checkpoints kept plus pinned per-epoch snapshots.
- `EpochCSVLogger`: one row per epoch, rows of re-run epochs replaced, so a
  resumed run never has duplicates.
- `ReconstructionImages`: every N epochs, a picture per example of the
  masked reconstruction in TensorBoard.
- `ValidationMeanAveragePrecision`: exact (masked) mAP, mAUC and d' on
  validation data per epoch for multi-label classifiers.
- `StepLossLogger`: the loss of every step in `steps.csv` (the loss curve
  `plotting.plot_loss` draws).
"""

import csv
import io
import json
import math
import os
import re
import time

import keras
import numpy as np

from keras_maskspec.training import metrics as metrics_lib
from keras_maskspec.utils import atomic_path
from keras_maskspec.utils import atomic_write_text

_CHECKPOINT_FILE = re.compile(r"epoch-(\d{4,})\.weights\.h5")
# `utils.atomic_path` temporaries of checkpoint and metadata writes.
_CHECKPOINT_TEMP = re.compile(
    r"\.(epoch-\d{4,}\.weights\.h5|training_metadata\.json)\..*\.tmp.*"
)


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
    mismatched pair. Here each save writes the epoch's weights to a
    temporary file, flushes it to disk and renames it to
    `epoch-XXXX.weights.h5`; only then is `training_metadata.json`, which
    names that file, atomically replaced. The metadata so only ever points
    at a complete file, and a full disk (or a kill) during a save leaves the
    previous checkpoint as it was. Model weights include the optimizer
    state (moments, iteration count: the learning-rate schedule position)
    and the layers' seed-generator states.

    After a save, older checkpoint files are removed except the newest
    `keep_last` and the pinned ones (every `keep_every`-th epoch). Only
    files this callback names (`epoch-XXXX.weights.h5` and its own
    interrupted temporary files) are ever removed.

    Args:
        backup_dir: str. Folder for checkpoints.
        keep_every: int. Also keep (pin) the weights of every
            `keep_every`-th epoch (0 = none pinned). Defaults to `0`.
        write: bool. `False` on non-chief workers, which restore but never
            write. Defaults to `True`.
        keep_last: int. How many of the newest checkpoints to keep (>= 1).
            Defaults to `2`.

    Examples:
    >>> RunCheckpoint("/tmp/ckpt").latest_epoch()
    0
    >>> RunCheckpoint("/tmp/ckpt", keep_last=3).keep_last
    3
    """

    def __init__(self, backup_dir, keep_every=0, write=True, keep_last=2):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        if int(keep_last) < 1:
            raise ValueError(
                f"`keep_last` must be >= 1. Received: keep_last={keep_last}"
            )
        self.keep_every = int(keep_every or 0)
        self.keep_last = int(keep_last)
        self.write = write

    def metadata(self):
        """The saved `{"epoch", "weights"}` dict, or `None`."""
        if not os.path.exists(self._training_metadata_path):
            return None
        with open(self._training_metadata_path) as f:
            text = f.read()
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(
                f"{self._training_metadata_path} is not valid JSON (it is "
                "written atomically, so something else changed it). "
                f"Received: {text[:80]!r}"
            ) from None

    def latest_epoch(self):
        """Number of epochs the latest checkpoint has finished."""
        meta = self.metadata()
        return int(meta["epoch"]) if meta else 0

    def checkpoint_files(self):
        """`{epoch: file name}` of the checkpoint files in `backup_dir`."""
        files = {}
        if not os.path.isdir(self.backup_dir):
            return files
        for name in os.listdir(self.backup_dir):
            match = _CHECKPOINT_FILE.fullmatch(name)
            if match:
                files[int(match.group(1))] = name
        return files

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

    def _write_weights(self, path):
        """Writes the weights (with optimizer state) to `path`."""
        self.model.save_weights(path)

    def _save_model(self):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        name = f"epoch-{epoch:04d}.weights.h5"
        try:
            # Data first, flushed and renamed; the metadata that points at
            # it last.
            with atomic_path(
                os.path.join(self.backup_dir, name), suffix=".weights.h5"
            ) as tmp:
                self._write_weights(tmp)
            atomic_write_text(
                self._training_metadata_path,
                json.dumps({"epoch": epoch, "weights": name}),
            )
        except OSError as exc:
            previous = self.latest_epoch()
            kept = (
                f"the checkpoint of epoch {previous} is intact and the "
                "same command resumes from it"
                if previous
                else "no earlier checkpoint exists"
            )
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(
                exc.errno,
                f"Could not write the checkpoint of epoch {epoch} to "
                f"{self.backup_dir} ({reason}); {kept}. Free space (or fix "
                "the folder) and run the same command again. Received: "
                f"backup_dir={self.backup_dir!r}",
            ) from exc
        self._prune(epoch)

    def _prune(self, epoch):
        keep = sorted(e for e in self.checkpoint_files() if e <= epoch)
        keep = set(keep[-self.keep_last :]) | {epoch}
        for other, name in self.checkpoint_files().items():
            pinned = self.keep_every and other % self.keep_every == 0
            if other in keep or (pinned and other <= epoch):
                continue
            os.remove(os.path.join(self.backup_dir, name))
        # Temporary files of saves a kill interrupted.
        for name in os.listdir(self.backup_dir):
            if _CHECKPOINT_TEMP.fullmatch(name):
                os.remove(os.path.join(self.backup_dir, name))


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
                    normalize_targets=self.model.normalize_targets,
                    patch_size=self.model.encoder.patch_size,
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


class StepLossLogger(keras.callbacks.Callback):
    """`steps.csv`: the training loss of every step, for the loss curve.

    Keras' batch logs hold the running mean of the epoch so far; the loss
    of the steps since the previous call is recovered from two consecutive
    means (every batch of an epoch has the global batch size, which Keras
    weighs the mean by). With `steps_per_execution > 1` one row covers the
    steps of one call. Rows of epochs that are run again (a resumed run)
    are replaced; the file is rewritten atomically at each epoch end.
    Columns: `epoch` (from 1), `step` (global, from 1), `loss` (of that
    step) and `epoch_mean_loss` (the progress bar's number).

    Args:
        path: str. The CSV file.

    Examples:
    >>> StepLossLogger("/tmp/steps.csv").path
    '/tmp/steps.csv'
    """

    FIELDS = ("epoch", "step", "loss", "epoch_mean_loss")

    def __init__(self, path):
        super().__init__()
        self.path = path
        self._kept = None
        self._rows = []

    def on_epoch_begin(self, epoch, logs=None):
        if self._kept is None:
            self._kept = []
            if os.path.exists(self.path):
                with open(self.path, newline="") as f:
                    self._kept = [
                        r for r in csv.DictReader(f) if int(r["epoch"]) <= epoch
                    ]
        self._kept = [r for r in self._kept if int(r["epoch"]) <= epoch]
        self._rows = []
        self._epoch = epoch
        self._previous = (0, 0.0)
        self._steps = int((self.params or {}).get("steps") or 0)

    def on_train_batch_end(self, batch, logs=None):
        if not logs or "loss" not in logs:
            return
        mean = float(np.asarray(keras.ops.convert_to_numpy(logs["loss"])))
        count = batch + 1
        seen, previous_mean = self._previous
        if count <= seen:
            return
        loss = (count * mean - seen * previous_mean) / (count - seen)
        self._previous = (count, mean)
        epoch = self._epoch
        self._rows.append(
            {
                "epoch": epoch + 1,
                "step": epoch * self._steps + count,
                "loss": loss,
                "epoch_mean_loss": mean,
            }
        )

    def on_epoch_end(self, epoch, logs=None):
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.FIELDS)
        writer.writeheader()
        writer.writerows(self._kept + self._rows)
        atomic_write_text(self.path, text.getvalue())
        self._kept = self._kept + self._rows
        self._rows = []


class AugmentedBatchImage(keras.callbacks.Callback):
    """At the start of training, draws one augmented training batch.

    What the model is fed: each clip's waveform after the data pipeline's
    augmentation (gain, extra augment, roll, waveform mixup) and its
    log-mel (the model's front end, inference mode), with the (mixed)
    label (see `plotting.augmented_batch_figure`). Written to TensorBoard
    as `data/augmented_batch` (step 0) and, with `png_path`, to a PNG.

    Args:
        waveforms: array `(batch, samples)`, one training batch.
        labels: array of its labels, or `None`.
        log_dir: str. TensorBoard folder.
        png_path: str or `None`. Also write the picture here.
        write: bool. `False` on non-chief workers. Defaults to `True`.

    Examples:
    >>> import numpy as np
    >>> cb = AugmentedBatchImage(np.zeros((2, 16000)), None, "/tmp/logs")
    >>> cb.waveforms.shape
    (2, 16000)
    """

    def __init__(self, waveforms, labels, log_dir, png_path=None, write=True):
        super().__init__()
        self.waveforms = np.asarray(waveforms, dtype="float32")
        self.labels = None if labels is None else np.asarray(labels)
        self.log_dir = log_dir
        self.png_path = png_path
        self.write = write

    def on_train_begin(self, logs=None):
        if not self.write or self.waveforms.ndim != 2:
            return
        import tensorflow as tf

        from keras_maskspec.training.plotting import augmented_batch_figure
        from keras_maskspec.training.plotting import figure_to_array

        frontend = self.model.encoder.frontend
        spectrograms = frontend(self.waveforms, training=False)
        figure = augmented_batch_figure(
            self.waveforms,
            keras.ops.convert_to_numpy(spectrograms),
            self.labels,
            frontend.sample_rate,
            frontend.hop_length,
            title="one augmented training batch (what the model is fed)",
        )
        image = figure_to_array(figure, dpi=90)
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            tf.summary.image("data/augmented_batch", image[None], step=0)
        writer.close()
        if self.png_path:
            from keras_maskspec.training.plotting import _pyplot

            _pyplot().imsave(self.png_path, image)


class EpochTestScores(keras.callbacks.Callback):
    """Scores a held-out set after every epoch (the authors' protocol).

    The MaskSpec reference evaluates the test split after each epoch and
    reports the best; recipes report that (`best_over_epochs`) beside the
    final model's score, labelled (`docs/parity.md`, row FT18).

    Args:
        dataset: iterable of `(x, y)` batches.
        score: callable `(y_true, y_score) -> dict of floats`.
        prefix: str. Prefix of the keys added to the epoch logs. Defaults
            to `"test_"`.

    Examples:
    >>> cb = EpochTestScores([], lambda y, s: {"accuracy": 1.0})
    >>> cb.history
    []
    """

    def __init__(self, dataset, score, prefix="test_"):
        super().__init__()
        self.dataset = dataset
        self.score = score
        self.prefix = prefix
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        from keras_maskspec.training.metrics import predict_dataset

        y_true, y_score = predict_dataset(self.model, self.dataset)
        scores = {k: float(v) for k, v in self.score(y_true, y_score).items()}
        self.history.append({"epoch": epoch + 1, **scores})
        if logs is not None:
            logs.update({self.prefix + k: v for k, v in scores.items()})

    def best(self, metric):
        """`{metric: best value, "epoch": its epoch}` (highest), or `None`."""
        rows = [r for r in self.history if np.isfinite(r.get(metric, np.nan))]
        if not rows:
            return None
        row = max(rows, key=lambda r: r[metric])
        return {metric: row[metric], "epoch": row["epoch"]}
