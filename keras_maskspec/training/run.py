"""Pre-training and fine-tuning runs: `model.fit` in a resumable run folder.

`pretrain` and `finetune` say what differs (the model, the labels, the
extra callbacks); `_run` does the rest the same way for both: the run
folder (`run_dir.prepare`), seeds, distribution strategy, AdamW on the
paper's schedule, the epoch stream, callbacks, `fit` and the final saves.

Running the same call again resumes from the last checkpoint: epoch
counter, optimizer state (with the iteration count that positions the
learning-rate schedule), the layers' random-generator states and the data
order (shuffled per epoch with a seed keyed by the epoch) all continue.
The run folder keeps the newest checkpoints (with optimizer state, for
resuming) and a final `model.keras` without optimizer state (unless
`save_optimizer=True`): what a user loads, at a third of the size.
"""

import dataclasses
import os
import sys

import keras
import numpy as np

from keras_maskspec.models.losses import MaskedBinaryCrossentropy
from keras_maskspec.models.optimizers import layer_decay_multipliers
from keras_maskspec.models.optimizers import scheduled_adamw
from keras_maskspec.training import callbacks as cbs
from keras_maskspec.training import run_dir as run_dir_lib
from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.training.config import PretrainConfig
from keras_maskspec.training.distribution import get_strategy
from keras_maskspec.training.distribution import num_replicas
from keras_maskspec.utils import atomic_save_model
from keras_maskspec.utils import load_frame_statistics

# `keras_maskspec.data` (tf.data, so TensorFlow) is imported when a run
# starts, not with this module: `import keras_maskspec` stays TF-free under
# the JAX and torch backends.


def _is_dataset(data):
    # Without TensorFlow loaded nothing can be a tf.data.Dataset.
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def _num_examples(arrays):
    return int(keras.tree.flatten(arrays)[0].shape[0])


@dataclasses.dataclass
class _Saving:
    """How a run treats its folder: see `pretrain`'s arguments."""

    restart: bool = False
    keep_checkpoints: int = 2
    save_optimizer: bool = False


@dataclasses.dataclass
class _Inputs:
    """Training and validation data as `_run` takes them.

    `train` is an array (or tuple of arrays), a `tf.data.Dataset` or a
    callable `epoch -> dataset`; `sample_weights`, `mixup` and `samples`
    apply to arrays only.
    """

    train: object
    validation: object = None
    sample_weights: object = None
    mixup: tuple = None
    samples: int = None

    @property
    def arrays(self):
        return not (_is_dataset(self.train) or callable(self.train))


def _as_config(config, cls):
    if isinstance(config, cls):
        return config
    if isinstance(config, dict):
        return cls.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return cls.from_json(os.fspath(config))
    raise ValueError(
        f"`config` must be a {cls.__name__}, a dict or a JSON path. "
        f"Received: config={config!r}"
    )


def _global_batch_size(config, replicas):
    batch = config.batch_size
    if batch % replicas:
        raise ValueError(
            f"The global batch size must split evenly over the {replicas} "
            f"replicas. Received: batch_size={batch}"
        )
    return batch


def _steps_of(inputs, batch_size, steps_per_epoch):
    if steps_per_epoch:
        return int(steps_per_epoch)
    if _is_dataset(inputs.train):
        cardinality = int(inputs.train.cardinality())
        if cardinality <= 0:
            raise ValueError(
                "The training dataset has no known length (infinite or "
                "unknown cardinality); set `steps_per_epoch` in the config. "
                f"Received: cardinality={cardinality}"
            )
        return cardinality
    samples = inputs.samples or _num_examples(inputs.train)
    if samples // batch_size < 1:
        raise ValueError(
            f"Fewer training examples ({samples}) than one global batch "
            f"({batch_size}). Lower `batch_size`. "
            f"Received: batch_size={batch_size}"
        )
    return samples // batch_size


