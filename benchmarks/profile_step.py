"""Where a JAX pre-training step spends its time, op by op.

Traces one `train_on_batch` of a fresh `maskspec_{preset}` model (JAX,
`jit_compile=True`, batch 8 x `--seconds`) with `jax.profiler.trace`,
after `--warmup` untimed steps. XLA's CPU runtime records one event per
thunk (a fusion, a dot, a copy) named after its HLO instruction; the
optimised HLO, dumped to a temporary folder while compiling, gives each
instruction the JAX operation it came from (`op_name`, e.g.
`transpose(jvp(decoder_layer_3))/fc1/dot_general`). Prints the thunk
milliseconds summed by part (encoder / decoder block, forward / backward)
and the most expensive operations (layer numbers merged).

Thunks can run side by side, so the sum can exceed the step's wall time;
shares are of the sum.

    python benchmarks/profile_step.py --preset tiny --seconds 10 --top 25
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import time

_OP_NAME = re.compile(r'^\s*%?([\w.\-]+) = \S+ .*?op_name="([^"]+)"', re.M)
_LAYER = re.compile(r"(decoder_layer|transformer_layer)_\d+")
_STEP = "jit(train_step)/"


def op_names(hlo_text):
    """`{instruction: op_name}` from optimised HLO text.

    Examples:
    >>> hlo = '  %dot.3 = f32[2]{0} dot(%a), metadata={op_name="jit(f)/fc1"}'
    >>> op_names(hlo)
    {'dot.3': 'jit(f)/fc1'}
    """
    return {m.group(1): m.group(2) for m in _OP_NAME.finditer(hlo_text)}


def part_of(op_name):
    """`(part, "forward" | "backward")` of one `op_name`: the encoder and
    decoder blocks as one part each, other layers by their own name.

    Examples:
    >>> part_of("jit(train_step)/transpose(jvp(decoder_layer_3))/fc1/dot")
    ('decoder_layer', 'backward')
    >>> part_of("jit(train_step)/jvp(frontend)/jit(fft)/fft")
    ('frontend', 'forward')
    """
    op = op_name.replace(_STEP, "")
    direction = "backward" if op.startswith("transpose(") else "forward"
    layer = _LAYER.search(op)
    if layer:
        return layer.group(1), direction
    name = re.sub(r"^(transpose\()?(jvp\()?", "", op).split("/")[0]
    return name.rstrip(")") or "(top level)", direction


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="profile_step_")
    try:
        profile(args, os.path.join(work, "hlo"), os.path.join(work, "trace"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def profile(args, dump, trace_dir):
    """Traces one step, prints the two tables."""
    # Before JAX is imported: dump the optimised HLO of the train step.
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_dump_to={dump} --xla_dump_hlo_as_text"
        + " --xla_dump_hlo_module_re=.*train_step.*"
    )
    import jax
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _machine

    from keras_maskspec.models import MaskSpecPretrainer

    model = MaskSpecPretrainer.from_preset(f"maskspec_{args.preset}", seed=0)
    model.compile(learning_rate=1e-4, jit_compile=True)
    samples = int(round(args.seconds * 32000))
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.normal(size=(8, samples))).astype("float32")
    for _ in range(max(args.warmup, 1)):
        model.train_on_batch(audio)
    guard = _machine.IdleGuard()
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
        start = time.perf_counter()
        model.train_on_batch(audio)
        wall = time.perf_counter() - start

    names = {}
    for path in glob.glob(f"{dump}/*train_step*after_optimizations.txt"):
        with open(path) as f:
            names.update(op_names(f.read()))
    (trace,) = glob.glob(f"{trace_dir}/**/*.trace.json.gz", recursive=True)
    with gzip.open(trace) as f:
        events = [
            e
            for e in json.load(f)["traceEvents"]
            if e.get("ph") == "X" and "hlo_op" in e.get("args", {})
        ]
    parts, ops = collections.Counter(), collections.Counter()
    counts = collections.Counter()
    for event in events:
        op = names.get(event["args"]["hlo_op"], event["args"]["hlo_op"])
        op = op.replace(_STEP, "")
        parts[part_of(op)] += event["dur"] / 1000
        op = _LAYER.sub(lambda m: m.group(1) + "_N", op)
        ops[op] += event["dur"] / 1000
        counts[op] += 1
    total = sum(parts.values())
    span = max(e["ts"] + e["dur"] for e in events) - min(
        e["ts"] for e in events
    )
    print(guard.header() if guard.ok else guard.refusal())
    print()
    print(
        f"`maskspec_{args.preset}`, JAX, batch 8 x {args.seconds:g} s: one "
        f"traced step {wall:.2f} s wall; its thunks span {span / 1e6:.2f} s "
        f"and sum to {total / 1000:.2f} s."
    )
    print()
    print("| part | direction | ms | share |")
    print("|---|---|---|---|")
    for (part, direction), ms in parts.most_common():
        if ms >= 0.005 * total:
            print(f"| {part} | {direction} | {ms:.0f} | {ms / total:.1%} |")
    print()
    print("| operation (layer numbers merged) | thunks | ms | share |")
    print("|---|---|---|---|")
    for op, ms in ops.most_common(args.top):
        print(f"| `{op}` | {counts[op]} | {ms:.0f} | {ms / total:.1%} |")


if __name__ == "__main__":
    main()
