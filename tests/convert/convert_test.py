"""Converted MaskSpec / Audio-MAE checkpoints give PyTorch's numbers."""

import argparse
import logging
import os

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keras_maskspec.convert import CheckpointMismatchError
from keras_maskspec.convert import convert_checkpoint
from keras_maskspec.convert import convert_to_run_dir
from keras_maskspec.convert import read_labels
from keras_maskspec.layers.learned_position_embedding import (
    LearnedPositionEmbedding,
)
from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from tests.convert import torch_reference as ref

DIM, DEPTH, HEADS = 32, 2, 2
DDIM, DDEPTH, DHEADS = 32, 1, 2
ATOL = 1e-4


def _waveform(sample_rate, seconds=1.0, batch=2):
    rng = np.random.default_rng(0)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    noise = 0.1 * rng.normal(size=(batch, t.size))
    return (tone[None] + noise).astype("float32")


def _stats():
    rng = np.random.default_rng(1)
    return rng.normal(0.0, 0.3, 128), rng.uniform(0.5, 1.5, 128)


def _save(module, path):
    """Saves as the authors do: {'model': state_dict, 'epoch', 'args'}."""
    torch.save(
        {
            "model": module.state_dict(),
            "epoch": 60,
            "args": argparse.Namespace(model="vit_base_patch16"),
        },
        path,
    )
    return path


def _seeded(cls, *args):
    torch.manual_seed(0)
    module = cls(*args)
    ref.randomize_norms(module, torch.Generator().manual_seed(1))
    return module.eval()


def _maskspec_tokens_to_ours(x, grid):
    """MaskSpec's mel-major tokens -> our time-major order."""
    gf, gt = grid
    b, n, d = x.shape
    return x.reshape(b, gf, gt, d).transpose(0, 2, 1, 3).reshape(b, n, d)


def test_maskspec_pretrained_checkpoint(tmp_path):
    stats = _stats()
    module = _seeded(
        ref.MaskSpecMAE, 96, DIM, DEPTH, HEADS, DDIM, DDEPTH, DHEADS, stats
    )
    path = _save(module, tmp_path / "checkpoint-60.pth")
    wave = _waveform(32000)
    with torch.no_grad():
        latent, pred = (v.numpy() for v in module(torch.from_numpy(wave)))
    stats_dict = {"frame_mean": stats[0], "frame_std": stats[1]}

    model = convert_checkpoint(
        path,
        "maskspec",
        num_heads=HEADS,
        decoder_num_heads=DHEADS,
        frame_stats=stats_dict,
        mask_ratio=0.0,
    )
    assert isinstance(model, MaskSpecPretrainer)
    assert model.encoder.position_embedding_kind == "sincos"
    assert model.encoder.patch_size == (16, 16)
    tokens = model.encoder.predict(wave, verbose=0)
    expected = np.concatenate(
        [latent[:, :1], _maskspec_tokens_to_ours(latent[:, 1:], (8, 6))], 1
    )
    np.testing.assert_allclose(tokens, expected, atol=ATOL)

    # With nothing hidden the decoder sees every token: compare its output
    # patch by patch (their pixel order is (mel, time) inside a patch).
    recon = model.predict(wave, verbose=0)["reconstruction"]
    b, n, _ = pred.shape
    theirs = pred.reshape(b, 8, 6, 16, 16)  # (mel, time) grid and pixels
    theirs = theirs.transpose(0, 2, 1, 4, 3).reshape(b, n, 256)
    np.testing.assert_allclose(recon, theirs, atol=ATOL)


def test_maskspec_finetuned_checkpoint_and_run_dir(tmp_path):
    stats = _stats()
    module = _seeded(ref.MaskSpecViT, 100, DIM, DEPTH, HEADS, 5, stats)
    path = _save(module, tmp_path / "AudioSet_Pretrained_Finetuned.pth")
    np.save(
        tmp_path / "mean_std_128.npy",
        {"frame_mean": stats[0], "frame_std": stats[1]},
        allow_pickle=True,
    )
    wave = _waveform(32000)
    with torch.no_grad():
        expected = module(torch.from_numpy(wave)).numpy()
    names = [f"class {i}" for i in range(5)]

    out = tmp_path / "run"
    model = convert_to_run_dir(
        path,
        "maskspec",
        out,
        labels=names,
        frame_stats=tmp_path / "mean_std_128.npy",
        num_heads=HEADS,
    )
    assert isinstance(model, MaskSpecClassifier)
    assert model.class_names == names
    assert model.encoder.position_embedding_kind == "learned"
    np.testing.assert_allclose(
        model.predict(wave, verbose=0), expected, atol=ATOL
    )
    assert sorted(os.listdir(out)) == [
        "config.json",
        "encoder.keras",
        "labels.txt",
        "model.keras",
    ]
    assert read_labels(str(out / "labels.txt")) == names
    reloaded = keras.saving.load_model(out / "model.keras")
    np.testing.assert_allclose(
        reloaded.predict(wave, verbose=0), expected, atol=ATOL
    )
    encoder = keras.saving.load_model(out / "encoder.keras")
    assert isinstance(encoder.position_embedding, LearnedPositionEmbedding)


