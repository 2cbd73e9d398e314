"""Steady-state input pipeline next to the training step it feeds.

Writes `--num-files` small synthetic files (44.1 kHz 16-bit WAV, so every
clip is decoded, resampled to 32 kHz and cropped), then for each preset:

1. the input pipeline alone: `pretraining_dataset(..., training=True,
   shuffle=True)` with augmentation on (random crop, gain, roll and the
   authors' noise/volume/filter chain), batches of `--batch`, timed over
   `--batches` batches after `--warmup` batches (steady state: tracing,
   autotuning and the file cache are behind it), all cores;
2. the pre-training step alone on a batch already in memory
   (`train_on_batch`, `--variant`: XLA, and bfloat16 where the CPU has it);
3. both together: `model.fit(dataset, steps_per_epoch=...)`, as training
   runs.

Prints clips/s for each and names the bottleneck: the slower of 1 and 2.
On one machine both share the same cores, so 3 is below both.

    python benchmarks/input_pipeline.py --num-files 2000 --presets tiny,small
"""

import argparse
import json
import os
import sys
import tempfile
import time

import _machine

MODEL_RATE = 32000
FILE_RATE = 44100


def _write_files(folder, num_files, seconds):
    import soundfile as sf

    from keras_maskspec.data import synthetic_clip

    for i in range(num_files):
        wave, _ = synthetic_clip(i, FILE_RATE, seconds, seed=2)
        sf.write(os.path.join(folder, f"c{i:05d}.wav"), wave, FILE_RATE)


def _dataset(folder, args):
    from keras_maskspec.data import pretraining_dataset

    return pretraining_dataset(
        folder,
        sample_rate=MODEL_RATE,
        clip_seconds=args.seconds,
        batch_size=args.batch,
        shuffle=True,
        seed=0,
        training=True,
        gain_db=7,
        roll_samples=50,
        extra_augment=True,
    ).repeat()


def _pipeline_rate(folder, args):
    it = iter(_dataset(folder, args))
    for _ in range(args.warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(args.batches):
        next(it)
    return args.batches * args.batch / (time.perf_counter() - start)


def _model(preset, args):
    from keras_maskspec.models import MaskSpecPretrainer

    dtype = "mixed_bfloat16" if args.bf16 else None
    model = MaskSpecPretrainer.from_preset(
        f"maskspec_{preset}",
        encoder_kwargs={"dtype": dtype} if dtype else None,
        seed=0,
    )
    model.compile(learning_rate=1e-4, jit_compile=args.jit)
    return model


def _step_rate(preset, args):
    import numpy as np

    model = _model(preset, args)
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(args.batch, int(args.seconds * MODEL_RATE)))
    batch = (0.1 * batch).astype("float32")
    for _ in range(2):
        model.train_on_batch(batch)
    steps = max(2, args.steps)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(batch)
    return steps * args.batch / (time.perf_counter() - start)


def _fit_rate(folder, preset, args):
    model = _model(preset, args)
    ds = _dataset(folder, args)
    model.fit(ds, steps_per_epoch=2, verbose=0, shuffle=False)
    steps = max(2, args.steps)
    start = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, verbose=0, shuffle=False)
    return steps * args.batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-files", type=int, default=2000)
    parser.add_argument("--file-seconds", type=float, default=2.5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--presets", default="tiny,small")
    parser.add_argument("--no-jit", dest="jit", action="store_false")
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=_machine.has_bf16(),
    )
    args = parser.parse_args()
    guard = _machine.IdleGuard()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        _write_files(folder, args.num_files, args.file_seconds)
        pipeline = _pipeline_rate(folder, args)
        print(json.dumps({"pipeline_clips_per_s": pipeline}), file=sys.stderr)
        for preset in args.presets.split(","):
            step = _step_rate(preset, args)
            fit = _fit_rate(folder, preset, args)
            line = {"preset": preset, "step": step, "fit": fit}
            print(json.dumps(line), file=sys.stderr)
            neck = "training step" if step < pipeline else "input pipeline"
            rows.append(
                f"| {preset} | {pipeline:.1f} | {step:.2f} | {fit:.2f} "
                f"| {neck} ({max(pipeline, step) / min(pipeline, step):.0f}x) |"
            )
    if not guard.ok:
        print(guard.refusal())
        return
    variant = ("XLA" if args.jit else "no XLA") + (
        " + mixed_bfloat16" if args.bf16 else ", float32"
    )
    print(guard.header())
    print(
        f"\n{args.num_files} WAV files of {args.file_seconds:g} s at 44.1 kHz; "
        f"clips of {args.seconds:g} s at 32 kHz, batch {args.batch}, "
        "augmentation on (random crop, gain, roll, noise/volume/filters); "
        f"step: Keras on {os.environ.get('KERAS_BACKEND', 'tensorflow')}, "
        f"{variant}.\n"
    )
    print(
        "| preset | input pipeline alone (clips/s) | training step alone "
        "(clips/s) | fit on the pipeline (clips/s) | bottleneck |"
    )
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
