"""MaskSpec / Audio-MAE PyTorch checkpoints -> keras_maskspec models.

Layouts (what every tensor is turned into):

- MaskSpec feeds its ViT `(batch, 1, mel, time)` (frequency first): the
  patch grid is flattened mel-major and a patch's pixels are `(mel, time)`.
  Audio-MAE feeds `(batch, 1, time, mel)`: time-major, like ours. Our
  encoder takes `(batch, time, mel)` and flattens time-major, so MaskSpec's
  conv kernel is transposed to `(time, mel)`, its position table reordered
  and its decoder's 256 outputs per patch permuted.
- MAE's 2-D sin-cos code puts the column index in the first half of the
  channels. For MaskSpec the columns are time, which is exactly our
  `sincos_position_embedding`: such a table is checked and dropped (the
  encoder recomputes it for any clip length). Audio-MAE's table was made
  for a `(mel, time)` grid but added to time-major tokens; it and any
  trained (fine-tuned) table are kept as a `LearnedPositionEmbedding`.
- The [CLS] token's position code is folded into the token.
- timm `Block` parameters map one to one to `TransformerBlock`; Audio-MAE's
  Swin-V2 decoder blocks (`attn.tau`, `attn.meta_mlp.*` besides those) to
  `CosineWindowTransformerBlock`, with Audio-MAE's fixed 4 x 4 windows and
  (2, 0) shift in every second block. Its decoder position table (a fixed
  buffer, the encoder's (mel, time) layout) is loaded as a learned table.
"""

import logging
import re

import numpy as np

from keras_maskspec.convert.checkpoint import load_state_dict
from keras_maskspec.convert.checkpoint import read_labels
from keras_maskspec.layers.kaldi_fbank import KaldiFbank
from keras_maskspec.layers.log_mel_spectrogram import LogMelSpectrogram
from keras_maskspec.layers.patching import sincos_position_embedding
from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.models.maskspec_encoder import MaskSpecEncoder
from keras_maskspec.models.maskspec_pretrainer import MaskSpecPretrainer
from keras_maskspec.models.presets import PRESETS
from keras_maskspec.utils.frame_stats import load_frame_statistics

logger = logging.getLogger("keras_maskspec.convert")

SOURCES = ("maskspec", "audiomae")
NUM_MEL_BINS = 128
# Heads are not visible in any tensor shape: the ViT sizes the authors use
# (not the test-sized preset, which no published checkpoint has).
_KNOWN_HEADS = {
    (p["hidden_dim"], p["intermediate_dim"]): p["num_heads"]
    for name, p in PRESETS.items()
    if name != "maskspec_test"
}
_KNOWN_HEADS.update({(1024, 4096): 16, (1280, 5120): 16})
_DECODER_HEADS = {512: 16}
# Audio-MAE `models_mae.py`, decoder_mode=1 (not in any tensor shape).
_AUDIOMAE_WINDOW = (4, 4)
_AUDIOMAE_SHIFT = (2, 0)
_SWIN_PARAMS = (
    "attn.tau",
    "attn.meta_mlp.fc1.weight",
    "attn.meta_mlp.fc1.bias",
    "attn.meta_mlp.fc2.weight",
    "attn.meta_mlp.fc2.bias",
)
_META_HIDDEN = 384
_BLOCK_PARAMS = (
    "norm1.weight",
    "norm1.bias",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
)
_SINCOS_ATOL = 1e-4


class CheckpointMismatchError(ValueError):
    """The checkpoint's tensors do not fit the model they describe.

    Attributes:
        unexpected: list of checkpoint keys nothing maps to.
        missing: list of keys the model needs that the checkpoint lacks.
        mismatched: list of `(key, checkpoint_shape, expected_shape)`.
    """

    def __init__(self, source, unexpected, missing, mismatched):
        self.unexpected = list(unexpected)
        self.missing = list(missing)
        self.mismatched = list(mismatched)
        lines = [
            (
                f"Cannot convert this {source or 'PyTorch'} checkpoint: its "
                "tensors do not match the model they describe. Nothing was "
                "converted."
            )
        ]
        if self.unexpected:
            lines.append(f"Unmatched checkpoint keys: {self.unexpected}")
        if self.missing:
            lines.append(f"Missing keys: {self.missing}")
        if self.mismatched:
            lines.append(
                "Mis-shaped keys (checkpoint shape vs expected): "
                + ", ".join(f"{k} {a} vs {b}" for k, a, b in self.mismatched)
            )
        super().__init__("\n".join(lines))