def _audiomae_pretrain_module():
    """A 2-block Swin-V2 decoder, 8 x 8 patches, tau and bias non-trivial."""
    module = _seeded(ref.AudioMAEPretrain, 128, DIM, DEPTH, HEADS, DDIM)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for block in module.decoder_blocks:
            block.attn.tau.copy_(
                torch.rand(block.attn.tau.shape, generator=generator) + 0.1
            )
            block.attn.qkv.weight.mul_(3.0)
            block.attn.meta_mlp.fc2.bias.add_(
                torch.randn(HEADS, generator=generator)
            )
    return module


def test_audiomae_pretrained_checkpoint_keeps_swin_decoder(tmp_path):
    module = _audiomae_pretrain_module()
    path = _save(module, tmp_path / "pretrained.pth")
    wave = _waveform(16000)
    with torch.no_grad():
        latent, pred = (v.numpy() for v in module(torch.from_numpy(wave)))

    model = convert_checkpoint(
        path, "audiomae", num_heads=HEADS, mask_ratio=0.0
    )
    assert isinstance(model, MaskSpecPretrainer)
    assert model.decoder_attention == "swinv2"
    assert model.decoder_num_heads == 2  # the size of its tau
    assert tuple(model.decoder_window) == (4, 4)
    assert [
        model.get_layer(f"decoder_layer_{i}").shift_size for i in range(2)
    ] == [(0, 0), (2, 0)]
    # Audio-MAE's decoder table is its (mel, time)-laid-out sin-cos code.
    assert model.decoder_position == "learned"
    assert model.decoder_position_grid == (8, 8)
    encoder = model.encoder
    # Audio-MAE's table is sin-cos for a (mel, time) grid added to
    # time-major tokens: kept as a table, not re-computed.
    assert encoder.position_embedding_kind == "learned"
    assert encoder.position_grid == (8, 8)
    assert encoder.frontend.target_length == 128
    assert encoder.sample_rate == 16000
    np.testing.assert_allclose(
        encoder.predict(wave, verbose=0), latent, atol=ATOL
    )
    # Nothing hidden: the decoder sees every token. Audio-MAE's patches
    # are time-major with (time, mel) pixels, like ours.
    recon = model.predict(wave, verbose=0)["reconstruction"]
    np.testing.assert_allclose(recon, pred, atol=ATOL)

    restored = run_saved(model, tmp_path / "pretrainer.keras")
    np.testing.assert_allclose(
        restored.predict(wave, verbose=0)["reconstruction"], pred, atol=ATOL
    )


def test_audiomae_encoder_only_drops_the_decoder(tmp_path, caplog):
    module = _audiomae_pretrain_module()
    wave = _waveform(16000)
    with torch.no_grad():
        latent, _ = (v.numpy() for v in module(torch.from_numpy(wave)))
    with caplog.at_level(logging.INFO, logger="keras_maskspec.convert"):
        encoder = convert_checkpoint(
            module.state_dict(), "audiomae", num_heads=HEADS, encoder_only=True
        )
    assert "Dropping the decoder" in caplog.text
    assert isinstance(encoder, MaskSpecEncoder)
    np.testing.assert_allclose(
        encoder.predict(wave, verbose=0), latent, atol=ATOL
    )


def test_unknown_decoder_blocks_are_dropped_with_a_warning(caplog):
    module = _audiomae_pretrain_module()
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    state["decoder_blocks.0.attn.relative_position_bias_table"] = np.zeros(
        (49, 2)
    )
    with caplog.at_level(logging.WARNING, logger="keras_maskspec.convert"):
        encoder = convert_checkpoint(state, "audiomae", num_heads=HEADS)
    assert "neither timm ViT blocks nor Audio-MAE's Swin-V2" in caplog.text
    assert isinstance(encoder, MaskSpecEncoder)


def run_saved(model, path):
    model.save(path)
    return keras.saving.load_model(path)


def test_audiomae_finetuned_checkpoint(tmp_path):
    module = _seeded(ref.AudioMAEViT, 112, DIM, DEPTH, HEADS, 7)
    path = _save(module, tmp_path / "finetuned.pth")
    wave = _waveform(16000)
    with torch.no_grad():
        expected = module(torch.from_numpy(wave)).numpy()

    model = convert_checkpoint(path, "audiomae", num_heads=HEADS)
    assert isinstance(model, MaskSpecClassifier)
    assert model.num_classes == 7 and model.multi_label
    np.testing.assert_allclose(
        model.predict(wave, verbose=0), expected, atol=ATOL
    )


