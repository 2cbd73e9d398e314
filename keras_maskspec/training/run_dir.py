"""Run folders: preparing one for a run, loading models back from it.

A run folder holds:

```
run_dir/
  config.json      the resolved PretrainConfig / FinetuneConfig
  checkpoints/     training_metadata.json + epoch-XXXX.weights.h5 (atomic)
  metrics.csv      one row per finished epoch (loss, lr, clips_per_second...)
  logs/            TensorBoard: train/, validation/, images/
  model.keras      the final full model (pre-trainer or classifier)
  encoder.keras    the final encoder
```

`load_model` is the one way to get a model back from disk: a `.keras`
file, or a run folder (finished: its `model.keras`, or `encoder.keras` for
an encoder-only folder; still going: rebuilt from `config.json` with the
newest checkpoint's weights).
"""

import os
import shutil

import keras

from keras_maskspec.training.callbacks import RunCheckpoint
from keras_maskspec.training.config import load_config
from keras_maskspec.training.distribution import is_chief
from keras_maskspec.training.distribution import task_id

# Fields that may change between a run and its resumption.
RESUMABLE_CHANGES = ("verbose", "image_every", "num_images", "strategy")
_OUTPUTS = ("metrics.csv", "model.keras", "encoder.keras")
_FOLDERS = ("checkpoints", "logs", "workers")


def prepare(run_dir, config, resume=True):
    """Makes the run folder, checks a resumed config, writes config.json.

    Args:
        run_dir: str. The run folder.
        config: `PretrainConfig` or `FinetuneConfig`.
        resume: bool. `False` deletes the folder's checkpoints, logs,
            metrics and models first. With `True` an existing run must have
            been started with the same kind of config and the same values
            (apart from `RESUMABLE_CHANGES`). Defaults to `True`.

    Returns:
        The folder this process writes to: `run_dir` itself, or
        `run_dir/workers/<task>` on a non-chief multi-worker process.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec.training.config import FinetuneConfig
    >>> run_dir = tempfile.mkdtemp()
    >>> prepare(run_dir, FinetuneConfig(num_classes=2)) == run_dir
    True
    >>> os.listdir(run_dir)
    ['config.json']
    """
    run_dir = os.fspath(run_dir)
    if not is_chief():
        out = os.path.join(run_dir, "workers", task_id() or "worker")
        os.makedirs(out, exist_ok=True)
        return out
    path = os.path.join(run_dir, "config.json")
    if not resume:
        for name in _FOLDERS:
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
        for name in _OUTPUTS:
            if os.path.exists(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
    elif os.path.exists(path):
        _check_resumable(run_dir, load_config(path), config)
    os.makedirs(run_dir, exist_ok=True)
    config.to_json(path)
    return run_dir


def _check_resumable(run_dir, old, config):
    if type(old) is not type(config):
        raise ValueError(
            f"{run_dir} holds a {type(old).__name__} run; cannot "
            f"resume it as a {type(config).__name__} run. Use "
            f"another run_dir or resume=False. Received: "
            f"run_dir={run_dir!r}"
        )
    new = config.resolved()
    changed = {
        k: (v, new[k])
        for k, v in old.resolved().items()
        if k not in RESUMABLE_CHANGES and new[k] != v
    }
    if changed:
        raise ValueError(
            f"{run_dir} was started with another config; resuming "
            "would mix two runs. Changed fields (old, new): "
            f"{changed}. Use another run_dir, or resume=False to "
            f"start over. Received: run_dir={run_dir!r}"
        )


def load_run(run_dir):
    """The config and the trained model of a run folder (finished or not).

    A finished run loads `model.keras`; an unfinished one is rebuilt from
    `config.json` and gets the weights of its newest checkpoint (so a
    model can be looked at while its run is going).

    Args:
        run_dir: str. A folder written by `pretrain` or `finetune`.

    Returns:
        `(config, model)`: a `PretrainConfig` and `MaskSpecPretrainer`, or
        a `FinetuneConfig` and `MaskSpecClassifier` (`config` is `None`
        for a folder with only a `model.keras`). The model of a finished
        run is compiled as it was saved (optimizer state included).

    Examples:
    >>> try:
    ...     load_run("/no/such/run")
    ... except FileNotFoundError as e:
    ...     print(str(e).split(":")[0])
    No run in /no/such/run
    """
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, "config.json")
    final = os.path.join(run_dir, "model.keras")
    config = load_config(path) if os.path.exists(path) else None
    if os.path.exists(final):
        return config, keras.saving.load_model(final)
    if config is None:
        raise FileNotFoundError(
            f"No run in {run_dir}: neither model.keras nor config.json. "
            f"Received: run_dir={run_dir!r}"
        )
    model = config.build_model()
    checkpoint = RunCheckpoint(os.path.join(run_dir, "checkpoints"))
    meta = checkpoint.metadata()
    if meta is None:
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint yet (no finished epoch). "
            f"Received: run_dir={run_dir!r}"
        )
    model.load_weights(os.path.join(checkpoint.backup_dir, meta["weights"]))
    return config, model


def load_model(path, compile=False):
    """The one model loader: a `.keras` file or a run folder.

    Args:
        path: str. A `.keras` file (a full model or an encoder), or a
            folder: its `model.keras`, else its `encoder.keras` (an
            encoder-only folder, e.g. converted weights), else the model of
            an unfinished run rebuilt from `config.json` with the newest
            checkpoint's weights.
        compile: bool. Restore the training configuration (optimizer,
            loss) of a `.keras` file. Defaults to `False`.

    Returns:
        `keras.Model`: a `MaskSpecPretrainer`, `MaskSpecClassifier` or
        `MaskSpecEncoder`.

    Examples:
    >>> try:
    ...     load_model("/no/such/model.keras")
    ... except ValueError as e:
    ...     print(str(e).split(":")[0])
    No such file or folder
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(
            f"No such file or folder: {path}. Received: path={path!r}"
        )
    if os.path.isfile(path) and path.endswith(".keras"):
        return keras.saving.load_model(path, compile=compile)
    if os.path.isdir(path):
        for name in ("model.keras", "encoder.keras"):
            file = os.path.join(path, name)
            if os.path.exists(file):
                return keras.saving.load_model(file, compile=compile)
        if os.path.exists(os.path.join(path, "config.json")):
            try:
                return load_run(path)[1]
            except FileNotFoundError as e:
                raise ValueError(
                    f"Cannot load a model from {path}: {e}"
                ) from e
        raise ValueError(
            f"No run in {path}: no model.keras, encoder.keras or "
            f"config.json. Received: path={path!r}"
        )
    raise ValueError(
        f"Cannot load a model from {path}: expected a .keras file or a run "
        f"folder. Received: path={path!r}"
    )


def load_encoder(path):
    """The `MaskSpecEncoder` of a run folder or a `.keras` file.

    A run folder gives its `encoder.keras`, else its model's encoder (the
    newest checkpoint's while the run is going); a `.keras` file gives the
    encoder it holds or the encoder of the model it holds.

    Args:
        path: str. A run folder or a `.keras` file.

    Examples:
    >>> try:
    ...     load_encoder("/no/such/run")
    ... except ValueError as e:
    ...     print(str(e).split(":")[0])
    No such file or folder
    """
    path = os.fspath(path)
    encoder_path = os.path.join(path, "encoder.keras")
    if os.path.isdir(path) and os.path.exists(encoder_path):
        return keras.saving.load_model(encoder_path, compile=False)
    model = load_model(path)
    return getattr(model, "encoder", model)
