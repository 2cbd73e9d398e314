"""OpenMIC-2018's `openmic-2018.npz` is read without running its pickle."""

import numpy as np
import pytest

from keras_maskspec.recipes.openmic2018 import read_openmic2018
from keras_maskspec.utils import UnsafeDataError
from tests.utils.safe_numpy_test import malicious_npz


def test_malicious_npz_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    malicious_npz(
        tmp_path / "openmic-2018.npz",
        marker,
        Y_true=np.full((1, 20), 0.5, "float32"),
        Y_mask=np.zeros((1, 20), bool),
    )
    with pytest.raises(UnsafeDataError, match="openmic-2018.npz"):
        read_openmic2018(tmp_path)
    assert not marker.exists()
