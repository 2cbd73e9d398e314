"""Every model default in one place: sizes and the paper's hyper-parameters.

A preset names a complete model size: encoder (`hidden_dim`, `num_layers`,
`num_heads`, `intermediate_dim`) and decoder (`decoder_*`). The paper's
three ViT sizes share one decoder; `"maskspec_test"` is a seconds-fast
model for tests and examples. `"audiomae_base"` is Audio-MAE's setting on
the same pipeline (16 kHz Kaldi fbank front end, 80% masking, a 16-block
Swin-V2 local-attention decoder), so the two ideas can be compared with one
flag; its extra keys (`PRETRAINER_KEYS`, `frontend`) are pre-trainer and
encoder arguments. Sources and numbers: `docs/presets.md`. Constructors
take their defaults from `DEFAULT_PRESET`; `compile()` takes its defaults
from `PRETRAINING` and `FINE_TUNING`.

Examples:
>>> get_preset("maskspec_test")["decoder_num_layers"]
1
>>> sorted(PRESETS)  # doctest: +NORMALIZE_WHITESPACE
['audiomae_base', 'maskspec_base', 'maskspec_small', 'maskspec_test',
 'maskspec_tiny']
"""

_PAPER_DECODER = {
    "decoder_hidden_dim": 512,
    "decoder_num_layers": 8,
    "decoder_num_heads": 16,
    "decoder_intermediate_dim": 2048,
}

PRESETS = {
    "maskspec_tiny": {
        "hidden_dim": 192,
        "num_layers": 12,
        "num_heads": 3,
        "intermediate_dim": 768,
        **_PAPER_DECODER,
    },
    "maskspec_small": {
        "hidden_dim": 384,
        "num_layers": 12,
        "num_heads": 6,
        "intermediate_dim": 1536,
        **_PAPER_DECODER,
    },
    "maskspec_base": {
        "hidden_dim": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_dim": 3072,
        **_PAPER_DECODER,
    },
    "maskspec_test": {
        "hidden_dim": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_dim": 64,
        "decoder_hidden_dim": 32,
        "decoder_num_layers": 1,
        "decoder_num_heads": 2,
        "decoder_intermediate_dim": 64,
    },
    # Huang et al., "Masked Autoencoders that Listen" (NeurIPS 2022) and
    # facebookresearch/AudioMAE `models_mae.py` (decoder_mode=1): ViT-B
    # encoder on 1024 x 128 Kaldi fbank frames (10.24 s at 16 kHz, AudioSet
    # mean/std as in `convert --from audiomae`), 80% random masking, and a
    # decoder of 16 of its Swin-V2 blocks (`CosineWindowTransformerBlock`:
    # 512 wide, 16 heads, MLP 2048) with 4 x 4 windows, shifted by (2, 0) in
    # every second block.
    "audiomae_base": {
        "hidden_dim": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_dim": 3072,
        "frontend": {
            "module": None,
            "class_name": "KaldiFbank",
            "registered_name": "keras_maskspec>KaldiFbank",
            "config": {
                "name": "frontend",
                "dtype": "float32",
                "sample_rate": 16000,
                "num_mel_bins": 128,
                "target_length": 1024,
            },
        },
        "decoder_hidden_dim": 512,
        "decoder_num_layers": 16,
        "decoder_num_heads": 16,
        "decoder_intermediate_dim": 2048,
        "decoder_attention": "swinv2",
        "decoder_window": (4, 4),
        "decoder_shift": (2, 0),
        "masking": "random",
        "mask_ratio": 0.8,
    },
}
# The name other modules (weight conversion) look the ViT sizes up by.
ENCODER_PRESETS = PRESETS

DEFAULT_PRESET = "maskspec_base"
DECODER_KEYS = tuple(_PAPER_DECODER)
# Pre-trainer arguments a preset may set beside the sizes (not encoder keys).
PRETRAINER_KEYS = (
    "decoder_attention",
    "decoder_window",
    "decoder_shift",
    "masking",
    "mask_ratio",
)

# The paper's pre-training recipe (MAE's): AdamW betas 0.9/0.95, weight
# decay 0.05, lr = base_lr * global_batch_size / 256, 75% of patches hidden.
PRETRAINING = {
    "mask_ratio": 0.75,
    "base_learning_rate": 1e-3,
    "global_batch_size": 256,
    "weight_decay": 0.05,
    "beta_2": 0.95,
}

# The paper's fine-tuning recipe: AdamW betas 0.9/0.999, layer-wise lr decay
# 0.75, SpecAugment masks of up to 48 mel bands and 192 frames.
FINE_TUNING = {
    "freq_mask_param": 48,
    "time_mask_param": 192,
    "spec_augment_grid_seconds": 10.0,
    "base_learning_rate": 1e-3,
    "global_batch_size": 256,
    "weight_decay": 0.05,
    "beta_2": 0.999,
    "layer_decay": 0.75,
    "label_smoothing": 0.0,
}


def get_preset(name):
    """A preset's full size dict (encoder and `decoder_*` keys).

    Args:
        name: str. One of `PRESETS`.

    Returns:
        A new dict; changing it does not change the preset.

    Examples:
    >>> get_preset("maskspec_tiny")["hidden_dim"]
    192
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset. Available: {sorted(PRESETS)}. "
            f"Received: preset={name!r}"
        )
    return dict(PRESETS[name])


def get_encoder_preset(name):
    """The encoder arguments of a preset (no decoder or pre-trainer keys).

    Examples:
    >>> get_encoder_preset("maskspec_test")
    {'hidden_dim': 32, 'num_layers': 2, 'num_heads': 2, 'intermediate_dim': 64}
    """
    return {
        k: v
        for k, v in get_preset(name).items()
        if k not in DECODER_KEYS and k not in PRETRAINER_KEYS
    }


def get_decoder_preset(name):
    """The `decoder_*` arguments of a preset (for `MaskSpecPretrainer`).

    Examples:
    >>> get_decoder_preset("maskspec_base")["decoder_hidden_dim"]
    512
    """
    return {k: v for k, v in get_preset(name).items() if k in DECODER_KEYS}
