"""Per-bin statistics files (docs/parity.md rows S1, S1c)."""

import os
import pickle

import numpy as np
import pytest

from keras_maskspec.utils import UnsafeDataError
from keras_maskspec.utils import frame_stats


def _authors_file(path, bins=128):
    """The layout of the authors' `mean_std_128.npy`: `np.save` of a dict
    (a pickled 0-d object array) with float64 scalars and float32 bins."""
    rng = np.random.default_rng(0)
    stats = {
        "all_mean": np.float64(-0.0459),
        "all_std": np.float64(0.712),
        "frame_mean": rng.normal(size=bins).astype(np.float32),
        "frame_std": rng.uniform(0.1, 1.0, bins).astype(np.float32),
    }
    np.save(path, stats)
    return stats


def test_reads_the_authors_pickled_dict_without_running_code(tmp_path):
    path = tmp_path / "mean_std_128.npy"
    stats = _authors_file(path)
    mean, std = frame_stats.load_frame_statistics(path)
    np.testing.assert_array_equal(mean, stats["frame_mean"])
    np.testing.assert_array_equal(std, stats["frame_std"])

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.npy"
    np.save(evil, np.array({"frame_mean": Evil()}, dtype=object))
    with pytest.raises(UnsafeDataError, match="evil.npy"):
        frame_stats.load_frame_statistics(evil)
    assert pickle  # the payload above is a pickle; nothing ran


def test_bundled_audioset_table_has_the_authors_values():
    # Values of the authors' audioset/mean_std_128.npy (fix spec F1).
    mean, std = frame_stats.load_frame_statistics("audioset")
    assert mean.shape == std.shape == (128,)
    np.testing.assert_allclose(
        mean[[0, 60, 127]], [-0.659011, 0.260682, -1.39999], atol=1e-5
    )
    np.testing.assert_allclose(
        std[[0, 60, 127]], [0.680031, 0.737926, 0.042708], atol=1e-6
    )
    assert (std[120:] < 0.05).all()


def test_cache_round_trip_json_and_errors(tmp_path):
    path = tmp_path / frame_stats.FRAME_STATS_FILE
    frame_stats.save_frame_statistics(path, [0.1, 0.2], [1.0, 2.0], num_clips=5)
    mean, std = frame_stats.load_frame_statistics(path)
    np.testing.assert_allclose(mean, [0.1, 0.2])
    assert int(np.load(path)["num_clips"]) == 5
    js = tmp_path / "s.json"
    js.write_text('{"frame_mean": [0, 1], "frame_std": [1, 1]}')
    assert frame_stats.load_frame_statistics(js)[0].tolist() == [0.0, 1.0]
    js.write_text('{"frame_mean": [0, 1], "frame_std": [1, 0]}')
    with pytest.raises(ValueError, match="std > 0"):
        frame_stats.load_frame_statistics(js)
    js.write_text('{"mean": [0]}')
    with pytest.raises(ValueError, match="frame_mean"):
        frame_stats.load_frame_statistics(js)
