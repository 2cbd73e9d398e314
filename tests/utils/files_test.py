"""Atomic writes give files the usual permissions (not mkstemp's 0600)."""

import os
import stat

from keras_maskspec.utils import atomic_path
from keras_maskspec.utils import atomic_write_text


def test_atomic_files_get_the_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "config.json", "{}")
        with atomic_path(tmp_path / "model.keras", suffix=".keras") as tmp:
            with open(tmp, "w") as f:
                f.write("x")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(umask)
    expected = stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)
    assert expected == 0o644
    for name in ("config.json", "model.keras"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected
