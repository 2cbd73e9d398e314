"""Accelerator throughput: clips/s, step time and model-FLOPs utilisation.

For each Keras backend (one subprocess each) and preset, times MaskSpec
pre-training steps (`train_on_batch` on a batch already on the host) with
bfloat16 (`mixed_bfloat16`) and XLA (`jit_compile=True`; on the torch
backend Keras' `jit_compile` means `torch.compile`, so the torch rows run
eagerly with bfloat16). Model FLOPs per step are counted from the shapes
(`step_flops`: matmuls and attention of encoder on the visible 25 %,
decoder on all patches, patch embedding and head; backward = 2x forward;
the log-mel front end is left out), and MFU = achieved FLOP/s / peak
FLOP/s, the peak being the datasheet dense bf16 figure of a known GPU
(`GPU_PEAK_TFLOPS`) or, on a CPU, the best bf16/float32 matmul rate the
backend reaches on this machine (measured, labelled as such).

Next to it, the input pipeline on the host's cores
(`input_pipeline._pipeline_rate`: decode, resample, crop, augmentation)
in clips/s, and which of the two limits training.

Without a GPU the script runs the test-sized and small presets on 2 s clips
and says so in its output (a CPU is not what the table is for).

    python benchmarks/gpu.py                       # GPU: tiny, small, base
    python benchmarks/gpu.py --presets test,small  # what a CPU gets
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _machine
from training_speed import time_pretrainer

MODEL_RATE = 32000
# Dense bfloat16 tensor-core peaks (no sparsity), TFLOP/s, from the vendors'
# datasheets (SXM parts).
GPU_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L4": 121.0}


def step_flops(preset, seconds, batch, mask_ratio=0.75):
    """Model FLOPs of one pre-training step (forward + backward).

    Examples:
    >>> round(step_flops("base", 10.0, 1) / 1e11, 1)
    1.5
    """
    from keras_maskspec.models import MaskSpecEncoder
    from keras_maskspec.models.presets import get_preset

    size = get_preset(f"maskspec_{preset}")
    encoder = MaskSpecEncoder.from_preset(f"maskspec_{preset}")
    n = encoder.num_patches(int(seconds * MODEL_RATE))
    keep = max(int(n * (1 - mask_ratio)), 1)
    patch_dim = encoder.patch_size[0] * encoder.patch_size[1]

    def block(length, dim, mlp):
        return length * (4 * dim * dim + 2 * dim * mlp) + 2 * length**2 * dim

    d, dd = size["hidden_dim"], size["decoder_hidden_dim"]
    macs = (
        n * patch_dim * d
        + size["num_layers"] * block(keep + 1, d, size["intermediate_dim"])
        + (keep + 1) * d * dd
        + size["decoder_num_layers"]
        * block(n + 1, dd, size["decoder_intermediate_dim"])
        + n * dd * patch_dim
    )
    return 3 * 2 * macs * batch


def _device():
    """`(name, peak TFLOP/s or None)` of the first GPU, or `(None, None)`."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    name = out.stdout.strip().splitlines()[0] if out.returncode == 0 else ""
    if not name:
        return None, None
    peak = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in name), None)
    return name, peak


def _matmul_peak():
    """Best matmul FLOP/s of this backend (bf16 and float32), measured."""
    import keras
    from keras import ops

    best = 0.0
    for dtype in ("bfloat16", "float32"):
        a = keras.random.normal((2048, 2048), dtype=dtype)
        for _ in range(2):
            ops.convert_to_numpy(ops.cast(ops.matmul(a, a)[0, 0], "float32"))
        start = time.perf_counter()
        for _ in range(5):
            ops.convert_to_numpy(ops.cast(ops.matmul(a, a)[0, 0], "float32"))
        rate = 5 * 2 * 2048**3 / (time.perf_counter() - start)
        best = max(best, rate)
    return best


