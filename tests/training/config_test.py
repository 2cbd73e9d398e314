import dataclasses
import json

import numpy as np
import pytest

from keras_maskspec.training import FinetuneConfig
from keras_maskspec.training import PretrainConfig
from keras_maskspec.training import RunConfig
from keras_maskspec.training import load_config


def test_paper_defaults():
    config = PretrainConfig()
    assert config.pretrainer_kwargs()["mask_ratio"] == 0.75
    assert config.batch_size == 512
    assert (config.beta_2, config.weight_decay) == (0.95, 0.05)
    assert config.warmup_epochs == 40
    ft = FinetuneConfig()
    assert (ft.layer_decay, ft.drop_path_rate, ft.warmup_epochs) == (
        0.75,
        0.1,
        5,
    )
    assert (ft.freq_mask_param, ft.time_mask_param) == (48, 192)
    assert ft.min_learning_rate == 1e-6


@pytest.mark.parametrize("cls", [PretrainConfig, FinetuneConfig])
def test_json_round_trip(cls, tmp_path):
    config = cls(encoder_overrides={"hidden_dim": 32}, mixed_precision=None)
    path = tmp_path / "config.json"
    config.to_json(path)
    assert cls.from_json(str(path)) == config
    assert cls.from_json(config.to_json()) == config
    assert load_config(path) == config


def test_replace_and_errors():
    config = PretrainConfig()
    assert config.replace(epochs=3).epochs == 3
    assert config.epochs == 76  # the authors stop after 76 epochs
    with pytest.raises(ValueError, match="Unknown PretrainConfig fields"):
        config.replace(epoch=3)
    with pytest.raises(ValueError, match="mixed_precision="):
        PretrainConfig(mixed_precision="fp16")
    with pytest.raises(ValueError, match="strategy="):
        PretrainConfig(strategy="horovod")
    with pytest.raises(ValueError, match="mask_ratio="):
        PretrainConfig(mask_ratio=1.0)
    with pytest.raises(ValueError, match="mixup_rate="):
        FinetuneConfig(mixup_rate=2.0)
    with pytest.raises(ValueError, match="not a FinetuneConfig"):
        FinetuneConfig.from_json(PretrainConfig().to_json())


def test_dtype_policy():
    assert PretrainConfig().dtype_policy is None
    assert (
        PretrainConfig(mixed_precision="mixed_bfloat16").dtype_policy
        == "mixed_bfloat16"
    )


def test_configs_share_one_base():
    shared = {f.name for f in dataclasses.fields(RunConfig)}
    assert len(shared) >= 20
    for cls in (PretrainConfig, FinetuneConfig):
        assert issubclass(cls, RunConfig)
        assert shared <= {f.name for f in dataclasses.fields(cls)}
    # The base validates for both kinds.
    with pytest.raises(ValueError, match="batch_size=0"):
        FinetuneConfig(batch_size=0)
    with pytest.raises(ValueError, match="warmup_epochs=-1"):
        PretrainConfig(warmup_epochs=-1)
    with pytest.raises(TypeError):
        FinetuneConfig(50)  # keyword arguments only


def test_decoder_sizes_come_from_the_preset():
    config = PretrainConfig(preset="maskspec_test")
    assert config.decoder_hidden_dim is None
    assert config.decoder_kwargs()["decoder_hidden_dim"] == 32
    assert PretrainConfig().decoder_kwargs()["decoder_hidden_dim"] == 512
    changed = config.replace(decoder_num_layers=2).decoder_kwargs()
    assert changed["decoder_num_layers"] == 2
    model = config.build_model()
    assert model.encoder.hidden_dim == 32
    assert model.decoder_hidden_dim == 32


