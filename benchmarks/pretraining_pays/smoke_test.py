"""End-to-end smoke run of the pre-training evidence benchmark.

Runs `run.py --smoke` in a subprocess: generates a few clips with the shared
`make_instruments.py`, pre-trains, fine-tunes, probes, sweeps and plots with
tiny models. Skips when the data generator or its synthesiser is missing.

    pytest benchmarks/pretraining_pays/smoke_test.py -m large
"""

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOOLS = Path(
    os.environ.get(
        "MASKSPEC_TOOLS", HERE.parents[1].parent / "shared" / "tools"
    )
)
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)


def _skip_reason():
    # The experiment is a benchmark, not a backend test: run it once per CI
    # run (in the TensorFlow job), always on its default backend.
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return "runs in the TensorFlow job only"
    if not (TOOLS / "make_instruments.py").exists():
        return f"make_instruments.py not found in {TOOLS} (set MASKSPEC_TOOLS)"
    if ctypes.util.find_library("fluidsynth") is None:
        return "libfluidsynth not installed (apt-get install fluidsynth)"
    if not any(Path(p).exists() for p in SOUNDFONTS):
        return "no GM SoundFont (apt-get install fluid-soundfont-gm)"
    return None


@pytest.mark.large
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_smoke_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "run.py"),
            "--smoke",
            "--out",
            str(out),
            "--tools",
            str(TOOLS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    for key in (
        "finetune_scratch",
        "finetune_pretrained",
        "probe_random",
        "probe_pretrained",
    ):
        for stats in results["main"][key].values():
            assert 0.0 <= stats["mean"] <= 1.0
    assert results["sweep"]
    for name in ("results.png", "reconstructions.png", "table.md"):
        assert (out / name).stat().st_size > 0
