"""`maskspec convert`."""

import json

import numpy as np
import pytest

from tests.cli.helpers import run


def test_convert(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("keras_maskspec.convert")
    rng = np.random.default_rng(0)
    d = 32
    state = {
        "patch_embed.proj.weight": rng.normal(size=(d, 1, 16, 16)),
        "patch_embed.proj.bias": np.zeros(d),
        "cls_token": np.zeros((1, 1, d)),
        "pos_embed": rng.normal(size=(1, 1 + 8 * 6, d)),
        "norm.weight": np.ones(d),
        "norm.bias": np.zeros(d),
    }
    for name, shape in [
        ("norm1.weight", (d,)), ("norm1.bias", (d,)),
        ("attn.qkv.weight", (3 * d, d)), ("attn.qkv.bias", (3 * d,)),
        ("attn.proj.weight", (d, d)), ("attn.proj.bias", (d,)),
        ("norm2.weight", (d,)), ("norm2.bias", (d,)),
        ("mlp.fc1.weight", (64, d)), ("mlp.fc1.bias", (64,)),
        ("mlp.fc2.weight", (d, 64)), ("mlp.fc2.bias", (d,)),
    ]:  # fmt: skip
        state[f"blocks.0.{name}"] = rng.normal(size=shape) * 0.02
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