def _optimizer(config, global_batch, steps, lr_multipliers=None):
    # The schedule may be longer than the run (the authors' pre-training:
    # a 400-epoch cosine stopped after 76 epochs).
    total = (config.schedule_epochs or config.epochs) * steps
    if config.warmup_epochs >= config.epochs:
        # Said out loud: such a run never leaves the warm-up (the learning
        # rate never reaches its peak), which short experiments trip over.
        print(
            f"Note: warmup_epochs={config.warmup_epochs:g} >= "
            f"epochs={config.epochs}: the whole run is linear warm-up and "
            "the learning rate never reaches its peak; lower "
            "`warmup_epochs` for short runs.",
            file=sys.stderr,
        )
    kwargs = {}
    if config.clipnorm:
        kwargs["clipnorm"] = config.clipnorm
    if config.ema:
        kwargs.update(use_ema=True, ema_momentum=config.ema_momentum)
    optimizer = scheduled_adamw(
        learning_rate=config.learning_rate or None,
        base_learning_rate=config.base_learning_rate,
        global_batch_size=global_batch,
        warmup_steps=min(
            int(round(config.warmup_epochs * steps)), max(total - 1, 0)
        ),
        total_steps=total,
        final_learning_rate=config.min_learning_rate,
        weight_decay=config.weight_decay,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        lr_multipliers=lr_multipliers,
        **kwargs,
    )
    if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _common_callbacks(config, out_dir, global_batch, keep_checkpoints=2):
    checkpoint = cbs.RunCheckpoint(
        os.path.join(out_dir, "checkpoints"),
        keep_every=config.checkpoint_every
        if isinstance(config.checkpoint_every, int)
        else 0,
        keep_last=keep_checkpoints,
    )
    before = [
        cbs.TrainingMonitor(global_batch),
        cbs.StopOnNonFiniteLoss(checkpoint.backup_dir),
    ]
    loggers = [
        cbs.EpochCSVLogger(os.path.join(out_dir, "metrics.csv")),
        cbs.StepLossLogger(os.path.join(out_dir, "steps.csv")),
        keras.callbacks.TensorBoard(
            os.path.join(out_dir, "logs"),
            write_graph=False,
            update_freq="epoch",
            profile_batch=0,
        ),
    ]
    return checkpoint, before, loggers


def _streams(config, inputs, global_batch, first_epoch, steps):
    """The remaining epochs' training stream and the validation batches."""
    from keras_maskspec.data import arrays

    if inputs.arrays:
        train = arrays.array_epochs(
            inputs.train,
            global_batch,
            config.seed,
            first_epoch,
            config.epochs,
            steps,
            sample_weights=inputs.sample_weights,
            mixup=inputs.mixup,
        )
    else:
        train = arrays.dataset_epochs(
            inputs.train, first_epoch, config.epochs, steps
        )
    return train, arrays.batched(inputs.validation, global_batch)


