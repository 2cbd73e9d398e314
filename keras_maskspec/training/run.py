"""Pre-training and fine-tuning runs: `model.fit` in a resumable run dir.

A run directory holds:

```
run_dir/
  config.json      the resolved PretrainConfig / FinetuneConfig
  checkpoints/     training_metadata.json + epoch-XXXX.weights.h5 (atomic)
  metrics.csv      one row per finished epoch (loss, lr, clips_per_second...)
  logs/            TensorBoard: train/, validation/, images/
  model.keras      the final full model (pre-trainer or classifier)
  encoder.keras    the final encoder
```

Running the same command again resumes from the last checkpoint: epoch
counter, optimizer state (with the iteration count that positions the
learning-rate schedule), the layers' random-generator states and the data
order (shuffled per epoch with a seed keyed by the epoch) all continue.
"""

import os
import shutil

import keras
import numpy as np

from keras_maskspec.training import callbacks as cbs
from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.training.config import PretrainConfig
from keras_maskspec.training.config import load_config
from keras_maskspec.training.distribution import get_strategy
from keras_maskspec.training.distribution import is_chief
from keras_maskspec.training.distribution import num_replicas
from keras_maskspec.training.distribution import task_id
from keras_maskspec.training.optimizers import layer_decay_multipliers
from keras_maskspec.training.optimizers import make_adamw
from keras_maskspec.training.optimizers import scaled_learning_rate
from keras_maskspec.training.optimizers import warmup_cosine


def _models():
    # The models import keras_maskspec.training (losses, optimizers), so
    # importing them at module level here would be circular.
    from keras_maskspec import models

    return models


# Fields that may change between a run and its resumption.
_RESUMABLE_CHANGES = ("verbose", "image_every", "num_images", "strategy")


# === Run directory ===


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


def _prepare_run_dir(run_dir, config, resume):
    """Makes the folder, checks a resumed config, writes config.json.

    Returns the folder this process writes to: `run_dir` itself, or
    `run_dir/workers/<task>` on a non-chief multi-worker process.
    """
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, "config.json")
    if is_chief():
        if not resume:
            for name in ("checkpoints", "logs", "workers"):
                shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
            for name in ("metrics.csv", "model.keras", "encoder.keras"):
                if os.path.exists(os.path.join(run_dir, name)):
                    os.remove(os.path.join(run_dir, name))
        elif os.path.exists(path):
            old = load_config(path)
            if type(old) is not type(config):
                raise ValueError(
                    f"{run_dir} holds a {type(old).__name__} run; cannot "
                    f"resume it as a {type(config).__name__} run. Use "
                    f"another run_dir or resume=False. Received: "
                    f"run_dir={run_dir!r}"
                )
            changed = {
                k: (v, getattr(config, k))
                for k, v in old.to_dict().items()
                if k not in _RESUMABLE_CHANGES and getattr(config, k) != v
            }
            if changed:
                raise ValueError(
                    f"{run_dir} was started with another config; resuming "
                    "would mix two runs. Changed fields (old, new): "
                    f"{changed}. Use another run_dir, or resume=False to "
                    f"start over. Received: run_dir={run_dir!r}"
                )
        os.makedirs(run_dir, exist_ok=True)
        config.to_json(path)
        return run_dir
    out = os.path.join(run_dir, "workers", task_id() or "worker")
    os.makedirs(out, exist_ok=True)
    return out


def _save_atomic(model, path):
    tmp = path[: -len(".keras")] + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


# === Data ===


def _is_dataset(data):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TF is a dependency
        return False
    return isinstance(data, tf.data.Dataset)


def _num_examples(arrays):
    import tensorflow as tf

    return int(tf.nest.flatten(arrays)[0].shape[0])


def _epoch_seed(seed, epoch):
    import tensorflow as tf

    return tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)


