"""`maskspec convert`."""

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
