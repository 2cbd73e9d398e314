"""Run folders: preparing one for a run, loading models back from it.

A run folder holds:

```
run_dir/
  .maskspec-run    the marker: this folder holds a run (written first)
  config.json      the resolved PretrainConfig / FinetuneConfig
  checkpoints/     training_metadata.json + the last epoch-XXXX.weights.h5
                   files (2 by default, plus pinned ones), with optimizer
  metrics.csv      one row per finished epoch (loss, lr, clips_per_second...)
  steps.csv        the loss of every training step (the loss curve)
  logs/            TensorBoard: train/, validation/, images/
  model.keras      the final full model (pre-trainer or classifier),
                   without optimizer state unless asked for
  encoder.keras    the final encoder
  loss.png, reconstruction.png   pictures `maskspec pretrain` draws at the end
```

The program only writes, replaces or moves the entries it owns
(`RUN_ENTRIES`): a folder with other files and no run is refused, the same
call on a run folder resumes it, and starting over (`restart=True`, the
CLI's `--restart`) moves the old run to `<run_dir>.old-<time>`.

`load_model` is the one way to get a model back from disk: a `.keras`
file, or a run folder (finished: its `model.keras`, or `encoder.keras` for
an encoder-only folder; still going: rebuilt from `config.json` with the
newest checkpoint's weights).
"""

import json
import logging
import os
import time

import keras

from keras_maskspec.training.callbacks import RunCheckpoint
from keras_maskspec.training.config import load_config
from keras_maskspec.training.distribution import is_chief
from keras_maskspec.training.distribution import task_id
from keras_maskspec.utils import atomic_write_text

logger = logging.getLogger("keras_maskspec.training")

# Fields that may change between a run and its resumption: how it reports
# and where it runs, how many checkpoints it pins, and `epochs` (a larger
# value extends a finished run; the schedule is stretched to the new end).
RESUMABLE_CHANGES = (
    "verbose",
    "image_every",
    "num_images",
    "strategy",
    "checkpoint_every",
    "epochs",
)
# The file that makes a folder a run folder; written first, before any
# other file of the run.
MARKER = ".maskspec-run"
# Everything a run writes at the top of its folder. Only these are ever
# replaced or moved (by `restart`); nothing is ever deleted, and any other
# file in the folder (the user's) is left alone.
RUN_ENTRIES = (
    MARKER,
    "config.json",
    "metrics.csv",
    "steps.csv",
    "bad_clips.csv",
    "frame_stats.npz",
    "model.keras",
    "encoder.keras",
    "loss.png",
    "reconstruction.png",
    "checkpoints",
    "logs",
    "workers",
)


class RunDirError(ValueError):
    """`run_dir` holds files this program did not write (no run)."""


def _entries(run_dir):
    try:
        return sorted(os.listdir(run_dir))
    except FileNotFoundError:
        return []


def _is_own_temp(name):
    # What `utils.atomic_path` leaves behind when a write is killed.
    return name.startswith(".") and ".tmp" in name


def is_run_dir(run_dir):
    """Whether `run_dir` holds a run this program started.

    A run folder has the `.maskspec-run` marker. A folder written before
    the marker existed counts as a run when its `config.json` has a known
    `kind` and a checkpoint or a final `model.keras` sits beside it.

    Args:
        run_dir: str. A folder.

    Examples:
    >>> import tempfile
    >>> is_run_dir(tempfile.mkdtemp())
    False
    """
    run_dir = os.fspath(run_dir)
    if os.path.isfile(os.path.join(run_dir, MARKER)):
        return True
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return False
    try:
        load_config(path)
    except (ValueError, TypeError, OSError):
        return False
    return os.path.isfile(
        os.path.join(run_dir, "checkpoints", "training_metadata.json")
    ) or os.path.isfile(os.path.join(run_dir, "model.keras"))


def check_run_dir(run_dir):
    """Raises `RunDirError` if `run_dir` holds files but no run.

    Args:
        run_dir: str. A folder (may not exist yet).

    Examples:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_run_dir(folder)  # empty: fine
    >>> open(os.path.join(folder, "thesis.tex"), "w").close()
    >>> try:
    ...     check_run_dir(folder)
    ... except RunDirError as e:
    ...     print("thesis.tex" in str(e))
    True
    """
    run_dir = os.fspath(run_dir)
    # `workers/` may come first: other workers of a multi-worker run make
    # their sub-folders while the chief starts.
    names = [n for n in _entries(run_dir) if n != "workers"]
    if not names or is_run_dir(run_dir):
        return
    shown = ", ".join(names[:8]) + (
        f" and {len(names) - 8} more" if len(names) > 8 else ""
    )
    raise RunDirError(
        f"{run_dir} is not empty and holds no run of keras_maskspec "
        f"(files: {shown}); nothing in it is changed. Choose a new or "
        f"empty folder for the run. Received: run_dir={run_dir!r}"
    )


