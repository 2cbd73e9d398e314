"""Plain-torch copies of the authors' models, for the conversion tests.

Parameter names and shapes are exactly those of the published checkpoints:
timm `Block` (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`,
`mlp.fc2`), `patch_embed.proj`, `cls_token`, `pos_embed`, `norm` /
`fc_norm`, `head`, `decoder_*`, `mask_token`. Forward passes follow
WangHelin1997/MaskSpec `models/models_mae.py` + `models/models_vit.py`
(PaSST's `AugmentMelSTFT` front end) and facebookresearch/AudioMAE
`models_mae.py` + `models_vit.py` + `dataset.py` (Kaldi fbank), in eval
mode and without masking. timm itself cannot be imported here (torchvision
does not load beside torch 2.13), and torchaudio's compiled extension does
not load either, so the Kaldi steps torchaudio performs are written out
following `torchaudio.compliance.kaldi.fbank`, and the mel banks come from
`kaldi_reference.mel_banks`.
"""

import numpy as np
import torch
from torch import nn

from tests.layers.kaldi_reference import mel_banks


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """timm's ViT `Block` (qkv_bias=True, LayerNorm eps 1e-6)."""

    def __init__(self, dim, num_heads, mlp_ratio=2.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _MetaMlp(nn.Module):
    """timm `Mlp(2, 384, heads, act_layer=nn.ReLU, drop=0.1)` (eval)."""

    def __init__(self, hidden, out):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class WindowMultiHeadAttention(nn.Module):
    """Audio-MAE `timm_patch/swin_transformer.py` (timm 0.5 Swin-V2 CR),
    copied: scaled cosine attention, per-head `tau`, log-spaced
    continuous position bias from `meta_mlp`."""

    def __init__(self, dim, num_heads, window_size, meta_hidden_dim=384):
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)
        self.meta_mlp = _MetaMlp(meta_hidden_dim, num_heads)
        self.register_parameter("tau", nn.Parameter(torch.ones(num_heads)))
        coordinates = torch.stack(
            torch.meshgrid(
                [torch.arange(window_size[0]), torch.arange(window_size[1])],
                indexing="ij",
            ),
            dim=0,
        ).flatten(1)
        relative = coordinates[:, :, None] - coordinates[:, None, :]
        relative = relative.permute(1, 2, 0).reshape(-1, 2).float()
        self.register_buffer(
            "relative_coordinates_log",
            torch.sign(relative) * torch.log(1.0 + relative.abs()),
            persistent=False,
        )

    def _relative_positional_encodings(self):
        area = self.window_size[0] * self.window_size[1]
        bias = self.meta_mlp(self.relative_coordinates_log)
        return bias.transpose(1, 0).reshape(self.num_heads, area, area)[None]

    def forward(self, x, mask=None):
        bw, length, c = x.shape
        qkv = self.qkv(x).view(
            bw, length, 3, self.num_heads, c // self.num_heads
        )
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        denom = torch.norm(query, dim=-1, keepdim=True) @ torch.norm(
            key, dim=-1, keepdim=True
        ).transpose(-2, -1)
        attn = query @ key.transpose(-2, -1) / denom.clamp(min=1e-6)
        attn = attn / self.tau.clamp(min=0.01).reshape(1, self.num_heads, 1, 1)
        attn = attn + self._relative_positional_encodings()
        if mask is not None:
            num_win = mask.shape[0]
            attn = attn.view(
                bw // num_win, num_win, self.num_heads, length, length
            )
            attn = attn + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, length, length)
        attn = attn.softmax(dim=-1)
        x = (attn @ value).transpose(1, 2).reshape(bw, length, -1)
        return self.proj(x)


def _window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws[0], ws[0], w // ws[1], ws[1], c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws[0], ws[1], c)


