"""One switch for data parallelism on every backend.

TensorFlow: the default strategy, `MirroredStrategy` (local GPUs),
`MultiWorkerMirroredStrategy` (from `TF_CONFIG`) or `TPUStrategy`.
JAX: `keras.distribution.DataParallel` over all devices. PyTorch: a single
device (Keras' torch backend has no data-parallel `fit`).

Whatever the backend, the returned object has a `scope()` context manager
to build and compile the model under, and `num_replicas(strategy)` tells
how many replicas share the global batch.
"""

import contextlib
import json
import os

import keras

STRATEGY_NAMES = ("auto", "none", "mirrored", "multiworker", "tpu")


class NoStrategy:
    """Stand-in with a `scope()` for backends/settings without a strategy.

    Examples:
    >>> with NoStrategy().scope():
    ...     pass
    >>> NoStrategy().num_replicas_in_sync
    1
    """

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()

    def __repr__(self):
        return "NoStrategy()"


def _tf_config():
    text = os.environ.get("TF_CONFIG")
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({e}). Received: TF_CONFIG={text!r}"
        ) from e


def _num_workers():
    cluster = _tf_config().get("cluster", {})
    return sum(len(cluster.get(k, ())) for k in ("chief", "worker"))


def get_strategy(name="auto"):
    """Returns the distribution strategy called `name`.

    - `"auto"`: TF: multi-worker when `TF_CONFIG` names more than one
      worker, mirrored when more than one GPU is visible, else the default
      strategy. JAX: `DataParallel` when more than one device is visible.
      Torch: no strategy.
    - `"none"`: the default (single-device) strategy.
    - `"mirrored"`, `"multiworker"`, `"tpu"`: the `tf.distribute` strategy
      (TF backend); under JAX `"mirrored"` and `"multiworker"` mean
      `keras.distribution.DataParallel` (multi-host JAX is initialised with
      `jax.distributed.initialize()` before calling this).

    Args:
        name: str. One of `"auto"`, `"none"`, `"mirrored"`,
            `"multiworker"`, `"tpu"`. Defaults to `"auto"`.

    Returns:
        An object with `scope()`: a `tf.distribute.Strategy`, a
        `keras.distribution.DataParallel` or a `NoStrategy`.

    Examples:
    >>> strategy = get_strategy("none")
    >>> num_replicas(strategy)
    1
    """
    if name not in STRATEGY_NAMES:
        raise ValueError(
            f"Unknown strategy. Available: {list(STRATEGY_NAMES)}. "
            f"Received: name={name!r}"
        )
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tf_strategy(name)
    if backend == "jax":
        return _jax_distribution(name)
    if name in ("auto", "none"):
        return NoStrategy()
    raise ValueError(
        f"Strategy {name!r} needs the TensorFlow or JAX backend; the "
        f"{backend} backend trains on one device. Received: name={name!r}"
    )


def _tf_strategy(name):
    import tensorflow as tf

    if name == "auto":
        if _num_workers() > 1:
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not _tf_config():
            raise ValueError(
                "strategy='multiworker' reads the cluster from the TF_CONFIG "
                "environment variable, which is not set. Received: "
                "TF_CONFIG=None"
            )
        return _multi_worker_strategy(tf)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


_MULTI_WORKER = {}


def _multi_worker_strategy(tf):
    """One `MultiWorkerMirroredStrategy` per process and `TF_CONFIG`.

    Each construction configures the worker's collective runtime and waits
    at a cluster-wide barrier. TensorFlow's guides build the strategy once,
    at program start; a second one in the same process (pre-training then
    fine-tuning in one script, or a caller that asks for the strategy
    before `pretrain` does) would re-run that set-up on a live server. A
    CI run of the two-worker test, whose workers built it twice, hung once;
    the cause was not pinned down. The first strategy is reused instead.
    """
    key = os.environ.get("TF_CONFIG", "")
    if key not in _MULTI_WORKER:
        _patch_multi_worker_mean()
        _MULTI_WORKER[key] = tf.distribute.MultiWorkerMirroredStrategy()
    return _MULTI_WORKER[key]


def _patch_multi_worker_mean():
    """Works around Keras 3.15 failing `fit` under multi-worker TF.

    `keras/src/backend/tensorflow/trainer.py:reduce_per_replica` reduces
    the per-replica (scalar) loss/metric logs with
    `strategy.reduce("MEAN", v, axis=0)`, which raises "Invalid reduction
    dimension 0 for input with 0 dimensions" for scalars. Scalars are
    reduced with `axis=None` instead; everything else is unchanged.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "_maskspec_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not (
            trainer._collective_all_reduce_multi_worker(strategy)
        ):
            return original(values, strategy, reduction)

        def reduce(v):
            first = strategy.experimental_local_results(v)[0]
            axis = 0 if first.shape.rank else None
            return strategy.reduce("MEAN", v, axis=axis)

        return tree.map_structure(reduce, values)

    reduce_per_replica._maskspec_patched = True
    trainer.reduce_per_replica = reduce_per_replica


def _jax_distribution(name):
    devices = keras.distribution.list_devices()
    if name == "none" or (name == "auto" and len(devices) < 2):
        return NoStrategy()
    if name == "tpu":
        devices = keras.distribution.list_devices("tpu")
    return keras.distribution.DataParallel(devices=devices)


def num_replicas(strategy):
    """Number of replicas a strategy splits the global batch over.

    Examples:
    >>> num_replicas(NoStrategy())
    1
    """
    if strategy is None:
        return 1
    if hasattr(strategy, "num_replicas_in_sync"):
        return int(strategy.num_replicas_in_sync)
    mesh = getattr(strategy, "device_mesh", None)
    if mesh is not None:
        return int(mesh.devices.size)
    return 1


def is_chief():
    """Whether this process writes the run directory (multi-worker TF).

    With no `TF_CONFIG`, or as the `chief` / worker 0 without a chief, the
    answer is yes.

    Examples:
    >>> is_chief()
    True
    """
    config = _tf_config()
    task = config.get("task", {})
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind in (None, "chief"):
        return True
    has_chief = bool(config.get("cluster", {}).get("chief"))
    return kind == "worker" and index == 0 and not has_chief


def task_id():
    """`"<type>_<index>"` of this process in `TF_CONFIG`, or `None`."""
    task = _tf_config().get("task")
    if not task:
        return None
    return f"{task.get('type')}_{task.get('index', 0)}"