def test_old_config_files_still_load(tmp_path):
    # A config.json written before the shared base (decoder sizes and
    # every field spelled out, fields in the old order).
    old = {
        "kind": "PretrainConfig",
        "preset": "maskspec_tiny",
        "encoder_overrides": {"hidden_dim": 32},
        "decoder_hidden_dim": 512,
        "decoder_num_layers": 8,
        "decoder_num_heads": 16,
        "decoder_intermediate_dim": 2048,
        "mask_ratio": 0.75,
        "normalize_targets": True,
        "sample_rate": 32000,
        "clip_seconds": 10.0,
        "epochs": 80,
        "warmup_epochs": 40,
        "batch_size": 512,
        "steps_per_epoch": None,
        "base_learning_rate": 0.001,
        "learning_rate": None,
        "min_learning_rate": 1e-06,
        "weight_decay": 0.05,
        "beta_1": 0.9,
        "beta_2": 0.95,
        "clipnorm": None,
        "mixed_precision": None,
        "jit_compile": "auto",
        "steps_per_execution": 1,
        "strategy": "auto",
        "ema": False,
        "ema_momentum": 0.9999,
        "seed": 0,
        "image_every": 5,
        "num_images": 2,
        "checkpoint_every": "epoch",
        "verbose": "auto",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    config = load_config(path)
    assert isinstance(config, PretrainConfig)
    assert config.decoder_hidden_dim == 512
    # Fields added since keep the old meaning (schedule = the run, no
    # per-bin statistics).
    assert config.schedule_epochs is None and config.frame_stats is None
    new = PretrainConfig(
        preset="maskspec_tiny", encoder_overrides={"hidden_dim": 32},
        epochs=80, min_learning_rate=1e-6, schedule_epochs=None,
        frame_stats=None,
    )  # fmt: skip
    assert config.resolved() == new.resolved()
    finetune = FinetuneConfig(num_classes=10).to_dict()
    finetune["kind"] = "FinetuneConfig"
    path.write_text(json.dumps(finetune))
    assert load_config(path) == FinetuneConfig(num_classes=10)


def _lr_at(config, epoch, steps=10, global_batch=None):
    from keras_maskspec.training import run

    optimizer = run._optimizer(config, global_batch or config.batch_size, steps)
    return float(optimizer._learning_rate(int(round(epoch * steps))))


def _reference_lr(t, peak, warmup, total, floor):
    # The authors' utils/lr_sched.py, per step (t in epochs).
    if t < warmup:
        return peak * t / warmup
    return floor + (peak - floor) * 0.5 * (
        1 + np.cos(np.pi * (t - warmup) / (total - warmup))
    )


def test_pretraining_schedule_is_the_authors_400_epoch_cosine():
    config = PretrainConfig()
    assert (config.epochs, config.schedule_epochs) == (76, 400)
    assert config.min_learning_rate == 0.0
    oracle = {10: 5.0e-4, 20: 1.0e-3, 40: 2.0e-3, 61: 1.98325e-3,
              76: 1.95106e-3, 100: 1.86603e-3}  # fmt: skip
    for epoch, want in oracle.items():
        got = _lr_at(config, epoch)
        np.testing.assert_allclose(got, want, rtol=2e-4)
        np.testing.assert_allclose(
            got, _reference_lr(epoch, 2e-3, 40, 400, 0.0), rtol=1e-4
        )
    with pytest.raises(ValueError, match="schedule_epochs"):
        PretrainConfig(epochs=500)


def test_finetuning_schedule_matches_the_authors_esc50_numbers():
    config = FinetuneConfig(num_classes=50, multi_label=False)
    assert config.schedule_epochs is None  # the schedule ends with the run
    oracle = {2.5: 1.25e-4, 5: 2.5e-4, 40: 1.3851e-4, 80: 1e-6}
    for epoch, want in oracle.items():
        np.testing.assert_allclose(_lr_at(config, epoch), want, rtol=2e-4)


def test_learned_position_table_from_the_config():
    config = FinetuneConfig(
        preset="maskspec_test", num_classes=3, multi_label=False,
        clip_seconds=1.0, position_embedding="learned",
    )  # fmt: skip
    assert FinetuneConfig.from_json(config.to_json()) == config
    model = config.build_model()
    assert model.position_embedding == "learned"
    encoder = model.encoder
    # The table covers exactly the patch grid of a `clip_seconds` clip.
    samples = int(config.clip_seconds * encoder.sample_rate)
    assert (
        model.position_time_patches * encoder.mel_patches()
        == encoder.num_patches(samples)
    )
    assert FinetuneConfig(preset="maskspec_test").build_model(
    ).position_embedding == "sincos"  # fmt: skip
    with pytest.raises(ValueError, match="position_embedding"):
        FinetuneConfig(position_embedding="rope")


def test_masking_and_decoder_attention_reach_the_pretrainer():
    # The preset's own settings (Audio-MAE's), without building ViT-B.
    audiomae = PretrainConfig(preset="audiomae_base").pretrainer_kwargs()
    assert audiomae == {
        "mask_ratio": 0.8, "masking": "random", "decoder_attention": "swinv2",
        "decoder_window": (4, 4), "decoder_shift": (2, 0),
    }  # fmt: skip
    # The paper's presets keep the paper's ratio and global attention.
    assert (
        PretrainConfig(preset="maskspec_test").build_model().mask_ratio == 0.75
    )
    # Fields set on the config win, survive JSON and build the model.
    config = PretrainConfig(
        preset="maskspec_test", masking="time", mask_ratio=0.6,
        decoder_attention="local", decoder_window=[2, 2], decoder_shift=[1, 0],
    )  # fmt: skip
    config = PretrainConfig.from_json(config.to_json())
    model = config.build_model()
    assert model.masking.strategy == "time" and model.mask_ratio == 0.6
    assert model.decoder_attention == "local"
    assert tuple(model.decoder_window) == (2, 2)
    # An old config file (no such fields) means what it meant.
    assert (
        PretrainConfig(preset="maskspec_test").resolved()["mask_ratio"] == 0.75
    )


def test_sample_rate_is_the_front_ends():
    # MaskSpec presets read 32 kHz, audiomae_base's Kaldi fbank 16 kHz; a
    # set rate that disagrees with the model's front end is refused (the
    # model would get audio at the wrong rate).
    assert PretrainConfig(preset="maskspec_test").audio_sample_rate() == 32000
    audiomae = PretrainConfig(preset="audiomae_base")
    assert audiomae.sample_rate is None
    assert audiomae.audio_sample_rate() == 16000
    assert audiomae.resolved()["sample_rate"] == 16000
    assert FinetuneConfig(preset="audiomae_base").audio_sample_rate() == 16000
    assert PretrainConfig(sample_rate=32000).audio_sample_rate() == 32000
    with pytest.raises(ValueError, match="16000 Hz for preset 'audiomae_base'"):
        PretrainConfig(preset="audiomae_base", sample_rate=32000)
    with pytest.raises(ValueError, match="sample_rate=16000"):
        PretrainConfig(preset="maskspec_test").replace(sample_rate=16000)
    # A front-end override changes the rate the data is read at.
    frontend = {
        "class_name": "LogMelSpectrogram",
        "module": None,
        "registered_name": "keras_maskspec>LogMelSpectrogram",
        "config": {"sample_rate": 16000, "num_mel_bins": 128},
    }
    config = PretrainConfig(
        preset="maskspec_test", encoder_overrides={"frontend": frontend}
    )
    assert config.audio_sample_rate() == 16000
    # A config.json that spells the rate out resolves to the same run.
    old = PretrainConfig.from_dict({**config.to_dict(), "sample_rate": 16000})
    assert old.resolved() == config.resolved()


def test_crop_and_statistics_length():
    assert PretrainConfig().data_crop() == "random"
    assert PretrainConfig().data_crop(training=False) == "centre"
    start = FinetuneConfig(crop="start")
    assert start.data_crop() == start.data_crop(False) == "start"
    with pytest.raises(ValueError, match="crop='centre'"):
        PretrainConfig(crop="centre")
    with pytest.raises(ValueError, match="stats_clip_seconds=0"):
        FinetuneConfig(stats_clip_seconds=0)