def _balanced_weights(labels):
    """Inverse class-frequency weight per clip (multi-label: rarest)."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        counts = np.bincount(labels.astype("int64"))
        return 1.0 / counts[labels.astype("int64")]
    positive = labels > 0.5
    counts = np.maximum(positive.sum(0), 1)
    per_class = np.where(positive, 1.0 / counts, 0.0)
    weights = per_class.max(axis=1)
    # Clips with no positive label get the weight of the commonest class.
    return np.where(weights > 0, weights, 1.0 / counts.max())


def _array_epochs(
    arrays,
    batch_size,
    seed,
    first_epoch,
    epochs,
    steps,
    sample_weights=None,
    mixup=None,
):
    """A tf.data stream of `epochs - first_epoch` epochs of `steps` batches.

    Epoch `e` is a permutation (or, with `sample_weights`, a weighted
    draw) seeded by `(seed, e)`: a resumed run sees the same order as an
    uninterrupted one.
    """
    import tensorflow as tf

    from keras_maskspec.data.augment import mixup as mixup_batch

    n = _num_examples(arrays)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, arrays)
    take = steps * batch_size
    if sample_weights is not None:
        logits = tf.math.log(
            tf.convert_to_tensor(
                sample_weights / sample_weights.sum(), tf.float32
            )
        )[None]

    def one_epoch(epoch):
        epoch_seed = tf.stack([tf.cast(seed, tf.int64), epoch])
        if sample_weights is not None:
            indices = tf.random.stateless_categorical(logits, take, epoch_seed)[
                0
            ]
        else:
            order = tf.random.experimental.index_shuffle(
                tf.range(n, dtype=tf.int64),
                epoch_seed,
                n - 1,
            )
            repeats = -(-take // n)
            indices = tf.tile(order, [repeats])[:take]
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(indices, (steps, batch_size))
        )
        ds = batches.map(
            lambda idx: tf.nest.map_structure(
                lambda t: tf.gather(t, idx), tensors
            )
        )
        if mixup is not None:
            alpha, rate = mixup
            ds = ds.enumerate().map(
                lambda i, xy: mixup_batch(
                    xy[0],
                    xy[1],
                    alpha=alpha,
                    rate=rate,
                    seed=tf.stack([epoch_seed[0] * 31 + epoch_seed[1], i]),
                )
            )
        return ds

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    return _with_options(ds).prefetch(2)


def _with_options(ds):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    options.deterministic = True
    return ds.with_options(options)


def _steps_of(data, batch_size, steps_per_epoch, samples=None):
    if steps_per_epoch:
        return int(steps_per_epoch)
    if _is_dataset(data):
        cardinality = int(data.cardinality())
        if cardinality <= 0:
            raise ValueError(
                "The training dataset has no known length (infinite or "
                "unknown cardinality); set `steps_per_epoch` in the config. "
                f"Received: cardinality={cardinality}"
            )
        return cardinality
    steps = (samples or _num_examples(data)) // batch_size
    if steps < 1:
        raise ValueError(
            f"Fewer training examples ({samples or _num_examples(data)}) "
            f"than one global batch ({batch_size}). Lower `batch_size`. "
            f"Received: batch_size={batch_size}"
        )
    return steps


def _dataset_stream(data, first_epoch, epochs, steps):
    """Epoch stream from a dataset or a callable `epoch -> dataset`."""
    if callable(data) and not _is_dataset(data):
        stream = None
        for epoch in range(first_epoch, epochs):
            ds = data(epoch).take(steps)
            stream = ds if stream is None else stream.concatenate(ds)
        return _with_options(stream)
    return _with_options(data.repeat())


def _validation_input(data, batch_size):
    if data is None or _is_dataset(data):
        return data
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _global_batch_size(config, replicas):
    batch = config.batch_size
    if batch % replicas:
        raise ValueError(
            f"The global batch size must split evenly over the {replicas} "
            f"replicas. Received: batch_size={batch}"
        )
    return batch


# === Model pieces ===


def _optimizer(config, global_batch, steps, lr_multipliers=None):
    learning_rate = config.learning_rate or scaled_learning_rate(
        config.base_learning_rate, global_batch
    )
    total = config.epochs * steps
    warmup = min(int(round(config.warmup_epochs * steps)), max(total - 1, 0))
    schedule = warmup_cosine(
        learning_rate,
        warmup_steps=warmup,
        total_steps=total,
        final_learning_rate=config.min_learning_rate,
    )
    kwargs = {}
    if config.clipnorm:
        kwargs["clipnorm"] = config.clipnorm
    if config.ema:
        kwargs.update(use_ema=True, ema_momentum=config.ema_momentum)
    optimizer = make_adamw(
        schedule,
        weight_decay=config.weight_decay,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        lr_multipliers=lr_multipliers,
        **kwargs,
    )
    if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _encoder_kwargs(config, **extra):
    from keras_maskspec.models.presets import get_encoder_preset

    kwargs = {**get_encoder_preset(config.preset), **config.encoder_overrides}
    kwargs.update(extra)
    if config.dtype_policy:
        kwargs["dtype"] = config.dtype_policy
    kwargs.setdefault("seed", config.seed)
    return kwargs


def _build_pretrainer(config):
    encoder = _models().MaskSpecEncoder(**_encoder_kwargs(config))
    return _models().MaskSpecPretrainer(
        encoder,
        decoder_hidden_dim=config.decoder_hidden_dim,
        decoder_num_layers=config.decoder_num_layers,
        decoder_num_heads=config.decoder_num_heads,
        decoder_intermediate_dim=config.decoder_intermediate_dim,
        mask_ratio=config.mask_ratio,
        normalize_targets=config.normalize_targets,
        seed=config.seed,
    )


def _common_callbacks(config, out_dir, global_batch):
    checkpoint = cbs.RunCheckpoint(
        os.path.join(out_dir, "checkpoints"),
        keep_every=config.checkpoint_every
        if isinstance(config.checkpoint_every, int)
        else 0,
    )
    before = [
        cbs.TrainingMonitor(global_batch),
        cbs.StopOnNonFiniteLoss(checkpoint.backup_dir),
    ]
    loggers = [
        cbs.EpochCSVLogger(os.path.join(out_dir, "metrics.csv")),
        keras.callbacks.TensorBoard(
            os.path.join(out_dir, "logs"),
            write_graph=False,
            update_freq="epoch",
            profile_batch=0,
        ),
    ]
    return checkpoint, before, loggers


def _fit(model, config, train, steps, validation, callbacks, first_epoch):
    with_val = {}
    if validation is not None:
        with_val["validation_data"] = validation
    return model.fit(
        train,
        epochs=config.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=False,
        **with_val,
    )


def _image_examples(train_data, validation_data, count):
    source = validation_data if validation_data is not None else train_data
    if count <= 0 or callable(source) or _is_dataset(source):
        if _is_dataset(source) and count > 0:
            batch = next(iter(source))
            batch = batch[0] if isinstance(batch, tuple) else batch
            return np.asarray(batch)[:count]
        return None
    if isinstance(source, (tuple, list)):
        source = source[0]
    return np.asarray(source)[:count]


# === Public API ===


def pretrain(config, train_data, run_dir, validation_data=None, resume=True):
    """Pre-trains a MaskSpec model with `model.fit` in a resumable run dir.

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
        run_dir: str. The run directory (see the module docstring).
        validation_data: optional waveforms array or dataset.
        resume: bool. Continue the run in `run_dir` if there is one
            (`False` deletes its checkpoints, logs and metrics and starts
            over). Defaults to `True`.

    Returns:
        The trained `MaskSpecPretrainer` (also saved as `model.keras`; its
        encoder as `encoder.keras`).

    Examples:
    >>> import tempfile
    >>> import numpy as np
    >>> config = PretrainConfig(
    ...     preset="maskspec_tiny", batch_size=2, epochs=1,
    ...     encoder_overrides={"hidden_dim": 16, "num_layers": 1,
    ...                        "num_heads": 2, "intermediate_dim": 16},
    ...     decoder_hidden_dim=16, decoder_num_layers=1,
    ...     decoder_num_heads=2, decoder_intermediate_dim=16,
    ...     jit_compile=False, verbose=0, image_every=0)
    >>> audio = np.random.default_rng(0).normal(size=(4, 16000))
    >>> model = pretrain(config, audio.astype("float32"), tempfile.mkdtemp())
    >>> model.encoder.hidden_dim
    16
    """
    config = _as_config(config, PretrainConfig)
    out_dir = _prepare_run_dir(run_dir, config, resume)
    keras.utils.set_random_seed(config.seed)
    strategy = get_strategy(config.strategy)
    replicas = num_replicas(strategy)
    global_batch = _global_batch_size(config, replicas)
    steps = _steps_of(train_data, global_batch, config.steps_per_epoch)

    with strategy.scope():
        model = _build_pretrainer(config)
        model.compile(
            optimizer=_optimizer(config, global_batch, steps),
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
        )
        checkpoint, before, loggers = _common_callbacks(
            config, out_dir, global_batch
        )
        first_epoch = min(checkpoint.latest_epoch(), config.epochs)
        if _is_dataset(train_data) or callable(train_data):
            train = _dataset_stream(
                train_data, first_epoch, config.epochs, steps
            )
        else:
            train = _array_epochs(
                np.asarray(train_data, dtype="float32"),
                global_batch,
                config.seed,
                first_epoch,
                config.epochs,
                steps,
            )
        callbacks = before + loggers
        examples = _image_examples(
            train_data, validation_data, config.num_images
        )
        if config.image_every and examples is not None:
            callbacks.append(
                cbs.ReconstructionImages(
                    examples,
                    os.path.join(out_dir, "logs", "images"),
                    config.image_every,
                )
            )
        callbacks.append(checkpoint)
        if first_epoch < config.epochs:
            _fit(
                model,
                config,
                train,
                steps,
                _validation_input(validation_data, global_batch),
                callbacks,
                first_epoch,
            )
        else:
            checkpoint.set_model(model)
            checkpoint.on_train_begin()
    _save_atomic(model, os.path.join(out_dir, "model.keras"))
    _save_atomic(model.encoder, os.path.join(out_dir, "encoder.keras"))
    return model


def _finetune_encoder(config, encoder):
    """The encoder to fine-tune, rebuilt with the run's drop-path/dtype."""
    if encoder is None:
        return _models().MaskSpecEncoder(
            **_encoder_kwargs(config, drop_path_rate=config.drop_path_rate)
        )
    if isinstance(encoder, (str, os.PathLike)):
        encoder = load_encoder(encoder)
    if not isinstance(encoder, _models().MaskSpecEncoder):
        raise ValueError(
            "`encoder` must be a MaskSpecEncoder, a run directory or None. "
            f"Received: encoder={encoder!r}"
        )
    encoder_config = encoder.get_config()
    encoder_config["drop_path_rate"] = config.drop_path_rate
    if config.dtype_policy:
        encoder_config["dtype"] = config.dtype_policy
    rebuilt = _models().MaskSpecEncoder.from_config(encoder_config)
    rebuilt.set_weights(encoder.get_weights())
    return rebuilt