def move_aside(run_dir):
    """Moves the run in `run_dir` to a new `<run_dir>.old-<time>` folder.

    Only the run's own entries (`RUN_ENTRIES` and interrupted atomic
    writes) move; other files stay where they are, in a folder that is
    again marked as a run folder (a new run, nothing done yet). Nothing is
    deleted.

    Args:
        run_dir: str. A run folder.

    Returns:
        str. The folder the old run now lives in.

    Examples:
    >>> import os, tempfile
    >>> run_dir = os.path.join(tempfile.mkdtemp(), "run")
    >>> os.makedirs(run_dir)
    >>> open(os.path.join(run_dir, MARKER), "w").close()
    >>> open(os.path.join(run_dir, "notes.txt"), "w").close()
    >>> old = move_aside(run_dir)
    >>> sorted(os.listdir(run_dir)), os.listdir(old)
    (['.maskspec-run', 'notes.txt'], ['.maskspec-run'])
    """
    run_dir = os.path.abspath(os.fspath(run_dir))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    old = f"{run_dir}.old-{stamp}"
    suffix = 1
    while os.path.exists(old):
        old = f"{run_dir}.old-{stamp}-{suffix}"
        suffix += 1
    os.makedirs(old)
    # The marker moves last: a kill part-way leaves `run_dir` still a run.
    names = [
        n
        for n in _entries(run_dir)
        if (n in RUN_ENTRIES or _is_own_temp(n)) and n != MARKER
    ]
    if os.path.exists(os.path.join(run_dir, MARKER)):
        names.append(MARKER)
    for name in names:
        os.replace(os.path.join(run_dir, name), os.path.join(old, name))
    _write_marker(run_dir)
    return old


def _write_marker(run_dir, config=None):
    path = os.path.join(run_dir, MARKER)
    if os.path.exists(path):
        return
    marker = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "by": "keras_maskspec",
    }
    if config is not None:
        marker["kind"] = type(config).__name__
    atomic_write_text(path, json.dumps(marker) + "\n")


def prepare(run_dir, config, restart=False):
    """Makes or reopens a run folder, checks a resumed config, writes it.

    - A missing or empty folder: a new run (the `.maskspec-run` marker,
      then `config.json`).
    - A run folder: the same run continues (same config apart from
      `RESUMABLE_CHANGES`; `epochs` may grow past what is done, which
      extends a finished run). A run without a checkpoint yet (it failed
      before its first epoch ended) accepts any config.
    - A folder with other files and no run: `RunDirError` naming them;
      nothing is touched.

    Args:
        run_dir: str. The run folder.
        config: `PretrainConfig` or `FinetuneConfig`.
        restart: bool. Move an existing run aside (`move_aside`, never
            deleted) and start a new one. Defaults to `False`.

    Returns:
        The folder this process writes to: `run_dir` itself, or
        `run_dir/workers/<task>` on a non-chief multi-worker process.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec.training.config import FinetuneConfig
    >>> run_dir = tempfile.mkdtemp()
    >>> prepare(run_dir, FinetuneConfig(num_classes=2)) == run_dir
    True
    >>> sorted(os.listdir(run_dir))
    ['.maskspec-run', 'config.json']
    """
    run_dir = os.fspath(run_dir)
    if not is_chief():
        out = os.path.join(run_dir, "workers", task_id() or "worker")
        os.makedirs(out, exist_ok=True)
        return out
    check_run_dir(run_dir)
    path = os.path.join(run_dir, "config.json")
    if is_run_dir(run_dir):
        if restart:
            old = move_aside(run_dir)
            logger.warning("The previous run in %s moved to %s", run_dir, old)
        elif os.path.exists(path):
            _check_resumable(run_dir, _read_config(path), config)
    os.makedirs(run_dir, exist_ok=True)
    _write_marker(run_dir, config)
    config.to_json(path)
    return run_dir


def _read_config(path):
    try:
        return load_config(path)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{path} cannot be read ({exc}); the run there cannot be "
            "resumed. Pass restart=True (`--restart`) to move it aside. "
            f"Received: path={path!r}"
        ) from None


def artefact_sizes(run_dir):
    """`[(name, bytes)]` of what a run wrote in `run_dir` (folders summed).

    Args:
        run_dir: str. A run folder.

    Examples:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "metrics.csv"), "w") as f:
    ...     _ = f.write("epoch\\n1\\n")
    >>> artefact_sizes(folder)
    [('metrics.csv', 8)]
    """
    run_dir = os.fspath(run_dir)
    sizes = []
    for name in RUN_ENTRIES:
        path = os.path.join(run_dir, name)
        if name == MARKER or not os.path.exists(path):
            continue
        if os.path.isdir(path):
            total = 0
            for folder, _, files in os.walk(path):
                for file in files:
                    total += os.path.getsize(os.path.join(folder, file))
            sizes.append((name + "/", total))
        else:
            sizes.append((name, os.path.getsize(path)))
    return sizes


def finished_epochs(run_dir):
    """Epochs the newest checkpoint of `run_dir` has finished (0: none).

    Examples:
    >>> finished_epochs("/no/such/run")
    0
    """
    return RunCheckpoint(
        os.path.join(os.fspath(run_dir), "checkpoints")
    ).latest_epoch()


def _check_resumable(run_dir, old, config):
    done = finished_epochs(run_dir)
    if not done:
        # Nothing trained yet: the new config simply replaces the old one.
        return
    if type(old) is not type(config):
        raise ValueError(
            f"{run_dir} holds a {type(old).__name__} run; cannot "
            f"resume it as a {type(config).__name__} run. Use "
            f"another run_dir or restart=True (`--restart`, which moves "
            f"the old run aside). Received: run_dir={run_dir!r}"
        )
    if config.epochs < done:
        raise ValueError(
            f"{run_dir} has already finished {done} epochs; epochs="
            f"{config.epochs} would end before that. Use epochs >= {done} "
            f"(a larger value extends the run) or restart=True. "
            f"Received: epochs={config.epochs}"
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
            f"{changed}. Use another run_dir, or restart=True "
            f"(`--restart`, which moves the old run aside) to start over. "
            f"Received: run_dir={run_dir!r}"
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
        run is compiled as it was saved (with its optimizer state only if
        the run was asked to keep it: `save_optimizer=True`).

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
                raise ValueError(f"Cannot load a model from {path}: {e}") from e
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
