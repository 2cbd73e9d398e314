"""Epoch streams for `model.fit`: in-memory arrays and per-epoch datasets.

A training run asks for the epochs it has left, `first_epoch` to `epochs`,
as one `tf.data` stream of global batches. Epoch `e` of an array stream is
a permutation (or a class-balanced weighted draw) seeded by `(seed, e)`,
so a resumed run sees exactly the batches an uninterrupted one would.
Every stream is deterministic and shards by data under `tf.distribute`.
"""

import tensorflow as tf

from keras_maskspec.data import sampling
from keras_maskspec.data.augment import waveform_mixup


def is_dataset(data):
    """Whether `data` is a `tf.data.Dataset`.

    Examples:
    >>> is_dataset(tf.data.Dataset.range(2)), is_dataset([0, 1])
    (True, False)
    """
    return isinstance(data, tf.data.Dataset)


def num_examples(arrays):
    """Length of the first array of a (nested) structure of arrays.

    Examples:
    >>> import numpy as np
    >>> num_examples((np.zeros((5, 3)), np.zeros(5)))
    5
    """
    return int(tf.nest.flatten(arrays)[0].shape[0])


def run_options(ds):
    """`ds`, deterministic and sharded by data across workers.

    Examples:
    >>> run_options(tf.data.Dataset.range(3)).options().deterministic
    True
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    options.deterministic = True
    return ds.with_options(options)


def array_epochs(
    arrays,
    batch_size,
    seed,
    first_epoch,
    epochs,
    steps,
    sample_weights=None,
    mixup=None,
):
    """Epochs `first_epoch .. epochs - 1` of `steps` batches from arrays.

    Epoch `e` is a permutation of the examples (repeated if `steps *
    batch_size` needs more) or, with `sample_weights`, a weighted draw
    without replacement (`sampling.draw_without_replacement`, the rule the
    pipelines use); both are seeded by `(seed, e)`.

    Args:
        arrays: array or (nested) tuple of arrays with a common first
            dimension, e.g. waveforms `(n, samples)` or
            `(waveforms, labels)`.
        batch_size: int. Global batch size.
        seed: int. Data-order seed.
        first_epoch: int. First epoch to yield (a resumed run's).
        epochs: int. One past the last epoch.
        steps: int. Batches per epoch.
        sample_weights: optional array `(n,)` of non-negative draw weights
            (e.g. `class_balanced_weights`). Defaults to `None`.
        mixup: optional `(alpha, rate)` or `(alpha, rate,
            container_samples)`: waveform mixup of `(waveforms, labels)`
            with a partner drawn uniformly from all the arrays (see
            `augment.waveform_mixup`). Defaults to `None`.

    Returns:
        `tf.data.Dataset` of `(epochs - first_epoch) * steps` batches.

    Examples:
    >>> import numpy as np
    >>> ds = array_epochs(np.arange(4), 2, seed=0, first_epoch=0, epochs=2,
    ...                   steps=2)
    >>> batches = [b.numpy().tolist() for b in ds]
    >>> len(batches), sorted(sum(batches[:2], []))
    (4, [0, 1, 2, 3])
    >>> resumed = array_epochs(np.arange(4), 2, seed=0, first_epoch=1,
    ...                        epochs=2, steps=2)
    >>> [b.numpy().tolist() for b in resumed] == batches[2:]
    True
    """
    n = num_examples(arrays)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, arrays)
    take = steps * batch_size
    if mixup is not None:
        alpha, rate, *container = mixup
        container = container[0] if container else None

    def one_epoch(epoch):
        epoch_seed = tf.stack([tf.cast(seed, tf.int64), epoch])
        if sample_weights is not None:
            indices = sampling.draw_without_replacement(
                sample_weights, take, epoch_seed
            )
        else:
            order = tf.random.experimental.index_shuffle(
                tf.range(n, dtype=tf.int64),
                epoch_seed,
                n - 1,
            )
            repeats = -(-take // n)
            indices = tf.tile(order, [repeats])[:take]
        if mixup is None:
            batches = tf.data.Dataset.from_tensor_slices(
                tf.reshape(indices, (steps, batch_size))
            )
            return batches.map(
                lambda idx: tf.nest.map_structure(
                    lambda t: tf.gather(t, idx), tensors
                )
            )
        # The partner is uniform over all examples, as in the reference's
        # `MixupDataset` (not the batch, not the balanced sampler).
        partners = tf.random.stateless_uniform(
            [take], epoch_seed + [0, 7777], maxval=n, dtype=tf.int64
        )

        def mix(i, pair):
            x, y = tensors
            return waveform_mixup(
                tf.gather(x, pair[0]),
                tf.gather(y, pair[0]),
                tf.gather(x, pair[1]),
                tf.gather(y, pair[1]),
                alpha=alpha,
                rate=rate,
                seed=tf.stack([epoch_seed[0] * 31 + epoch_seed[1], i]),
                container_samples=container,
            )

        pairs = tf.data.Dataset.from_tensor_slices(
            tf.stack([indices, partners], axis=1)
        )
        return pairs.enumerate().map(mix).batch(batch_size)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    return run_options(ds).prefetch(2)


def _not_empty(ds, epoch):
    """`ds`, raising at the end of a pass that yielded nothing.

    Guards `repeat()`: without it a pass with fewer readable clips than one
    batch would repeat forever without yielding.
    """

    def raise_empty(e):
        raise ValueError(
            f"Epoch {int(e) + 1} yields no batch: fewer readable clips than "
            "one batch (see the bad clip report)."
        )

    zeros = tf.nest.map_structure(
        lambda s: tf.zeros([d or 0 for d in s.shape], s.dtype),
        ds.element_spec,
    )
    tail = tf.data.Dataset.from_tensors((zeros, tf.constant(False)))
    scanned = (
        ds.map(lambda *e: (e[0] if len(e) == 1 else e, tf.constant(True)))
        .concatenate(tail)
        .scan(
            tf.constant(0, tf.int64),
            lambda n, item: (n + 1, (item[0], item[1], n)),
        )
    )

    def keep(element, real, seen):
        empty = tf.logical_and(tf.logical_not(real), tf.equal(seen, 0))
        ok = tf.cond(
            empty,
            lambda: tf.reshape(
                tf.numpy_function(raise_empty, [epoch], tf.bool), []
            ),
            lambda: tf.constant(True),
        )
        return element, tf.logical_and(ok, real)

    def is_real(element, real):
        return real

    def element_of(element, real):
        return element

    return scanned.map(keep).filter(is_real).map(element_of)


def dataset_epochs(data, first_epoch, epochs, steps):
    """Epochs `first_epoch .. epochs - 1` from a dataset or a callable.

    With a callable, epoch `e` is `data(e)`'s first `steps` batches; when
    bad clips leave one pass short, the epoch is filled from the next pass
    of `data(e)` (reshuffled as each pass is), so every epoch has its
    planned length and never ends with Keras' "ran out of data". Epochs
    are built lazily, one at a time as the stream reaches them (`data` is
    traced once with a scalar int64 tensor `epoch`); a callable that needs
    a Python int is called once per epoch up front instead.

    Args:
        data: a callable `epoch -> tf.data.Dataset` of global batches
            (resumes exactly) or a `tf.data.Dataset` of global batches
            (repeated; a resumed run restarts its iteration).
        first_epoch: int. First epoch to yield.
        epochs: int. One past the last epoch.
        steps: int. Batches per epoch.

    Returns:
        `tf.data.Dataset`.

    Examples:
    >>> ds = dataset_epochs(lambda e: tf.data.Dataset.range(e, e + 9), 1, 3, 2)
    >>> [int(x) for x in ds]
    [1, 2, 2, 3]
    >>> short = dataset_epochs(lambda e: tf.data.Dataset.range(3), 0, 2, 5)
    >>> [int(x) for x in short]
    [0, 1, 2, 0, 1, 0, 1, 2, 0, 1]
    """
    if callable(data) and not is_dataset(data):
        # Not autograph-converted: `data` is plain Python that builds a
        # pipeline (file listing, manifests), run once while tracing.
        @tf.autograph.experimental.do_not_convert
        def one_epoch(epoch):
            # `data(epoch)` seeds its ops from the tensor `epoch`; a global
            # seed of 0 (`keras.utils.set_random_seed(0)`) would make
            # `tf.data` compare that tensor in Python, so the traced
            # function graph gets no graph-level seed of its own.
            tf.compat.v1.get_default_graph().seed = None
            return _not_empty(data(epoch), epoch).repeat().take(steps)

        try:
            stream = tf.data.Dataset.range(first_epoch, epochs).flat_map(
                one_epoch
            )
        except (TypeError, ValueError, NotImplementedError):
            stream = None
            for epoch in range(first_epoch, epochs):
                ds = _not_empty(data(epoch), tf.constant(epoch, tf.int64))
                ds = ds.repeat().take(steps)
                stream = ds if stream is None else stream.concatenate(ds)
        return run_options(stream)
    return run_options(data.repeat())


def batched(data, batch_size):
    """Arrays as a dataset of batches; datasets and `None` pass through.

    Examples:
    >>> import numpy as np
    >>> [b.shape for b in batched(np.zeros((3, 2)), 2)]
    [TensorShape([2, 2]), TensorShape([1, 2])]
    """
    if data is None or is_dataset(data):
        return data
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)