def _window_reverse(windows, ws, size):
    h, w = size
    b = int(windows.shape[0] / (h * w / ws[0] / ws[1]))
    x = windows.view(b, h // ws[0], w // ws[1], ws[0], ws[1], -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


class SwinTransformerBlock(nn.Module):
    """Audio-MAE's decoder block (`decoder_mode=1`), copied from its
    `timm_patch/swin_transformer.py`: post-norm branches, a cyclic shift
    and Swin's -100 region mask. LayerNorm eps 1e-6 (`norm_layer`)."""

    def __init__(self, dim, num_heads, feat_size, window_size, shift_size):
        super().__init__()
        self.feat_size = feat_size
        self.window_size = tuple(
            f if f <= w else w for f, w in zip(feat_size, window_size)
        )
        self.shift_size = tuple(
            0 if f <= w else s
            for f, w, s in zip(feat_size, self.window_size, shift_size)
        )
        self.window_area = self.window_size[0] * self.window_size[1]
        self.attn = WindowMultiHeadAttention(dim, num_heads, self.window_size)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * 4)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        if any(self.shift_size):
            h, w = self.feat_size
            img_mask = torch.zeros((1, h, w, 1))
            cnt = 0
            ws, ss = self.window_size, self.shift_size
            for hs in (
                slice(0, -ws[0]),
                slice(-ws[0], -ss[0]),
                slice(-ss[0], None),
            ):
                for wsl in (
                    slice(0, -ws[1]),
                    slice(-ws[1], -ss[1]),
                    slice(-ss[1], None),
                ):
                    img_mask[:, hs, wsl, :] = cnt
                    cnt += 1
            mask_windows = _window_partition(img_mask, ws).view(
                -1, self.window_area
            )
            attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
            attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0)
            attn_mask = attn_mask.masked_fill(attn_mask == 0, 0.0)
        else:
            attn_mask = None
        self.register_buffer("attn_mask", attn_mask, persistent=False)

    def _shifted_window_attn(self, x):
        h, w = self.feat_size
        b, length, c = x.shape
        x = x.view(b, h, w, c)
        sh, sw = self.shift_size
        if any(self.shift_size):
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        windows = _window_partition(x, self.window_size).view(
            -1, self.window_area, c
        )
        windows = self.attn(windows, mask=self.attn_mask)
        windows = windows.view(-1, self.window_size[0], self.window_size[1], c)
        x = _window_reverse(windows, self.window_size, self.feat_size)
        if any(self.shift_size):
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x.view(b, length, c)

    def forward(self, x):
        x = x + self.norm1(self._shifted_window_attn(x))
        return x + self.norm2(self.mlp(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch=16):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def _sincos_1d(dim, pos):
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid_h, grid_w):
    """MAE/MaskSpec `get_2d_sincos_pos_embed(dim, h, w, cls_token=True)`
    (= Audio-MAE's `..._flexible(dim, (h, w), cls_token=True)`)."""
    gh = np.arange(grid_h, dtype=np.float32)
    gw = np.arange(grid_w, dtype=np.float32)
    grid = np.stack(np.meshgrid(gw, gh), axis=0).reshape(2, 1, grid_h, grid_w)
    emb = np.concatenate(
        [_sincos_1d(dim // 2, grid[0]), _sincos_1d(dim // 2, grid[1])], axis=1
    )
    return np.concatenate([np.zeros([1, dim]), emb], axis=0)[None]


class AugmentMelSTFT(nn.Module):
    """PaSST/MaskSpec front end in eval mode (32 kHz, 128 mel)."""

    def __init__(self):
        super().__init__()
        self.register_buffer(
            "window", torch.hann_window(800, periodic=False), persistent=False
        )
        self.register_buffer(
            "preemphasis_coefficient",
            torch.as_tensor([[[-0.97, 1.0]]]),
            persistent=False,
        )
        banks = mel_banks(128, 1024, 32000, 0.0, 15000.0)
        self.register_buffer(
            "mel_basis",
            torch.as_tensor(banks, dtype=torch.float32),
            persistent=False,
        )

    def forward(self, x):
        x = nn.functional.conv1d(
            x.unsqueeze(1), self.preemphasis_coefficient
        ).squeeze(1)
        x = torch.stft(
            x,
            1024,
            hop_length=320,
            win_length=800,
            center=True,
            normalized=False,
            window=self.window,
            return_complex=True,
        )
        x = x.real**2 + x.imag**2
        melspec = torch.matmul(self.mel_basis, x)
        melspec = (melspec + 0.00001).log()
        return (melspec + 4.5) / 5.0


class _MaskSpecFrontEnd(nn.Module):
    def _init_mel(self, frame_mean, frame_std):
        self.mel = AugmentMelSTFT()
        self.frame_mean = torch.as_tensor(frame_mean, dtype=torch.float32)
        self.frame_std = torch.as_tensor(frame_std, dtype=torch.float32)

    def mel_forward(self, x):
        old_shape = x.size()
        x = x.reshape(-1, old_shape[2])
        x = self.mel(x)
        x = (x - self.frame_mean[None, :, None]) / self.frame_std[None, :, None]
        return x.reshape(old_shape[0], old_shape[1], x.shape[1], x.shape[2])


class MaskSpecMAE(_MaskSpecFrontEnd):
    """MaskSpec `MaskedAutoencoderViT` (frequency-first input)."""

    def __init__(self, frames, dim, depth, heads, ddim, ddepth, dheads, stats):
        super().__init__()
        self._init_mel(*stats)
        self.img_size = (128, frames)
        self.grid = (128 // 16, frames // 16)
        n = self.grid[0] * self.grid[1]
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(dim, *self.grid)).float(),
            requires_grad=False,
        )
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, ddim, bias=True)
        self.mask_token = nn.Parameter(torch.randn(1, 1, ddim) * 0.5)
        self.decoder_pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(ddim, *self.grid)).float(),
            requires_grad=False,
        )
        self.decoder_blocks = nn.ModuleList(
            [Block(ddim, dheads) for _ in range(ddepth)]
        )
        self.decoder_norm = nn.LayerNorm(ddim, eps=1e-6)
        self.decoder_pred = nn.Linear(ddim, 16 * 16, bias=True)
        assert self.pos_embed.shape[1] == n + 1

    def forward(self, waveform):
        """Returns (latent, pred) without masking (ids_restore = identity)."""
        imgs = self.mel_forward(waveform[:, None])
        imgs = imgs[:, :, : self.img_size[0], : self.img_size[1]]
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(
            x.shape[0], -1, -1
        )
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        latent = self.norm(x)
        x = self.decoder_embed(latent) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        return latent, pred