def convert_checkpoint(
    checkpoint,
    source="maskspec",
    num_heads=None,
    decoder_num_heads=None,
    frame_stats=None,
    labels=None,
    time_patches=None,
    multi_label=True,
    mask_ratio=None,
    encoder_only=False,
    weights_only=True,
):
    """Converts an authors' PyTorch checkpoint to a keras_maskspec model.

    Every tensor is mapped by name; sizes (width, depth, MLP width, patch
    size, patch grid, classes, decoder) come from the tensor shapes. The
    result is:

    - a `MaskSpecPretrainer` for a pre-training checkpoint with its
      decoder: MaskSpec's plain ViT decoder (`decoder_attention="global"`)
      or Audio-MAE's Swin-V2 decoder (`decoder_attention="swinv2"`:
      `CosineWindowTransformerBlock`s, 4 x 4 windows shifted by (2, 0) in
      every second block, as `models_mae.py` fixes them; checkpoints made
      with `no_shift=True` are not told apart and would convert wrongly);
      a decoder position table other than our sin-cos code is loaded as a
      learned table (`decoder_position="learned"`);
    - a `MaskSpecEncoder` for a pre-training checkpoint whose decoder
      blocks are neither (dropped, with a logged warning), or with
      `encoder_only=True`;
    - a `MaskSpecClassifier` (logits; mean pooling + `fc_norm` + `head`)
      for a fine-tuned checkpoint. Its encoder's `final_norm` is not in
      such checkpoints (the authors delete it) and stays at its
      initialisation; the classifier does not use it.

    The front end is the authors': MaskSpec's 32 kHz PaSST log-mel
    (`LogMelSpectrogram` defaults) or Audio-MAE's 16 kHz Kaldi fbank
    (`KaldiFbank`, padded/cropped to the checkpoint's 1024 frames).
    A fixed sin-cos position table that equals ours is checked and
    dropped; any other table is kept as a `LearnedPositionEmbedding`
    (interpolated, with a logged warning, if `time_patches` asks for
    another grid). Anything that does not match - a key nothing maps to,
    a missing key, a tensor of the wrong shape - raises
    `CheckpointMismatchError` listing every such key.

    Args:
        checkpoint: path to a `.pth` file, or a state dict (mapping).
        source: str. `"maskspec"` (WangHelin1997/MaskSpec) or `"audiomae"`
            (facebookresearch/AudioMAE). Defaults to `"maskspec"`.
        num_heads: int or `None`. Attention heads of the encoder (not
            visible in the shapes); `None` uses the ViT-Tiny/Small/Base/
            Large/Huge value for the checkpoint's width.
        decoder_num_heads: int or `None`. Same for a ViT decoder (`None`:
            16 for the 512-wide MAE decoder); a Swin-V2 decoder's heads are
            the size of its `tau`.
        frame_stats: `None`, a path to MaskSpec's `mean_std_128.npy`
            (`audioset/mean_std_128.npy` in their repository, read without
            executing its pickle), `"audioset"` (that table, bundled), a
            `frame_stats.npz`/JSON file, or a dict with
            `"frame_mean"` and `"frame_std"` (128 values each). MaskSpec
            normalises each mel bin with these after `(x + 4.5) / 5`; they
            are not in the checkpoint. Without them the converted MaskSpec
            model does not see the inputs it was trained on (a warning is
            logged). Ignored for Audio-MAE.
        labels: `None`, a list of class names, or a path (AudioSet's
            `class_labels_indices.csv`, or one name per line). Checked
            against the head's size and set as `model.class_names` (not
            saved with the model; `convert_to_run_dir` writes
            `labels.txt`).
        time_patches: int or `None`. Number of time patches of a learned
            position table, if it should differ from the checkpoint's (the
            table is interpolated bicubically, as DeiT/MAE do).
        multi_label: bool. Whether a converted head is multi-label
            (AudioSet: yes). Defaults to `True`.
        mask_ratio: float or `None`. Pre-trainer mask ratio; `None` means
            the authors' (0.75 MaskSpec, 0.8 Audio-MAE).
        encoder_only: bool. Drop a decoder and return the encoder. Defaults
            to `False`.
        weights_only: bool. Passed to `torch.load`. Defaults to `True`.

    Returns:
        A `MaskSpecEncoder`, `MaskSpecClassifier` or `MaskSpecPretrainer`.

    Examples:
    >>> state = _example_state()  # a 1-block, 32-wide Audio-MAE encoder
    >>> sorted(state)[:4]
    ['blocks.0.attn.proj.bias', 'blocks.0.attn.proj.weight',
     'blocks.0.attn.qkv.bias', 'blocks.0.attn.qkv.weight']
    >>> state["pos_embed"].shape  # [CLS] + 8 x 6 patches
    (1, 49, 32)
    >>> encoder = convert_checkpoint(state, "audiomae", num_heads=2)
    >>> encoder.hidden_dim, encoder.position_grid
    (32, (6, 8))
    """
    if source not in SOURCES:
        raise ValueError(
            f"`source` must be one of {SOURCES}. Received: source={source!r}"
        )
    state = load_state_dict(checkpoint, weights_only=weights_only)
    plan = _Plan(state, source)
    arch = plan.infer(num_heads, decoder_num_heads, encoder_only)
    frontend = _frontend(source, arch, frame_stats, time_patches)
    position = plan.position_table(time_patches)
    encoder = MaskSpecEncoder(
        hidden_dim=arch["hidden_dim"],
        num_layers=arch["num_layers"],
        num_heads=arch["num_heads"],
        intermediate_dim=arch["intermediate_dim"],
        patch_size=arch["patch_size"],
        layer_norm_epsilon=1e-6,
        frontend=frontend,
        position_embedding=position["kind"],
        position_grid=position.get("grid"),
    )
    _assign_encoder(encoder, plan, position)
    if arch["kind"] == "classifier":
        model = MaskSpecClassifier(
            encoder, arch["num_classes"], multi_label=multi_label
        )
        _assign_norm(model.get_layer("fc_norm"), state, "fc_norm")
        _assign_dense(model.get_layer("head"), state, "head")
        if labels is not None:
            names = read_labels(labels)
            if len(names) != arch["num_classes"]:
                raise ValueError(
                    f"The head has {arch['num_classes']} classes but "
                    f"{len(names)} labels were given. Received: "
                    f"len(labels)={len(names)}"
                )
            model.class_names = names
        return model
    if labels is not None:
        raise ValueError(
            "`labels` only applies to a fine-tuned checkpoint with a head; "
            f"this one is a {arch['kind']} checkpoint. Received: "
            f"labels={labels!r}"
        )
    if arch["kind"] == "pretrainer":
        if mask_ratio is None:
            mask_ratio = 0.75 if source == "maskspec" else 0.8
        decoder_position = plan.position_table(
            time_patches, "decoder_pos_embed"
        )
        window = {}
        if arch["decoder_attention"] == "swinv2":
            window = dict(
                decoder_window=_AUDIOMAE_WINDOW, decoder_shift=_AUDIOMAE_SHIFT
            )
        model = MaskSpecPretrainer(
            encoder,
            decoder_hidden_dim=arch["decoder_hidden_dim"],
            decoder_num_layers=arch["decoder_num_layers"],
            decoder_num_heads=arch["decoder_num_heads"],
            decoder_intermediate_dim=arch["decoder_intermediate_dim"],
            mask_ratio=mask_ratio,
            decoder_attention=arch["decoder_attention"],
            decoder_position=decoder_position["kind"],
            decoder_position_grid=decoder_position.get("grid"),
            **window,
        )
        _assign_decoder(model, plan, arch, decoder_position)
        return model
    return encoder


