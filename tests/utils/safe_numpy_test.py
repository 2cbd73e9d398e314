"""`load_npy`/`load_npz` read data files without running their pickles."""

import os

import numpy as np
import pytest

from keras_maskspec.utils import UnsafeDataError
from keras_maskspec.utils import load_npy
from keras_maskspec.utils import load_npz


class _Evil:
    """Unpickling this calls `os.mkdir(marker)`: it creates the marker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def malicious_npy(path, marker):
    """An `.npy` whose pickle creates `marker` when loaded with pickle."""
    np.save(path, np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    return path


def malicious_npz(path, marker, **arrays):
    """An `.npz` whose `sample_key` pickle creates `marker`."""
    np.savez(path, sample_key=np.array([_Evil(marker)], object), **arrays)
    return path


def test_the_test_file_is_really_malicious(tmp_path):
    # The oracle: numpy's own pickle-enabled loader runs the payload.
    marker = tmp_path / "pwned"
    path = malicious_npy(tmp_path / "evil.npy", marker)
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_malicious_npy_is_refused_naming_the_file(tmp_path):
    marker = tmp_path / "pwned"
    path = malicious_npy(tmp_path / "evil.npy", marker)
    with pytest.raises(UnsafeDataError, match="evil.npy.*mkdir.*refused"):
        load_npy(path)
    assert not marker.exists()


def test_malicious_npz_is_refused_naming_file_and_array(tmp_path):
    marker = tmp_path / "pwned"
    path = malicious_npz(tmp_path / "evil.npz", marker, X=np.zeros(3))
    with pytest.raises(UnsafeDataError, match=r"evil.npz\[sample_key\]"):
        load_npz(path)
    assert not marker.exists()


def test_plain_arrays_strings_and_dicts_are_read(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(
        load_npy(tmp_path / "a.npy"), np.arange(6).reshape(2, 3)
    )
    stats = {"frame_mean": np.zeros(4), "frame_std": np.ones(4), "n": 3}
    np.save(tmp_path / "stats.npy", stats, allow_pickle=True)
    loaded = load_npy(tmp_path / "stats.npy")
    assert sorted(loaded) == ["frame_mean", "frame_std", "n"]
    np.testing.assert_array_equal(loaded["frame_std"], np.ones(4))
    np.savez(
        tmp_path / "d.npz",
        Y=np.eye(2),
        keys=np.array(["000046_3840", "x"], dtype=object),
    )
    data = load_npz(tmp_path / "d.npz")
    assert list(data["keys"]) == ["000046_3840", "x"]
    np.testing.assert_array_equal(data["Y"], np.eye(2))


def test_not_an_npz_names_the_file(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.npz"):
        load_npz(path)