class MaskSpecViT(_MaskSpecFrontEnd):
    """MaskSpec fine-tuning `VisionTransformer` (global_pool=True)."""

    def __init__(self, frames, dim, depth, heads, num_classes, stats):
        super().__init__()
        self._init_mel(*stats)
        self.target_size = (128, frames)
        self.grid = (128 // 16, frames // 16)
        n = self.grid[0] * self.grid[1]
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.5)
        self.patch_embed = PatchEmbed(dim)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, waveform):
        x = self.mel_forward(waveform[:, None])
        if x.shape[3] < self.target_size[1]:  # their reshape_wav2img
            x = nn.functional.interpolate(
                x, (x.shape[2], self.target_size[1]), mode="bicubic"
            )
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.fc_norm(x[:, 1:, :].mean(dim=1)))


def audiomae_fbank(waveform, target_length):
    """Audio-MAE `_wav2fbank` + normalisation for one clip -> (T, 128)."""
    waveform = waveform[None] - waveform.mean()
    # torchaudio.compliance.kaldi.fbank(waveform, htk_compat=True,
    # sample_frequency=16000, use_energy=False, window_type='hanning',
    # num_mel_bins=128, dither=0.0, frame_shift=10), step by step:
    strided = waveform[0].unfold(0, 400, 160)  # snip_edges=True
    strided = strided - strided.mean(dim=1, keepdim=True)
    offset = nn.functional.pad(strided.unsqueeze(0), (1, 0), mode="replicate")
    strided = strided - 0.97 * offset.squeeze(0)[:, :-1]
    strided = strided * torch.hann_window(400, periodic=False)
    strided = nn.functional.pad(strided, (0, 512 - 400))
    spectrum = torch.fft.rfft(strided).abs().pow(2.0)
    banks = torch.as_tensor(mel_banks(128, 512, 16000, 20.0, 0.0)).float()
    mel = spectrum @ banks.T
    fbank = torch.max(mel, torch.tensor(torch.finfo(torch.float).eps)).log()
    p = target_length - fbank.shape[0]
    if p > 0:
        fbank = nn.ZeroPad2d((0, 0, 0, p))(fbank)
    elif p < 0:
        fbank = fbank[0:target_length, :]
    return (fbank - (-4.2677393)) / (4.5689974 * 2)