def _build_classifier(config, encoder):
    """The `MaskSpecClassifier` a `FinetuneConfig` describes."""
    return _models().MaskSpecClassifier(
        _finetune_encoder(config, encoder),
        num_classes=config.num_classes,
        multi_label=config.multi_label,
        patchout=config.patchout,
        freq_mask_param=config.freq_mask_param,
        time_mask_param=config.time_mask_param,
        dropout=config.head_dropout,
        seed=config.seed,
    )


def finetune(
    config, encoder, train_data, run_dir, validation_data=None, resume=True
):
    """Fine-tunes a MaskSpec classifier with `model.fit` in a run dir.

    The recipe: layer-wise lr decay, AdamW, warm-up then cosine to
    `min_learning_rate`, drop-path, label smoothing, SpecAugment, patchout
    (all from the config); for array inputs also in-batch mixup and
    class-balanced sampling. Dataset inputs are used as given: mixup,
    balancing, gain and roll then belong to the data pipeline
    (`keras_maskspec.data.classification_dataset`).

    Args:
        config: `FinetuneConfig` (or its dict / JSON path).
        encoder: a `MaskSpecEncoder` (e.g. `pretrainer.encoder`), the path
            of a pre-training run dir, or `None` for random weights. It is
            rebuilt with the config's drop-path rate and dtype policy and
            its weights copied.
        train_data: `(waveforms, labels)` arrays (integer labels, or
            `(n, num_classes)` multi-hot with -1 for unlabelled), a callable
            `epoch -> tf.data.Dataset`, or a `tf.data.Dataset` of
            `(waveform, label)` global batches.
        run_dir: str. The run directory.
        validation_data: optional `(waveforms, labels)` arrays or dataset.
            Arrays add `val_map` (multi-label) to the metrics.
        resume: bool. Defaults to `True`.

    Returns:
        The trained `MaskSpecClassifier` (also `model.keras`; its encoder
        `encoder.keras`).

    Examples:
    >>> import tempfile
    >>> import numpy as np
    >>> config = FinetuneConfig(
    ...     num_classes=2, multi_label=False, batch_size=2, epochs=1,
    ...     preset="maskspec_tiny", patchout=0, mixup_alpha=0.0,
    ...     encoder_overrides={"hidden_dim": 16, "num_layers": 1,
    ...                        "num_heads": 2, "intermediate_dim": 16},
    ...     jit_compile=False, verbose=0)
    >>> x = np.zeros((4, 16000), "float32"); y = np.array([0, 1, 0, 1])
    >>> model = finetune(config, None, (x, y), tempfile.mkdtemp())
    >>> model.predict(x, verbose=0).shape
    (4, 2)
    """
    config = _as_config(config, FinetuneConfig)
    out_dir = _prepare_run_dir(run_dir, config, resume)
    keras.utils.set_random_seed(config.seed)
    strategy = get_strategy(config.strategy)
    replicas = num_replicas(strategy)
    global_batch = _global_batch_size(config, replicas)
    arrays = not (_is_dataset(train_data) or callable(train_data))
    mixup = None
    if arrays:
        x, y = train_data
        x = np.asarray(x, dtype="float32")
        y = np.asarray(y)
        weights = _balanced_weights(y) if config.class_balanced else None
        samples = config.samples_per_epoch or len(x)
        steps = _steps_of(x, global_batch, config.steps_per_epoch, samples)
        if config.mixup_alpha and config.mixup_rate:
            mixup = (float(config.mixup_alpha), float(config.mixup_rate))
    else:
        steps = _steps_of(train_data, global_batch, config.steps_per_epoch)
    one_hot = mixup is not None and not config.multi_label

    def labels(values):
        values = np.asarray(values)
        if one_hot:
            return np.eye(config.num_classes, dtype="float32")[
                values.astype("int64")
            ]
        if config.multi_label:
            return values.astype("float32")
        return values

    with strategy.scope():
        model = _build_classifier(config, encoder)
        multipliers = None
        if config.layer_decay:
            multipliers = layer_decay_multipliers(
                model.encoder, model, config.layer_decay
            )
        # The default loss and metrics take integer ids and one-hot/mixup
        # labels alike, and skip unlabelled (-1) multi-label entries; exact
        # mAP comes from ValidationMeanAveragePrecision.
        model.compile(
            optimizer=_optimizer(config, global_batch, steps, multipliers),
            label_smoothing=config.label_smoothing,
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
        )
        checkpoint, before, loggers = _common_callbacks(
            config, out_dir, global_batch
        )
        first_epoch = min(checkpoint.latest_epoch(), config.epochs)
        if arrays:
            train = _array_epochs(
                (x, labels(y)),
                global_batch,
                config.seed,
                first_epoch,
                config.epochs,
                steps,
                sample_weights=weights,
                mixup=mixup,
            )
        else:
            train = _dataset_stream(
                train_data, first_epoch, config.epochs, steps
            )
        validation = validation_data
        extra = []
        if validation_data is not None and not _is_dataset(validation_data):
            vx, vy = validation_data
            validation = (np.asarray(vx, dtype="float32"), labels(vy))
            if config.multi_label:
                extra.append(
                    cbs.ValidationMeanAveragePrecision(
                        validation[0], vy, batch_size=global_batch
                    )
                )
        callbacks = before + extra + loggers + [checkpoint]
        if first_epoch < config.epochs:
            _fit(
                model,
                config,
                train,
                steps,
                _validation_input(validation, global_batch),
                callbacks,
                first_epoch,
            )
        else:
            checkpoint.set_model(model)
            checkpoint.on_train_begin()
    _save_atomic(model, os.path.join(out_dir, "model.keras"))
    _save_atomic(model.encoder, os.path.join(out_dir, "encoder.keras"))
    return model