def _example_state():
    """A random one-block Audio-MAE encoder state dict, for the examples.

    32 wide, MLP 64, 8 x 6 patches of 16 x 16; the draws (seed 0) follow a
    fixed order, so every example converts the same weights.
    """
    rng = np.random.default_rng(0)
    dim, hidden = 32, 64
    state = {
        "patch_embed.proj.weight": rng.normal(size=(dim, 1, 16, 16)),
        "patch_embed.proj.bias": np.zeros(dim),
        "cls_token": np.zeros((1, 1, dim)),
        "pos_embed": rng.normal(size=(1, 1 + 8 * 6, dim)),
        "norm.weight": np.ones(dim),
        "norm.bias": np.zeros(dim),
    }
    for name, shape in _block_shapes("blocks.0", dim, hidden).items():
        state[name] = rng.normal(size=shape) * 0.02
    return state


def _frontend(source, arch, frame_stats, time_patches):
    if source == "audiomae":
        frames = (time_patches or arch["grid"][0]) * arch["patch_size"][0]
        return KaldiFbank(target_length=frames, dtype="float32")
    if frame_stats is None:
        logger.warning(
            "No `frame_stats` given: MaskSpec normalises each mel bin with "
            "the statistics in its `audioset/mean_std_128.npy` after "
            "(x + 4.5) / 5, and they are not in the checkpoint. The front "
            "end uses (x + 4.5) / 5 only; pass frame_stats= to reproduce "
            "the authors' inputs."
        )
        return LogMelSpectrogram(dtype="float32")
    if not isinstance(frame_stats, dict):
        # The authors' file is a pickled dict: read it without running code.
        mean, std = load_frame_statistics(frame_stats)
        frame_stats = {"frame_mean": mean, "frame_std": std}
    mean = np.asarray(frame_stats["frame_mean"], "float64").reshape(-1)
    std = np.asarray(frame_stats["frame_std"], "float64").reshape(-1)
    if mean.shape != (NUM_MEL_BINS,) or std.shape != (NUM_MEL_BINS,):
        raise ValueError(
            f"`frame_stats` must hold {NUM_MEL_BINS} means and stds. "
            f"Received: frame_mean.shape={mean.shape}, "
            f"frame_std.shape={std.shape}"
        )
    # ((log + 4.5) / 5 - m) / s == (log - (5 m - 4.5)) / (5 s).
    return LogMelSpectrogram(
        mean=list(5.0 * mean - 4.5), std=list(5.0 * std), dtype="float32"
    )


