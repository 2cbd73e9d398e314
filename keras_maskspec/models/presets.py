"""The paper's model sizes (encoder 12 layers each, one shared decoder)."""

ENCODER_PRESETS = {
    "maskspec_tiny": {
        "hidden_dim": 192,
        "num_layers": 12,
        "num_heads": 3,
        "intermediate_dim": 768,
    },
    "maskspec_small": {
        "hidden_dim": 384,
        "num_layers": 12,
        "num_heads": 6,
        "intermediate_dim": 1536,
    },
    "maskspec_base": {
        "hidden_dim": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_dim": 3072,
    },
}

DECODER_DEFAULTS = {
    "decoder_hidden_dim": 512,
    "decoder_num_layers": 8,
    "decoder_num_heads": 16,
    "decoder_intermediate_dim": 2048,
}


def get_encoder_preset(name):
    """Encoder keyword arguments of a preset, with a clear error if unknown.

    Examples:
    >>> get_encoder_preset("maskspec_tiny")["hidden_dim"]
    192
    """
    if name not in ENCODER_PRESETS:
        raise ValueError(
            f"Unknown preset. Available: {sorted(ENCODER_PRESETS)}. "
            f"Received: preset={name!r}"
        )
    return dict(ENCODER_PRESETS[name])