def worker(args):
    import keras
    import numpy as np

    backend = keras.backend.backend()
    jit = backend != "torch"
    peak = args.peak * 1e12 if args.peak else _matmul_peak()
    rng = np.random.default_rng(0)
    samples = int(args.seconds * MODEL_RATE)
    audio = (0.1 * rng.normal(size=(args.batch, samples))).astype("float32")
    results = []
    for preset in args.presets.split(","):
        _, seconds, loss = time_pretrainer(
            preset, "mixed_bfloat16", jit, audio, args
        )
        flops = step_flops(preset, args.seconds, args.batch)
        results.append(
            dict(
                backend=backend,
                preset=preset,
                seconds=seconds,
                clips_per_s=args.batch / seconds,
                tflops=flops / seconds / 1e12,
                mfu=flops / seconds / peak,
                peak_tflops=peak / 1e12,
                finite=bool(np.isfinite(np.asarray(loss)).all()),
                variant="bf16 + XLA" if jit else "bf16, eager",
            )
        )
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print("RESULTS " + json.dumps(results), flush=True)


def _run_backend(backend, args, peak):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    for name in ("presets", "seconds", "batch", "steps", "warmup"):
        cmd += [f"--{name}", str(getattr(args, name))]
    if peak:
        cmd += ["--peak", str(peak)]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    result = _machine.worker_result(out.stdout, "RESULTS")
    if result is not None:
        return result
    return [dict(backend=backend, preset="-", variant="FAILED")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--pipeline-files", type=int, default=1000)
    parser.add_argument("--peak", type=float, default=None)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    guard = _machine.IdleGuard()
    name, peak = _device()
    on_gpu = name is not None
    args.presets = args.presets or (
        "tiny,small,base" if on_gpu else "test,small"
    )
    args.seconds = args.seconds or (10.0 if on_gpu else 2.0)
    args.batch = args.batch or (64 if on_gpu else 8)
    rows = []
    for backend in args.backends.split(","):
        rows += _run_backend(backend, args, peak)

    import input_pipeline

    pipe_args = argparse.Namespace(
        seconds=args.seconds, batch=args.batch, warmup=10, batches=50
    )
    with tempfile.TemporaryDirectory() as folder:
        input_pipeline._write_files(
            folder, args.pipeline_files, args.seconds + 0.5
        )
        pipeline = input_pipeline._pipeline_rate(folder, pipe_args)
    if not guard.ok:
        print(guard.refusal())
        return
    print(guard.header())
    if on_gpu:
        where = f"GPU: {name} (peak {peak or 'unknown'} TFLOP/s bf16 dense)"
    else:
        where = (
            "NO GPU on this machine: CPU run of the test-sized and small "
            "presets, MFU against the best matmul rate measured here "
            "(not a datasheet peak). Not the GPU table the issue asks for."
        )
    print(f"\n{where}\n")
    print(
        f"Batch {args.batch} x {args.seconds:g} s clips, {args.warmup} "
        f"warm-up + {args.steps} timed steps. Input pipeline on "
        f"{os.cpu_count()} host cores (decode 44.1 kHz WAV, resample, crop, "
        f"augment): {pipeline:.1f} clips/s.\n"
    )
    print(
        "| backend | preset | variant | s/step | clips/s | model TFLOP/s "
        "| MFU | peak used (TFLOP/s) | bottleneck | finite loss |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.get("variant") == "FAILED":
            print(f"| {r['backend']} | - | FAILED | | | | | | | |")
            continue
        neck = "step" if r["clips_per_s"] < pipeline else "input pipeline"
        print(
            f"| {r['backend']} | {r['preset']} | {r['variant']} "
            f"| {r['seconds']:.3f} | {r['clips_per_s']:.1f} "
            f"| {r['tflops']:.3f} | {100 * r['mfu']:.1f} % "
            f"| {r['peak_tflops']:.2f} | {neck} | {r['finite']} |"
        )


if __name__ == "__main__":
    main()