class _Plan:
    """The checkpoint's keys, what they describe, and which were used."""

    def __init__(self, state, source):
        self.state = state
        self.source = source
        self.expected = {}
        self.dropped = []
        self.decoder_kind = None

    def infer(self, num_heads, decoder_num_heads, encoder_only):
        state = self.state
        if "patch_embed.proj.weight" not in state:
            raise CheckpointMismatchError(
                self.source, [], ["patch_embed.proj.weight"], []
            )
        weight = state["patch_embed.proj.weight"]
        if weight.ndim != 4 or weight.shape[1] != 1:
            raise CheckpointMismatchError(
                self.source,
                [],
                [],
                [("patch_embed.proj.weight", weight.shape, "(D, 1, kh, kw)")],
            )
        dim, _, kh, kw = weight.shape
        patch = (kw, kh) if self.source == "maskspec" else (kh, kw)
        layers = _block_indices(state, "blocks")
        if not layers:
            raise CheckpointMismatchError(self.source, [], ["blocks.0.*"], [])
        hidden = _shape(
            state, "blocks.0.mlp.fc1.weight", (None, dim), self.source
        )[0]
        if num_heads is None:
            num_heads = _KNOWN_HEADS.get((dim, hidden))
            if num_heads is None:
                raise ValueError(
                    "The number of attention heads is not in the tensor "
                    f"shapes and width {dim} is not a standard ViT size: "
                    f"pass num_heads=. Received: num_heads=None"
                )
        mel_patches = NUM_MEL_BINS // patch[1]
        tokens = _shape(state, "pos_embed", (1, None, dim), self.source)[1] - 1
        if tokens % mel_patches:
            raise ValueError(
                f"{tokens} position embeddings do not tile a grid of "
                f"{mel_patches} mel patches: overlapping-patch checkpoints "
                "(Audio-MAE's use_custom_patch) are not supported. Received: "
                f"pos_embed.shape={state['pos_embed'].shape}"
            )
        grid = (tokens // mel_patches, mel_patches)
        arch = {
            "hidden_dim": dim,
            "num_layers": len(layers),
            "num_heads": num_heads,
            "intermediate_dim": hidden,
            "patch_size": patch,
            "grid": grid,
        }
        self.grid = grid
        self.dim = dim
        exp = self.expected
        exp["patch_embed.proj.weight"] = tuple(weight.shape)
        exp["patch_embed.proj.bias"] = (dim,)
        exp["cls_token"] = (1, 1, dim)
        exp["pos_embed"] = (1, 1 + tokens, dim)
        for i in range(len(layers)):
            exp.update(_block_shapes(f"blocks.{i}", dim, hidden))
        if "fc_norm.weight" in state or "head.weight" in state:
            if "fc_norm.weight" not in state:
                raise ValueError(
                    "This checkpoint classifies from the [CLS] token (a "
                    "`head` without `fc_norm`); MaskSpecClassifier pools "
                    "the patch tokens (the authors' global_pool=True). "
                    "Received: keys without fc_norm.weight"
                )
            classes = _shape(state, "head.weight", (None, dim), self.source)[0]
            exp.update(
                {
                    "fc_norm.weight": (dim,),
                    "fc_norm.bias": (dim,),
                    "head.weight": (classes, dim),
                    "head.bias": (classes,),
                }
            )
            arch.update(kind="classifier", num_classes=classes)
            return arch
        exp["norm.weight"] = (dim,)
        exp["norm.bias"] = (dim,)
        arch["kind"] = "encoder"
        if not any(_is_decoder_key(k) for k in state):
            return arch
        if encoder_only:
            self._drop_decoder("encoder_only=True")
            return arch
        reason = self._decoder_reason()
        if reason:
            self._drop_decoder(reason, warn=True)
            return arch
        ddim = _shape(state, "decoder_embed.weight", (None, dim), self.source)[
            0
        ]
        dhidden = _shape(
            state, "decoder_blocks.0.mlp.fc1.weight", (None, ddim), self.source
        )[0]
        swin = self.decoder_kind == "swinv2"
        if swin:
            heads = _shape(
                state, "decoder_blocks.0.attn.tau", (None,), self.source
            )[0]
            if decoder_num_heads not in (None, heads):
                raise ValueError(
                    f"The Swin-V2 decoder has {heads} heads (its `tau`). "
                    f"Received: decoder_num_heads={decoder_num_heads}"
                )
            decoder_num_heads = heads
        if decoder_num_heads is None:
            decoder_num_heads = _DECODER_HEADS.get(ddim)
            if decoder_num_heads is None:
                raise ValueError(
                    "The decoder's attention heads are not in the tensor "
                    f"shapes (width {ddim}): pass decoder_num_heads=. "
                    "Received: decoder_num_heads=None"
                )
        patch_dim = patch[0] * patch[1]
        exp.update(
            {
                "decoder_embed.weight": (ddim, dim),
                "decoder_embed.bias": (ddim,),
                "mask_token": (1, 1, ddim),
                "decoder_pos_embed": (1, 1 + tokens, ddim),
                "decoder_norm.weight": (ddim,),
                "decoder_norm.bias": (ddim,),
                "decoder_pred.weight": (patch_dim, ddim),
                "decoder_pred.bias": (patch_dim,),
            }
        )
        dlayers = _block_indices(state, "decoder_blocks")
        for i in range(len(dlayers)):
            exp.update(_block_shapes(f"decoder_blocks.{i}", ddim, dhidden))
            if swin:
                exp.update(
                    _swin_shapes(f"decoder_blocks.{i}", decoder_num_heads)
                )
        arch.update(
            kind="pretrainer",
            decoder_hidden_dim=ddim,
            decoder_num_layers=len(dlayers),
            decoder_num_heads=decoder_num_heads,
            decoder_intermediate_dim=dhidden,
            decoder_attention=self.decoder_kind,
        )
        self.check()
        table = self.state["decoder_pos_embed"][0]
        # A Swin decoder drops [CLS] before its blocks: its code is unused.
        if not swin and np.abs(table[0]).max() > _SINCOS_ATOL:
            raise ValueError(
                "The decoder's [CLS] position code is not zero, which our "
                "decoder cannot express. Received: decoder_pos_embed[0]"
            )
        return arch

    def _decoder_reason(self):
        """Why the decoder cannot be converted (`None` if it can); sets
        `decoder_kind` ("global": timm ViT blocks, "swinv2": Audio-MAE's)."""
        keys = {k for k in self.state if k.startswith("decoder_blocks.")}
        indices = _block_indices(self.state, "decoder_blocks")
        plain = {
            f"decoder_blocks.{i}.{p}" for i in indices for p in _BLOCK_PARAMS
        }
        swin = plain | {
            f"decoder_blocks.{i}.{p}" for i in indices for p in _SWIN_PARAMS
        }
        if keys and keys == plain:
            self.decoder_kind = "global"
        elif keys and keys == swin:
            if self.source != "audiomae":
                return "Swin-V2 decoder blocks are Audio-MAE's, not MaskSpec's"
            self.decoder_kind = "swinv2"
        else:
            return (
                "its decoder blocks are neither timm ViT blocks nor "
                "Audio-MAE's Swin-V2 blocks"
            )
        table = self.state.get("decoder_pos_embed")
        if table is None or table.shape[1] != 1 + self.grid[0] * self.grid[1]:
            return "its decoder position table does not fit the patch grid"
        return None

    def _drop_decoder(self, reason, warn=False):
        dropped = sorted(k for k in self.state if _is_decoder_key(k))
        if not dropped:
            return
        self.dropped = dropped
        message = (
            f"Dropping the decoder ({len(dropped)} tensors: mask_token, "
            f"decoder_*) because {reason}; converting the encoder."
        )
        if warn:
            logger.warning(message)
        else:
            logger.info(message)

    def check(self):
        """Raises `CheckpointMismatchError` unless every key matches."""
        state = self.state
        unexpected = [
            k for k in state if k not in self.expected and k not in self.dropped
        ]
        missing = [k for k in self.expected if k not in state]
        mismatched = [
            (k, tuple(state[k].shape), shape)
            for k, shape in self.expected.items()
            if k in state and tuple(state[k].shape) != tuple(shape)
        ]
        if unexpected or missing or mismatched:
            raise CheckpointMismatchError(
                self.source, unexpected, missing, mismatched
            )

    def _theirs_to_ours(self, rows):
        """Their patch-token order `(N, D)` -> our grid `(gt, gf, D)`."""
        gt, gf = self.grid
        if self.source == "maskspec":
            return rows.reshape(gf, gt, -1).transpose(1, 0, 2)
        return rows.reshape(gt, gf, -1)

    def _ours_to_theirs(self, rows):
        """Our time-major `(N, D)` -> their patch-token order `(N, D)`."""
        gt, gf = self.grid
        if self.source == "maskspec":
            return (
                rows.reshape(gt, gf, -1).transpose(1, 0, 2).reshape(gt * gf, -1)
            )
        return rows

    def position_table(self, time_patches, key="pos_embed"):
        """A position code (`pos_embed` or `decoder_pos_embed`): sin-cos,
        or a table to load."""
        self.check()
        table = self.state[key][0]
        grid_table = self._theirs_to_ours(table[1:])
        sincos = _sincos(self.grid, table.shape[-1])
        if np.abs(grid_table - sincos).max() <= _SINCOS_ATOL:
            logger.info(
                "%s is the fixed 2-D sin-cos code (checked); the model "
                "recomputes it for any clip length.",
                key,
            )
            return {"kind": "sincos", "cls": table[0]}
        if time_patches is not None and time_patches != self.grid[0]:
            grid_table = _interpolate(grid_table, time_patches)
            logger.warning(
                "Interpolated the learned position table %s from %s to %s "
                "(time x mel patches), bicubic as in DeiT/MAE.",
                key,
                self.grid,
                (time_patches, self.grid[1]),
            )
        return {
            "kind": "learned",
            "grid": tuple(int(v) for v in grid_table.shape[:2]),
            "table": grid_table,
            "cls": table[0],
        }


def _assign_encoder(encoder, plan, position):
    state = plan.state
    weight = state["patch_embed.proj.weight"]
    if plan.source == "maskspec":
        kernel = weight.transpose(3, 2, 1, 0)
    else:
        kernel = weight.transpose(2, 3, 1, 0)
    projection = encoder.patch_embedding.projection
    _set(projection.kernel, kernel)
    _set(projection.bias, state["patch_embed.proj.bias"])
    _set(
        encoder.class_token.token,
        state["cls_token"] + position["cls"][None, None],
    )
    if position["kind"] == "learned":
        _set(encoder.position_embedding.table, position["table"])
    for i, block in enumerate(encoder.transformer_layers):
        _assign_block(block, state, f"blocks.{i}")
    if "norm.weight" in state:
        _assign_norm(encoder.final_norm, state, "norm")


def _assign_decoder(model, plan, arch, position):
    state = plan.state
    _assign_dense(model.get_layer("decoder_embed"), state, "decoder_embed")
    _set(model.get_layer("mask_tokens").mask_token, state["mask_token"])
    if position["kind"] == "learned":
        layer = model.get_layer("decoder_position_embedding")
        _set(layer.table, position["table"])
    for i in range(arch["decoder_num_layers"]):
        block = model.get_layer(f"decoder_layer_{i}")
        prefix = f"decoder_blocks.{i}"
        _assign_block(block, state, prefix)
        if arch["decoder_attention"] == "swinv2":
            _assign_dense(block.meta_fc1, state, f"{prefix}.attn.meta_mlp.fc1")
            _assign_dense(block.meta_fc2, state, f"{prefix}.attn.meta_mlp.fc2")
            _set(block.tau, state[f"{prefix}.attn.tau"])
    _assign_norm(model.get_layer("decoder_norm"), state, "decoder_norm")
    weight = state["decoder_pred.weight"]
    bias = state["decoder_pred.bias"]
    if plan.source == "maskspec":
        # Their pixel index is mel * pt + time; ours is time * pf + mel.
        pt, pf = arch["patch_size"]
        order = np.arange(pt * pf).reshape(pf, pt).T.reshape(-1)
        weight, bias = weight[order], bias[order]
    head = model.get_layer("decoder_head")
    _set(head.kernel, weight.T)
    _set(head.bias, bias)


def _assign_block(block, state, prefix):
    _assign_norm(block.norm1, state, f"{prefix}.norm1")
    _assign_dense(block.qkv, state, f"{prefix}.attn.qkv")
    _assign_dense(block.proj, state, f"{prefix}.attn.proj")
    _assign_norm(block.norm2, state, f"{prefix}.norm2")
    _assign_dense(block.fc1, state, f"{prefix}.mlp.fc1")
    _assign_dense(block.fc2, state, f"{prefix}.mlp.fc2")


def _assign_dense(layer, state, prefix):
    _set(layer.kernel, state[f"{prefix}.weight"].T)
    _set(layer.bias, state[f"{prefix}.bias"])


def _assign_norm(layer, state, prefix):
    _set(layer.gamma, state[f"{prefix}.weight"])
    _set(layer.beta, state[f"{prefix}.bias"])


def _set(variable, value):
    value = np.asarray(value, "float32")
    if tuple(variable.shape) != value.shape:
        raise ValueError(
            f"Internal shape mismatch for {variable.path}: "
            f"{tuple(variable.shape)} vs {value.shape}"
        )
    variable.assign(value)


def _block_shapes(prefix, dim, hidden):
    shapes = dict(
        zip(
            _BLOCK_PARAMS,
            [
                (dim,),
                (dim,),
                (3 * dim, dim),
                (3 * dim,),
                (dim, dim),
                (dim,),
                (dim,),
                (dim,),
                (hidden, dim),
                (hidden,),
                (dim, hidden),
                (dim,),
            ],
        )
    )
    return {f"{prefix}.{k}": v for k, v in shapes.items()}


def _swin_shapes(prefix, heads):
    shapes = [
        (heads,),
        (_META_HIDDEN, 2),
        (_META_HIDDEN,),
        (heads, _META_HIDDEN),
        (heads,),
    ]
    return {f"{prefix}.{k}": v for k, v in zip(_SWIN_PARAMS, shapes)}


def _block_indices(state, prefix):
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    found = {int(m.group(1)) for k in state if (m := pattern.match(k))}
    return sorted(found)


def _is_decoder_key(key):
    return key.startswith("decoder_") or key == "mask_token"


def _shape(state, key, pattern, source=""):
    """`state[key].shape`, checked against `pattern` (None = any)."""
    if key not in state:
        raise CheckpointMismatchError(source, [], [key], [])
    shape = tuple(state[key].shape)
    if len(shape) != len(pattern) or any(
        p is not None and p != s for p, s in zip(pattern, shape)
    ):
        raise CheckpointMismatchError(source, [], [], [(key, shape, pattern)])
    return shape


def _sincos(grid, dim):
    table = sincos_position_embedding(grid[0], grid[1], dim)
    return np.asarray(table, "float32").reshape(grid[0], grid[1], dim)


def _interpolate(grid_table, time_patches):
    """Bicubic resize `(gt, gf, D)` -> `(time_patches, gf, D)` (DeiT)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(grid_table))
    x = x.permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(
        x,
        size=(time_patches, grid_table.shape[1]),
        mode="bicubic",
        align_corners=False,
    )
    return x[0].permute(1, 2, 0).numpy()
