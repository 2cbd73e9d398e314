"""Pre-training speed: Keras (TF / JAX / torch backends) vs plain PyTorch.

Times full MaskSpec pre-training steps (log-mel front end, masking, encoder
on the visible 25 %, decoder, masked loss, AdamW update) for the tiny and
small presets, each Keras backend in its own subprocess, against a PyTorch
reference of the same architecture written here (timm cannot be imported
beside torch 2.13: its torchvision does not load): same front end shapes,
patch count, block layout (pre-norm ViT blocks, fused
`scaled_dot_product_attention`), decoder, loss and AdamW. Also times the
reference with the encoder run on all patches (mask tokens in the encoder,
SSAST-style) to show what encoding only the visible 25 % saves.

Keras variants: `plain` (no XLA, float32), `xla` (`jit_compile=True`) and
`xla+bf16` (`mixed_bfloat16`, only where the CPU has native bfloat16,
AVX-512 BF16 or AMX) on TensorFlow and JAX, plus `bf16` (no XLA) on
TensorFlow (the fastest decoder block in `profile_block.py`); `plain` and
`bf16` on torch
(Keras' `jit_compile` there means `torch.compile`). Each backend also times
its encoder blocks alone (forward, backward, AdamW) on the visible 25 % of
the patches and on all of them: the speed-up of encoding only what is
visible.

Usage:
    python benchmarks/training_speed.py [--seconds 2] [--batch 8]
        [--steps 3] [--warmup 2] [--presets tiny,small]

Prints a markdown table (seconds per step, steps/s, ratio to the PyTorch
reference) after the load average; on a busy machine (see `_machine.py`)
it prints the raw lines only. Nothing is hard-coded.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import _machine

PRESETS = {
    "tiny": dict(hidden=192, layers=12, heads=3, mlp=768),
    "small": dict(hidden=384, layers=12, heads=6, mlp=1536),
}
DECODER = dict(hidden=512, layers=8, heads=16, mlp=2048)
SAMPLE_RATE = 32000


# === Keras worker (one backend per process) ===


def keras_worker(args):
    import keras
    import numpy as np

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(args.torch_threads)
    variants = [("plain", False, None)]
    if backend == "tensorflow":
        variants += [
            ("bf16", False, "mixed_bfloat16"),
            ("xla", True, None),
            ("xla+bf16", True, "mixed_bfloat16"),
        ]
    if backend == "jax":
        variants = [("xla", True, None), ("xla+bf16", True, "mixed_bfloat16")]
    if backend == "torch":
        variants += [("bf16", False, "mixed_bfloat16")]
    if args.no_mixed or not _machine.has_bf16():
        variants = [v for v in variants if v[2] is None]
    rng = np.random.default_rng(0)
    samples = int(args.seconds * SAMPLE_RATE)
    audio = (0.1 * rng.normal(size=(args.batch, samples))).astype("float32")
    results = []
    for preset in args.presets.split(","):
        for name, jit, dtype in variants:
            model, seconds, loss = time_pretrainer(
                preset, dtype, jit, audio, args
            )
            loss = float(np.asarray(loss).ravel()[0])
            results.append(
                dict(
                    impl=f"keras-{backend}",
                    variant=name,
                    preset=preset,
                    seconds=seconds,
                    finite=math.isfinite(loss),
                    patches=model.encoder.num_patches(samples),
                )
            )
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            if (name, jit) == _ENCODER_VARIANT[backend]:
                results.append(_encoder_part(model, samples, args, jit))
                results[-1].update(preset=preset, variant=f"{name}, float32")
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print("RESULTS " + json.dumps(results), flush=True)


def time_steps(step, warmup, steps):
    """Seconds per call of `step()` after `warmup` untimed calls.

    Returns `(seconds, result)`, `result` being the last call's.

    Examples:
    >>> seconds, result = time_steps(lambda: 7, warmup=1, steps=2)
    >>> result, seconds >= 0
    (7, True)
    """
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        result = step()
    return (time.perf_counter() - start) / steps, result


def time_pretrainer(preset, dtype, jit, audio, args):
    """Times `train_on_batch(audio)` of a fresh `maskspec_{preset}` model.

    The model is built with `dtype` as its encoder's dtype policy (`None`:
    the default) and compiled with `jit_compile=jit`; `args.warmup` and
    `args.steps` say how many steps are untimed and timed.

    Returns:
        `(model, seconds per step, last loss)`.

    Examples:
    >>> import argparse, numpy as np
    >>> args = argparse.Namespace(warmup=0, steps=1)
    >>> audio = np.zeros((1, 32000), "float32")
    >>> _, seconds, loss = time_pretrainer("test", None, False, audio, args)
    >>> seconds > 0
    True
    """
    import keras

    from keras_maskspec.models import MaskSpecPretrainer

    keras.backend.clear_session()
    model = MaskSpecPretrainer.from_preset(
        f"maskspec_{preset}",
        encoder_kwargs={"dtype": dtype} if dtype else None,
        seed=0,
    )
    model.compile(learning_rate=1e-4, jit_compile=jit)
    seconds, loss = time_steps(
        lambda: model.train_on_batch(audio), args.warmup, args.steps
    )
    return model, seconds, loss


# The float32 variant whose encoder is also timed alone.
_ENCODER_VARIANT = {
    "tensorflow": ("xla", True),
    "jax": ("xla", True),
    "torch": ("plain", False),
}


def _encoder_part(model, samples, args, jit):
    """Encoder blocks alone (fwd + bwd + AdamW): visible 25 % vs all."""
    import keras
    import numpy as np

    encoder = model.encoder
    total = encoder.num_patches(samples)
    keep = model.masking.num_visible(total)
    seconds = {}
    for tokens in (keep, total):
        inputs = keras.Input((tokens, encoder.hidden_dim))
        part = keras.Model(inputs, encoder.final_norm(encoder.encode(inputs)))
        part.compile(optimizer="adamw", loss="mse", jit_compile=jit)
        x = np.random.default_rng(0).normal(
            size=(args.batch, tokens, encoder.hidden_dim)
        )
        y = np.zeros((args.batch, tokens + 1, encoder.hidden_dim))
        x, y = x.astype("float32"), y.astype("float32")
        seconds[tokens], _ = time_steps(
            lambda: part.train_on_batch(x, y), args.warmup, args.steps
        )
    return dict(
        impl=f"keras-{keras.backend.backend()}",
        encoder=True,
        seconds=seconds[keep],
        seconds_all=seconds[total],
        visible=keep,
        patches=total,
    )


# === PyTorch reference ===


def torch_reference(args, preset, encode_all=False):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    size = PRESETS[preset]

    class Block(nn.Module):
        def __init__(self, dim, heads, mlp):
            super().__init__()
            self.heads = heads
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.fc1 = nn.Linear(dim, mlp)
            self.fc2 = nn.Linear(mlp, dim)

        def forward(self, x):
            b, n, d = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, -1)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v)
            x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

    def sincos(grid_t, grid_f, dim):
        t, f = torch.meshgrid(
            torch.arange(grid_t), torch.arange(grid_f), indexing="ij"
        )
        quarter = dim // 4
        omega = 1.0 / 10000 ** (torch.arange(quarter) / quarter)
        parts = []
        for pos in (t.reshape(-1), f.reshape(-1)):
            out = pos[:, None].float() * omega[None]
            parts += [torch.sin(out), torch.cos(out)]
        return torch.cat(parts, 1)[None]

    class MaskSpecTorch(nn.Module):
        def __init__(self):
            super().__init__()
            dim, ddim = size["hidden"], DECODER["hidden"]
            self.register_buffer("window", torch.hann_window(800))
            self.register_buffer("mel", torch.rand(513, 128) * 0.01)
            self.patch = nn.Conv2d(1, dim, 16, 16)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.mask_token_enc = nn.Parameter(torch.zeros(1, 1, dim))
            self.blocks = nn.ModuleList(
                Block(dim, size["heads"], size["mlp"])
                for _ in range(size["layers"])
            )
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.dec_embed = nn.Linear(dim, ddim)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
            self.dec_blocks = nn.ModuleList(
                Block(ddim, DECODER["heads"], DECODER["mlp"])
                for _ in range(DECODER["layers"])
            )
            self.dec_norm = nn.LayerNorm(ddim, eps=1e-6)
            self.head = nn.Linear(ddim, 256)

        def logmel(self, wave):
            wave = wave[:, 1:] - 0.97 * wave[:, :-1]
            window = F.pad(self.window, (112, 112))
            spec = torch.stft(
                wave, 1024, 320, window=window, return_complex=True
            )
            power = spec.real**2 + spec.imag**2
            mel = torch.matmul(power.transpose(1, 2), self.mel)
            return (torch.log(mel + 1e-5) + 4.5) / 5.0  # (b, frames, mel)

        def forward(self, wave):
            spec = self.logmel(wave)
            b, frames, mels = spec.shape
            gt, gf = frames // 16, mels // 16
            spec = spec[:, : gt * 16]
            tokens = self.patch(spec[:, None]).flatten(2).transpose(1, 2)
            n, dim = tokens.shape[1], tokens.shape[2]
            tokens = tokens + sincos(gt, gf, dim)
            target = (
                spec.reshape(b, gt, 16, gf, 16)
                .permute(0, 1, 3, 2, 4)
                .reshape(b, n, 256)
            )
            keep = int(n * 0.25)
            ids_shuffle = torch.argsort(torch.rand(b, n), dim=1)
            ids_restore = torch.argsort(ids_shuffle, dim=1)
            mask = torch.ones(b, n)
            mask[:, :keep] = 0
            mask = torch.gather(mask, 1, ids_restore)
            if encode_all:
                x = torch.where(
                    mask[..., None] > 0,
                    self.mask_token_enc + 0 * tokens,
                    tokens,
                )
            else:
                ids_keep = ids_shuffle[:, :keep, None].expand(-1, -1, dim)
                x = torch.gather(tokens, 1, ids_keep)
            x = torch.cat([self.cls.expand(b, -1, -1), x], 1)
            for block in self.blocks:
                x = block(x)
            x = self.dec_embed(self.norm(x))
            if encode_all:
                y = x[:, 1:]
            else:
                fill = self.mask_token.expand(b, n - keep, -1)
                y = torch.cat([x[:, 1:], fill], 1)
                y = torch.gather(
                    y, 1, ids_restore[..., None].expand(-1, -1, y.shape[2])
                )
            y = y + sincos(gt, gf, y.shape[2])
            y = torch.cat([x[:, :1], y], 1)
            for block in self.dec_blocks:
                y = block(y)
            pred = self.head(self.dec_norm(y))[:, 1:]
            mean = target.mean(-1, keepdim=True)
            var = target.var(-1, keepdim=True, unbiased=False)
            target = (target - mean) / (var + 1e-6).sqrt()
            loss = ((pred - target) ** 2).mean(-1)
            return (loss * mask).sum() / mask.sum(), n

    model = MaskSpecTorch()
    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05
    )
    samples = int(args.seconds * SAMPLE_RATE)
    wave = 0.1 * torch.randn(args.batch, samples)

    def step():
        opt.zero_grad(set_to_none=True)
        loss, n = model(wave)
        loss.backward()
        opt.step()
        return float(loss.detach()), n

    seconds, (loss, n) = time_steps(step, args.warmup, args.steps)
    return dict(
        impl="torch-reference",
        variant="encode all patches" if encode_all else "eager",
        preset=preset,
        seconds=seconds,
        finite=math.isfinite(loss),
        patches=n,
    )


# === Driver ===


def run_backend(backend, args):
    env = dict(os.environ, KERAS_BACKEND=backend)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--seconds",
        str(args.seconds),
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--presets",
        args.presets,
        "--torch-threads",
        str(args.torch_threads),
    ]
    if args.no_mixed:
        cmd.append("--no-mixed")
    start = time.perf_counter()
    # stderr passes through: each result is printed as soon as measured.
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    result = _machine.worker_result(proc.stdout, "RESULTS")
    if result is not None:
        print(f"# {backend}: {wall:.0f} s wall", file=sys.stderr)
        return result
    return [
        dict(
            impl=f"keras-{backend}",
            variant="FAILED",
            preset="-",
            seconds=float("nan"),
            finite=False,
            patches=0,
        )
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--presets", default="tiny,small")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--no-mixed", action="store_true")
    # On a shared, overloaded box torch's OpenMP threads spin against the
    # other jobs; one thread can be several times faster there.
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count())
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        keras_worker(args)
        return

    guard = _machine.IdleGuard()
    import torch

    torch.set_num_threads(args.torch_threads)
    rows = []
    reference = {}
    for preset in args.presets.split(","):
        ref = torch_reference(args, preset)
        reference[preset] = ref["seconds"]
        rows += [ref, torch_reference(args, preset, encode_all=True)]
        print(json.dumps(rows[-2:]), file=sys.stderr, flush=True)
    for backend in args.backends.split(","):
        rows += run_backend(backend, args)
    encoder_rows = [r for r in rows if r.get("encoder")]
    rows = [r for r in rows if not r.get("encoder")]
    if not guard.ok:
        print(guard.refusal())
        return
    print(guard.header())
    print(
        f"\nbatch {args.batch} x {args.seconds:g} s clips, {args.warmup} "
        f"warm-up + {args.steps} timed steps, mask ratio 0.75\n"
    )
    print(
        "| preset | implementation | variant | patches | s/step | steps/s "
        "| vs torch reference (speed) | finite loss |"
    )
    print("|---|---|---|---|---|---|---|---|")
    order = {p: i for i, p in enumerate(args.presets.split(","))}
    for r in sorted(rows, key=lambda r: order.get(r["preset"], 99)):
        ratio = reference.get(r["preset"], float("nan")) / r["seconds"]
        print(
            f"| {r['preset']} | {r['impl']} | {r['variant']} | {r['patches']} "
            f"| {r['seconds']:.3f} | {1 / r['seconds']:.2f} | {ratio:.2f}x "
            f"| {r['finite']} |"
        )
    print(
        "\nEncoder blocks alone (forward, backward, AdamW): the visible "
        "25 % of the patches vs all of them.\n"
    )
    print(
        "| preset | implementation | variant | visible / all patches "
        "| s/step visible | s/step all | speed-up |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in encoder_rows:
        print(
            f"| {r['preset']} | {r['impl']} | {r['variant']} "
            f"| {r['visible']} / {r['patches']} | {r['seconds']:.3f} "
            f"| {r['seconds_all']:.3f} "
            f"| {r['seconds_all'] / r['seconds']:.2f}x |"
        )


if __name__ == "__main__":
    main()
