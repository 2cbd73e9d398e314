import numpy as np

from keras_maskspec.layers import SpecAugment
from tests.test_case import run_layer_test
from tests.test_case import to_numpy


def test_identity_at_inference():
    x = np.ones((2, 50, 32), "float32")
    out = run_layer_test(SpecAugment(10, 20, seed=0), x)
    np.testing.assert_array_equal(to_numpy(out), x)


def test_masks_are_contiguous_bounded_and_per_example():
    x = np.ones((64, 100, 64), "float32")
    out = to_numpy(SpecAugment(16, 30, seed=0)(x, training=True))
    zero_frames = (out == 0).all(axis=2)  # whole frames masked
    zero_bins = (out == 0).all(axis=1)  # whole bins masked
    for b in range(64):
        for row, limit in ((zero_frames[b], 30), (zero_bins[b], 16)):
            idx = np.flatnonzero(row)
            assert len(idx) < limit
            if len(idx):
                assert idx[-1] - idx[0] + 1 == len(idx)
    assert len({tuple(r) for r in zero_frames}) > 32