def test_refuses_unmatched_missing_and_misshaped_keys():
    torch.manual_seed(0)
    state = ref.AudioMAEViT(112, DIM, DEPTH, HEADS, 7).state_dict()
    state["blocks.0.attn.extra_scale"] = torch.zeros(DIM)
    state["blocks.1.mlp.fc1.bias"] = torch.zeros(3)
    del state["blocks.0.norm2.bias"]
    with pytest.raises(CheckpointMismatchError) as info:
        convert_checkpoint(state, "audiomae", num_heads=HEADS)
    message = str(info.value)
    assert "blocks.0.attn.extra_scale" in message
    assert "blocks.0.norm2.bias" in message
    assert "blocks.1.mlp.fc1.bias (3,) vs (64,)" in message
    assert info.value.unexpected == ["blocks.0.attn.extra_scale"]


def test_requires_num_heads_for_non_standard_width():
    torch.manual_seed(0)
    state = ref.AudioMAEViT(112, DIM, 1, HEADS, 7).state_dict()
    with pytest.raises(ValueError, match="num_heads"):
        convert_checkpoint({"model": state}, "audiomae", num_heads=None)


def test_learned_table_of_another_grid_is_interpolated_and_said(caplog):
    torch.manual_seed(0)
    state = ref.AudioMAEViT(112, DIM, 1, HEADS, 7).state_dict()
    with caplog.at_level(logging.WARNING, logger="keras_maskspec.convert"):
        model = convert_checkpoint(
            state, "audiomae", num_heads=HEADS, time_patches=10
        )
    assert "Interpolated the learned position table" in caplog.text
    assert model.encoder.position_grid == (10, 8)
    assert model.encoder.frontend.target_length == 160
    assert model.predict(_waveform(16000), verbose=0).shape == (2, 7)


def test_maskspec_without_frame_stats_warns(caplog):
    torch.manual_seed(0)
    state = ref.MaskSpecViT(100, DIM, 1, HEADS, 3, _stats()).state_dict()
    with caplog.at_level(logging.WARNING, logger="keras_maskspec.convert"):
        convert_checkpoint(state, "maskspec", num_heads=HEADS)
    assert "mean_std_128.npy" in caplog.text


def test_labels_are_checked_and_read_from_audioset_csv(tmp_path):
    csv = tmp_path / "class_labels_indices.csv"
    csv.write_text(
        'index,mid,display_name\n1,/m/b,"Second, with comma"\n0,/m/a,First\n'
    )
    assert read_labels(csv) == ["First", "Second, with comma"]
    torch.manual_seed(0)
    state = ref.AudioMAEViT(112, DIM, 1, HEADS, 7).state_dict()
    with pytest.raises(ValueError, match="7 classes but 2 labels"):
        convert_checkpoint(state, "audiomae", num_heads=HEADS, labels=csv)


def _maskspec_checkpoint(tmp_path):
    module = _seeded(ref.MaskSpecViT, 100, DIM, DEPTH, HEADS, 5, _stats())
    return _save(module, tmp_path / "finetuned.pth")


def test_cli_frame_stats_never_run_code(tmp_path):
    from tests.cli.helpers import assert_one_line_error
    from tests.cli.helpers import run
    from tests.utils.safe_numpy_test import malicious_npy

    marker = tmp_path / "pwned"
    evil = malicious_npy(tmp_path / "mean_std_128.npy", marker)
    checkpoint = _maskspec_checkpoint(tmp_path)
    out = tmp_path / "run"
    result = run(
        "convert", "--from", "maskspec", checkpoint, "--out", out,
        "--num-heads", HEADS, "--frame-stats", evil,
    )  # fmt: skip
    assert_one_line_error(result, "mean_std_128.npy")
    assert not marker.exists()
    assert not (out / "encoder.keras").exists()


def test_existing_output_needs_overwrite(tmp_path):
    from tests.cli.helpers import assert_one_line_error
    from tests.cli.helpers import run

    checkpoint = _maskspec_checkpoint(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.keras").write_bytes(b"the user's own model")
    args = ["convert", "--from", "maskspec", checkpoint, "--out", out]
    args += ["--num-heads", HEADS]
    assert_one_line_error(run(*args), "not empty (model.keras)")
    assert (out / "model.keras").read_bytes() == b"the user's own model"

    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(5)))
    done = run(*args, "--labels", labels, "--overwrite")
    assert done.exit_code == 0, done.output
    assert sorted(os.listdir(out)) == [
        "config.json",
        "encoder.keras",
        "labels.txt",
        "model.keras",
    ]
    # A second conversion, without labels, into the same folder: refused,
    # then with --overwrite its stale labels.txt goes; no temp files stay.
    assert_one_line_error(run(*args), "--overwrite")
    done = run(*args, "--overwrite")
    assert done.exit_code == 0, done.output
    assert sorted(os.listdir(out)) == [
        "config.json",
        "encoder.keras",
        "model.keras",
    ]
