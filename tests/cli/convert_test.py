"""`maskspec convert`."""

import json

import numpy as np
import pytest

from tests.cli.helpers import run


def test_convert(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras_maskspec.convert")
    from keras_maskspec.convert.convert import _example_state

    # The converter's own example checkpoint: a 1-block, 32-wide Audio-MAE.
    state = _example_state()
    checkpoint = tmp_path / "ckpt.pth"
    torch.save(
        {"model": {k: torch.tensor(v) for k, v in state.items()}},
        str(checkpoint),
    )
    out = tmp_path / "converted"
    result = run(
        "convert", "--from", "audiomae", checkpoint, "--out", out,
        "--num-heads", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "encoder.keras").exists()

    # The same checkpoint as a keras-hub style preset folder: it loads with
    # from_preset and gives the run folder's encoder outputs.
    import keras

    from keras_maskspec.models import MaskSpecEncoder
    from tests.test_case import tone_batch

    preset = tmp_path / "preset"
    result = run(
        "convert", "--from", "audiomae", checkpoint, "--out", preset,
        "--num-heads", 2, "--to", "preset",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(preset folder)" in result.output
    assert sorted(p.name for p in preset.iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    metadata = json.loads((preset / "metadata.json").read_text())
    assert metadata["converted_from"]["source"] == "audiomae"
    loaded = MaskSpecEncoder.from_preset(str(preset))
    from_run = keras.saving.load_model(str(out / "encoder.keras"))
    x = tone_batch(1, 1.0, sample_rate=16000)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), from_run.predict(x, verbose=0), atol=1e-6
    )