def load_run(run_dir):
    """The trained model of a run dir (finished or not).

    A finished run loads `model.keras`; an unfinished one is rebuilt from
    `config.json` and gets the weights of its latest checkpoint (so
    `maskspec show` works while a run is going).

    Args:
        run_dir: str. A directory written by `pretrain` or `finetune`.

    Returns:
        A `MaskSpecPretrainer` or `MaskSpecClassifier`.

    Examples:
    >>> try:
    ...     load_run("/no/such/run")
    ... except FileNotFoundError as e:
    ...     print(str(e).split(":")[0])
    No run in /no/such/run
    """
    run_dir = os.fspath(run_dir)
    final = os.path.join(run_dir, "model.keras")
    if os.path.exists(final):
        return keras.saving.load_model(final)
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No run in {run_dir}: neither model.keras nor config.json. "
            f"Received: run_dir={run_dir!r}"
        )
    config = load_config(path)
    if isinstance(config, PretrainConfig):
        model = _build_pretrainer(config)
    else:
        model = _build_classifier(config, None)
    checkpoint = cbs.RunCheckpoint(os.path.join(run_dir, "checkpoints"))
    meta = checkpoint.metadata()
    if meta is None:
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint yet (no finished epoch). "
            f"Received: run_dir={run_dir!r}"
        )
    model.load_weights(os.path.join(checkpoint.backup_dir, meta["weights"]))
    return model


def load_encoder(run_dir):
    """The `MaskSpecEncoder` of a run dir (`encoder.keras`, else the
    latest checkpoint's).

    Args:
        run_dir: str. A directory written by `pretrain` or `finetune`.

    Examples:
    >>> try:
    ...     load_encoder("/no/such/run")
    ... except FileNotFoundError as e:
    ...     print(str(e).split(":")[0])
    No run in /no/such/run
    """
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, "encoder.keras")
    if os.path.exists(path):
        return keras.saving.load_model(path)
    return load_run(run_dir).encoder
