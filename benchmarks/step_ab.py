"""A/B: the same pre-training step timed in two checkouts of the library.

For one change to the library (a commit, a working tree), times
`train_on_batch` of a fresh `maskspec_{preset}` model (`time_pretrainer`
of `training_speed.py`: batch 8 x `--seconds`, 2 s by default, compiled
as that script compiles it) with checkout A and with checkout B on one
Keras backend, alternating A, B, A, B ... in fresh subprocesses
(`PYTHONPATH` set to the checkout), so both see the same machine state.
Prints seconds per step per round and the median ratio A / B (> 1: B is
faster).

    git worktree add /tmp/base HEAD
    python benchmarks/step_ab.py --a /tmp/base --b . --backend jax \\
        --preset tiny --rounds 2 [--seconds 10 --steps 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import _machine

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(args):
    import numpy as np
    import training_speed

    samples = int(round(args.seconds * 32000))
    audio = np.random.default_rng(0).normal(size=(8, samples)) * 0.1
    _, seconds, _ = training_speed.time_pretrainer(
        args.preset, None, args.jit, audio.astype("float32"), args
    )
    print("RESULT " + json.dumps({"seconds": seconds}), flush=True)


def _run(checkout, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    cmd += ["--preset", args.preset, "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--jit", str(int(args.jit))]
    cmd += ["--seconds", str(args.seconds)]
    env = dict(
        os.environ,
        KERAS_BACKEND=args.backend,
        PYTHONPATH=os.pathsep.join([os.path.abspath(checkout), HERE]),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    result = _machine.worker_result(out.stdout)
    if result is not None:
        return result["seconds"]
    raise RuntimeError(f"{checkout} failed:\n{out.stderr[-2000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", help="Checkout A (the baseline).")
    parser.add_argument("--b", help="Checkout B (the change).")
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="Clip length (s)."
    )
    parser.add_argument(
        "--jit",
        type=int,
        default=None,
        help="1: jit_compile=True; default: on except under torch.",
    )
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.jit is None:
        args.jit = args.backend != "torch"
    args.jit = bool(args.jit)
    if args.worker:
        return worker(args)
    guard = _machine.IdleGuard()
    rows = []
    for r in range(args.rounds):
        a, b = _run(args.a, args), _run(args.b, args)
        rows.append((a, b))
        print(f"round {r}: A {a:.3f} s, B {b:.3f} s", file=sys.stderr)
    if not guard.ok:
        print(guard.refusal())
        return None
    print(guard.header())
    print(
        f"\n`maskspec_{args.preset}`, KERAS_BACKEND={args.backend}, "
        f"jit_compile={args.jit}, batch 8 x {args.seconds:g} s, "
        f"{args.warmup} warm-up + "
        f"{args.steps} timed steps per process; A = {args.a}, B = {args.b}.\n"
    )
    print("| round | A s/step | B s/step | A / B |")
    print("|---|---|---|---|")
    for r, (a, b) in enumerate(rows):
        print(f"| {r} | {a:.3f} | {b:.3f} | {a / b:.2f}x |")
    ratio = statistics.median(a / b for a, b in rows)
    print(f"\nMedian A / B: {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()
