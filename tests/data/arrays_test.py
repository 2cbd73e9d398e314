import numpy as np
import tensorflow as tf

from keras_maskspec.data import arrays
from keras_maskspec.data import sampling


def _epochs(first_epoch, **kwargs):
    ds = arrays.array_epochs(
        np.arange(6),
        batch_size=3,
        seed=1,
        first_epoch=first_epoch,
        epochs=3,
        steps=2,
        **kwargs,
    )
    return [b.numpy().tolist() for b in ds]


def test_epochs_are_permutations_and_resume_exactly():
    full = _epochs(0)
    assert len(full) == 6
    for epoch in range(3):
        assert sorted(sum(full[2 * epoch : 2 * epoch + 2], [])) == list(
            range(6)
        )
    assert full[:2] != full[2:4]  # a new order every epoch
    assert _epochs(2) == full[4:]
    assert arrays.run_options(tf.data.Dataset.range(1)).options().deterministic


def test_weighted_draw_is_the_pipelines_rule_without_replacement():
    labels = np.array([0] * 30 + [1] * 10)
    weights = sampling.class_balanced_weights(labels)
    ds = arrays.array_epochs(
        (np.arange(40), labels),
        batch_size=5,
        seed=3,
        first_epoch=0,
        epochs=2,
        steps=4,
        sample_weights=weights,
    )
    drawn = np.concatenate([x.numpy() for x, _ in ds])
    for epoch in range(2):
        got = drawn[20 * epoch : 20 * epoch + 20]
        assert len(set(got.tolist())) == 20  # no repeats within an epoch
        # The one rule the tf.data pipelines use (data/sampling.py).
        want = sampling.draw_without_replacement(
            weights, 20, tf.constant([3, epoch], tf.int64)
        )
        np.testing.assert_array_equal(got, want.numpy())


def test_mixup_partner_comes_from_all_arrays_not_the_batch():
    # Batches of one: an in-batch partner could only be the clip itself.
    x = np.stack([np.full(8, i, "float32") for i in range(6)])
    y = np.eye(6, dtype="float32")
    ds = arrays.array_epochs((x, y), 1, 0, 0, 1, 60, mixup=(2.0, 1.0, 32000))
    mixed = [yb.numpy()[0] for _, yb in ds]
    partners = sum(int((m > 0).sum() == 2) for m in mixed)
    assert partners > 40  # mixed with another clip (same clip: 1 in 6)
    for m in mixed:
        np.testing.assert_allclose(m.sum(), 1.0, rtol=1e-6)
        assert m.max() >= 0.5


def test_mixup_blends_labels_and_dataset_epochs():
    x = np.ones((4, 8), "float32")
    y = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    ds = arrays.array_epochs((x, y), 4, 0, 0, 1, 1, mixup=(0.3, 1.0))
    _, mixed = next(iter(ds))
    np.testing.assert_allclose(mixed.numpy().sum(-1), 1.0, rtol=1e-6)
    stream = arrays.dataset_epochs(
        lambda epoch: tf.data.Dataset.from_tensors(epoch).repeat(), 1, 3, 2
    )
    assert [int(v) for v in stream] == [1, 1, 2, 2]
    assert arrays.batched(None, 2) is None