def _without_optimizer(model):
    """A copy of `model` with its weights and no optimizer (for saving)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _save_final(model, out_dir, save_optimizer):
    full = model if save_optimizer else _without_optimizer(model)
    atomic_save_model(full, os.path.join(out_dir, "model.keras"))
    atomic_save_model(model.encoder, os.path.join(out_dir, "encoder.keras"))


def _run(config, inputs, run_dir, saving, build, extra_callbacks=None):
    """The part of a run that pre-training and fine-tuning share.

    Args:
        config: `PretrainConfig` or `FinetuneConfig`.
        inputs: `_Inputs`.
        run_dir: str. The run folder.
        saving: `_Saving`. Restart, checkpoints kept, optimizer saved.
        build: callable `() -> (model, compile_kwargs, lr_multipliers)`,
            called under the strategy's scope.
        extra_callbacks: optional callable `(out_dir, global_batch) ->
            list` of callbacks that go before the loggers (so what they
            add to the logs reaches `metrics.csv` and TensorBoard).

    Returns:
        The trained model, also saved as `model.keras` (its encoder as
        `encoder.keras`).
    """
    out_dir = run_dir_lib.prepare(run_dir, config, restart=saving.restart)
    keras.utils.set_random_seed(config.seed)
    strategy = get_strategy(config.strategy)
    global_batch = _global_batch_size(config, num_replicas(strategy))
    steps = _steps_of(inputs, global_batch, config.steps_per_epoch)

    with strategy.scope():
        model, compile_kwargs, lr_multipliers = build()
        model.compile(
            optimizer=_optimizer(config, global_batch, steps, lr_multipliers),
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
            **compile_kwargs,
        )
        checkpoint, before, loggers = _common_callbacks(
            config, out_dir, global_batch, saving.keep_checkpoints
        )
        extra = []
        report = getattr(inputs.train, "bad_clip_report", None)
        if report is not None:
            from keras_maskspec.data import BadClipLogger

            extra.append(
                BadClipLogger(
                    report, csv_path=os.path.join(out_dir, "bad_clips.csv")
                )
            )
        if extra_callbacks is not None:
            extra += extra_callbacks(out_dir, global_batch)
        first_epoch = min(checkpoint.latest_epoch(), config.epochs)
        if first_epoch < config.epochs:
            train, validation = _streams(
                config, inputs, global_batch, first_epoch, steps
            )
            with_val = {}
            if validation is not None:
                with_val["validation_data"] = validation
            model.fit(
                train,
                epochs=config.epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=steps,
                callbacks=before + extra + loggers + [checkpoint],
                verbose=config.verbose,
                shuffle=False,
                **with_val,
            )
        else:
            # A finished run: its last checkpoint, finalised as `fit` ends
            # (EMA weights swapped in), so the saved models stay the same.
            checkpoint.set_model(model)
            checkpoint.on_train_begin()
            model.optimizer.finalize_variable_values(model.trainable_variables)
    _save_final(model, out_dir, saving.save_optimizer)
    return model


def _set_frame_statistics(encoder, config, run_dir, stats_data):
    """Stores `config.frame_stats` in the encoder's front end.

    `"train"` statistics are computed once (one pass over `stats_data`,
    with a progress bar) and cached as `<run_dir>/frame_stats.npz`; a
    resumed run reads them back. Other sources are copied there too, so
    the run folder says what the model was trained with.
    """
    source = config.frame_stats
    frontend = encoder.frontend
    if not source or not hasattr(frontend, "set_statistics"):
        return
    from keras_maskspec.data.normalization import cached_frame_statistics
    from keras_maskspec.data.normalization import compute_frame_statistics

    def compute():
        if source != "train":
            return load_frame_statistics(source)
        if stats_data is None:
            raise ValueError(
                "`frame_stats='train'` needs the training clips without "
                "augmentation: pass `stats_data` (waveform batches), or "
                "set frame_stats to 'audioset', a file or None. Received: "
                "stats_data=None"
            )
        data = stats_data
        if not (_is_dataset(data) or isinstance(data, list)):
            data = [
                np.asarray(data[i : i + config.batch_size], "float32")
                for i in range(0, len(data), config.batch_size)
            ]
        max_batches = -(-int(config.stats_max_clips) // config.batch_size)
        num_samples = None
        if config.stats_clip_seconds:
            num_samples = round(
                config.stats_clip_seconds * config.audio_sample_rate()
            )
        return compute_frame_statistics(
            data,
            frontend,
            max_batches=max_batches,
            verbose=1,
            num_samples=num_samples,
        )

    mean, std = cached_frame_statistics(os.fspath(run_dir), compute)
    frontend.set_statistics(mean, std)


def _check_frame_statistics(encoder, config, train, stats_data):
    """Says on stderr when fixed statistics do not fit the clips (e.g. the
    AudioSet table on full-band recordings: issue 17). Reads a sample of
    the clips only when there are fixed statistics to check."""
    source = config.frame_stats
    frontend = encoder.frontend
    if (
        not source
        or source == "train"
        or not hasattr(frontend, "set_statistics")
    ):
        return
    sample = _waveform_sample(train, stats_data)
    if sample is None:
        return
    from keras_maskspec.data.normalization import check_frame_statistics

    name = source if isinstance(source, str) else None
    message = check_frame_statistics(frontend, sample, name=name)
    if message:
        print(f"Note: {message}", file=sys.stderr)


def _waveform_sample(train, stats_data, count=16):
    """Up to `count` training waveforms (numpy), or `None`."""
    for source in (stats_data, train):
        if source is None or callable(source):
            continue
        if _is_dataset(source):
            batch = _first_batch(source)
            return None if batch is None else batch[0][:count]
        if isinstance(source, list):  # waveform batches
            return np.asarray(source[0], "float32")[:count] if source else None
        return np.asarray(source[:count], "float32")
    return None


def _first_batch(train):
    """One batch of a training dataset as numpy arrays, or `None`."""
    if not _is_dataset(train):
        return None
    batch = next(iter(train.take(1)), None)
    if batch is None:
        return None
    batch = batch if isinstance(batch, (tuple, list)) else (batch,)
    return tuple(np.asarray(b) for b in batch)


def _image_examples(inputs, count):
    source = inputs.validation
    if source is None:
        source = inputs.train
    if count <= 0 or callable(source):
        return None
    if _is_dataset(source):
        batch = next(iter(source))
        batch = batch[0] if isinstance(batch, tuple) else batch
        return np.asarray(batch)[:count]
    if isinstance(source, (tuple, list)):
        source = source[0]
    return np.asarray(source)[:count]


def pretrain(
    config,
    train_data,
    run_dir,
    validation_data=None,
    resume=True,
    restart=False,
    keep_checkpoints=2,
    save_optimizer=False,
    stats_data=None,
):
    """Pre-trains a MaskSpec model with `model.fit` in a resumable run folder.

    Builds `MaskSpecPretrainer` from the config (preset + overrides, dtype
    policy, seed) under the chosen distribution strategy, compiles it with
    AdamW (lr = base_lr x global batch / 256, warm-up then half-cosine to
    `min_learning_rate`, optional EMA, loss scaling for `mixed_float16`)
    and trains it. Killed at any point, the same call resumes where the
    last finished epoch left off.

    Args:
        config: `PretrainConfig` (or its dict / JSON path).
        train_data: the training waveforms `(n, samples)` as a numpy array
            (shuffled per epoch with a seed keyed by the epoch, so a resumed
            run sees the same order), a callable `epoch -> tf.data.Dataset`
            of global batches (e.g. `keras_maskspec.data.
            pretraining_dataset` with `seed=base + epoch`; resumes exactly),
            or a `tf.data.Dataset` of global batches (repeated; a resumed
            run restarts its iteration).
        run_dir: str. The run folder (see `keras_maskspec.training.run_dir`).
        validation_data: optional waveforms array or dataset.
        resume: bool. Kept for compatibility: a run in `run_dir` is
            always continued; `False` is the same as `restart=True`.
            Defaults to `True`.
        restart: bool. Move a run already in `run_dir` aside (to
            `<run_dir>.old-<time>`; nothing is deleted) and start over.
            Defaults to `False`.
        keep_checkpoints: int. Newest checkpoints kept (plus those pinned
            by `config.checkpoint_every`). Defaults to `2`.
        save_optimizer: bool. Include the optimizer state in the final
            `model.keras` (the checkpoints always have it). Defaults to
            `False`.
        stats_data: waveform batches (dataset, list or array) for
            `config.frame_stats="train"`; defaults to `train_data` when it
            is an array. Defaults to `None`.

    Returns:
        The trained `MaskSpecPretrainer` (also saved as `model.keras`; its
        encoder as `encoder.keras`).

    Examples:
    >>> import tempfile
    >>> import numpy as np
    >>> config = PretrainConfig(
    ...     preset="maskspec_test", batch_size=2, epochs=1,
    ...     jit_compile=False, verbose=0, image_every=0)
    >>> audio = np.random.default_rng(0).normal(size=(4, 16000))
    >>> model = pretrain(config, audio.astype("float32"), tempfile.mkdtemp())
    >>> model.encoder.hidden_dim
    32
    """
    config = _as_config(config, PretrainConfig)
    train = train_data
    if not (_is_dataset(train) or callable(train)):
        train = np.asarray(train, dtype="float32")
    inputs = _Inputs(train, validation=validation_data)

    if stats_data is None and not (_is_dataset(train) or callable(train)):
        stats_data = train

    def build():
        model = config.build_model()
        _set_frame_statistics(model.encoder, config, run_dir, stats_data)
        _check_frame_statistics(model.encoder, config, train, stats_data)
        return model, {}, None

    def images(out_dir, global_batch):
        examples = _image_examples(inputs, config.num_images)
        if not config.image_every or examples is None:
            return []
        return [
            cbs.ReconstructionImages(
                examples,
                os.path.join(out_dir, "logs", "images"),
                config.image_every,
            )
        ]

    saving = _Saving(restart or not resume, keep_checkpoints, save_optimizer)
    return _run(config, inputs, run_dir, saving, build, images)


def finetune(
    config,
    encoder,
    train_data,
    run_dir,
    validation_data=None,
    resume=True,
    restart=False,
    keep_checkpoints=2,
    save_optimizer=False,
    stats_data=None,
    callbacks=None,
):
    """Fine-tunes a MaskSpec classifier with `model.fit` in a run folder.

    The recipe: layer-wise lr decay, AdamW, warm-up then cosine to
    `min_learning_rate`, drop-path, label smoothing, SpecAugment, patchout
    (all from the config); for array inputs also in-batch mixup and
    class-balanced sampling (`keras_maskspec.data.class_balanced_weights`).
    Dataset inputs are used as given: mixup, balancing, gain and roll then
    belong to the data pipeline (`keras_maskspec.data.
    classification_dataset`).

    Args:
        config: `FinetuneConfig` (or its dict / JSON path).
        encoder: a `MaskSpecEncoder` (e.g. `pretrainer.encoder`), the path
            of a pre-training run folder or `.keras` file, or `None` for
            random weights. It is rebuilt with the config's drop-path rate
            and dtype policy and its weights copied.
        train_data: `(waveforms, labels)` arrays (integer labels, or
            `(n, num_classes)` multi-hot with -1 for unlabelled), a callable
            `epoch -> tf.data.Dataset`, or a `tf.data.Dataset` of
            `(waveform, label)` global batches.
        run_dir: str. The run folder.
        validation_data: optional `(waveforms, labels)` arrays or dataset.
            Arrays add `val_map` (multi-label) to the metrics.
        resume, restart, keep_checkpoints, save_optimizer: as for
            `pretrain`.
        stats_data: un-augmented training waveform batches for
            `config.frame_stats="train"`; defaults to the training arrays.
            Defaults to `None`.
        callbacks: optional list of extra Keras callbacks (e.g.
            `callbacks.EpochTestScores`). Defaults to `None`.

    Returns:
        The trained `MaskSpecClassifier` (also `model.keras`; its encoder
        `encoder.keras`).

    Examples:
    >>> import tempfile
    >>> import numpy as np
    >>> config = FinetuneConfig(
    ...     num_classes=2, multi_label=False, batch_size=2, epochs=1,
    ...     preset="maskspec_test", patchout=0, mixup_alpha=0.0,
    ...     jit_compile=False, verbose=0)
    >>> x = np.zeros((4, 16000), "float32"); y = np.array([0, 1, 0, 1])
    >>> model = finetune(config, None, (x, y), tempfile.mkdtemp())
    >>> model.predict(x, verbose=0).shape
    (4, 2)
    """
    from keras_maskspec.data.sampling import class_balanced_weights

    config = _as_config(config, FinetuneConfig)
    inputs = _Inputs(train_data, validation=validation_data)
    if inputs.arrays:
        if config.replica_copies > 1:
            raise ValueError(
                "`replica_copies` is applied by the file pipelines "
                "(`classification_dataset(copies=)`, the recipes), not to "
                "in-memory arrays. Received: "
                f"replica_copies={config.replica_copies}"
            )
        x, y = train_data
        y = np.asarray(y)
        if config.class_balanced:
            inputs.sample_weights = class_balanced_weights(
                y, config.num_classes if y.ndim == 1 else None
            )
        if config.mixup_rate:
            # Waveform mixup with a partner from all the arrays.
            inputs.mixup = (
                float(config.wave_mixup_alpha),
                float(config.mixup_rate),
                round(config.container_seconds * config.audio_sample_rate()),
            )
        inputs.samples = config.samples_per_epoch or len(y)
        if stats_data is None:
            stats_data = np.asarray(x, dtype="float32")
    # Waveform or spectrogram mixup blends labels: single-label ids become
    # one-hot.
    one_hot = (inputs.mixup is not None or bool(config.mixup_alpha)) and (
        not config.multi_label
    )

    def labels(values):
        # Integer ids become one-hot when mixup blends them.
        values = np.asarray(values)
        if one_hot:
            return np.eye(config.num_classes, dtype="float32")[
                values.astype("int64")
            ]
        if config.multi_label:
            return values.astype("float32")
        return values

    if inputs.arrays:
        inputs.train = (np.asarray(x, dtype="float32"), labels(y))
    array_validation = validation_data is not None and not (
        _is_dataset(validation_data)
    )
    if array_validation:
        vx, vy = validation_data
        inputs.validation = (np.asarray(vx, dtype="float32"), labels(vy))

    def build():
        start = encoder
        if isinstance(start, (str, os.PathLike)):
            start = run_dir_lib.load_encoder(start)
        model = config.build_model(start)
        _set_frame_statistics(model.encoder, config, run_dir, stats_data)
        multipliers = None
        if config.layer_decay:
            multipliers = layer_decay_multipliers(
                model.encoder, model, config.layer_decay
            )
        # The default loss and metrics take integer ids and one-hot/mixup
        # labels alike, and skip unlabelled (-1) multi-label entries; exact
        # mAP comes from ValidationMeanAveragePrecision.
        compile_kwargs = {"label_smoothing": config.label_smoothing}
        if config.multi_label and config.loss_normalize == "all":
            compile_kwargs["loss"] = MaskedBinaryCrossentropy(
                label_smoothing=config.label_smoothing, normalize="all"
            )
        return model, compile_kwargs, multipliers

    def validation_map(out_dir, global_batch):
        extra = list(callbacks or [])
        batch = _first_batch(inputs.train)
        if batch is not None:
            extra.append(
                cbs.AugmentedBatchImage(
                    batch[0][:8],
                    batch[1][:8] if len(batch) > 1 else None,
                    os.path.join(out_dir, "logs", "images"),
                    os.path.join(out_dir, "augmented_batch.png"),
                )
            )
        if not (array_validation and config.multi_label):
            return extra
        return extra + [
            cbs.ValidationMeanAveragePrecision(
                inputs.validation[0], vy, batch_size=global_batch
            )
        ]

    saving = _Saving(restart or not resume, keep_checkpoints, save_optimizer)
    return _run(config, inputs, run_dir, saving, build, validation_map)