class _AudioMAEBase(nn.Module):
    def _init_encoder(self, target_length, dim, depth, heads):
        self.target_length = target_length
        # PatchEmbed_org.patch_hw = (W // p, H // p) = (mel, time) patches.
        self.patch_hw = (128 // 16, target_length // 16)
        n = self.patch_hw[0] * self.patch_hw[1]
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(dim, *self.patch_hw)).float(),
            requires_grad=False,
        )
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        assert self.pos_embed.shape[1] == n + 1

    def features(self, waveform):
        x = torch.stack(
            [audiomae_fbank(w, self.target_length) for w in waveform]
        )[:, None]  # (B, 1, T, 128), time first
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(
            x.shape[0], -1, -1
        )
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return x


class AudioMAEPretrain(_AudioMAEBase):
    """Audio-MAE `MaskedAutoencoderViT` (audio_exp, decoder_mode=1).

    `forward` returns the normed encoder tokens and `forward_decoder`'s
    prediction with nothing hidden (`ids_restore` the identity). Blocks
    `SwinTransformerBlock(num_heads=dheads, window (4, 4), shift (0, 0) /
    (2, 0) alternately)`; Audio-MAE fixes 16 blocks of 16 heads.
    """

    def __init__(
        self, target_length, dim, depth, heads, ddim, ddepth=2, dheads=2
    ):
        super().__init__()
        self._init_encoder(target_length, dim, depth, heads)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, ddim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.decoder_pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(ddim, *self.patch_hw)).float(),
            requires_grad=False,
        )
        feat_size = (self.patch_hw[1], self.patch_hw[0])  # (time, mel)
        self.decoder_blocks = nn.ModuleList(
            [
                SwinTransformerBlock(
                    ddim, dheads, feat_size, (4, 4), (2, 0) if i % 2 else (0, 0)
                )
                for i in range(ddepth)
            ]
        )
        self.decoder_norm = nn.LayerNorm(ddim, eps=1e-6)
        self.decoder_pred = nn.Linear(ddim, 16 * 16, bias=True)

    def forward(self, waveform):
        latent = self.norm(self.features(waveform))
        x = self.decoder_embed(latent) + self.decoder_pos_embed
        x = x[:, 1:, :]
        for blk in self.decoder_blocks:
            x = blk(x)
        return latent, self.decoder_pred(self.decoder_norm(x))


class AudioMAEViT(_AudioMAEBase):
    """Audio-MAE fine-tuning `VisionTransformer` (global_pool=True)."""

    def __init__(self, target_length, dim, depth, heads, num_classes):
        super().__init__()
        self._init_encoder(target_length, dim, depth, heads)
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, waveform):
        x = self.features(waveform)
        return self.head(self.fc_norm(x[:, 1:, :].mean(dim=1)))


def randomize_norms(module, generator):
    """LayerNorms away from (1, 0), so a mix-up of gamma/beta shows."""
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            with torch.no_grad():
                m.weight.add_(
                    0.2 * torch.randn(m.weight.shape, generator=generator)
                )
                m.bias.add_(
                    0.2 * torch.randn(m.bias.shape, generator=generator)
                )
