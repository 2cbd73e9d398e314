import pytest

from keras_maskspec.training import FinetuneConfig
from keras_maskspec.training import PretrainConfig
from keras_maskspec.training import load_config


def test_paper_defaults():
    config = PretrainConfig()
    assert (config.mask_ratio, config.batch_size) == (0.75, 512)
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
    assert config.epochs == 80
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
