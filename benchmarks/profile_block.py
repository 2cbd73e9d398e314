"""Where a Keras pre-training step loses to PyTorch: one decoder block.

Times forward + backward of one `TransformerBlock` at the decoder's shape
of a 10 s clip (batch 8 x 497 tokens x 512, 16 heads, MLP 2048) and of its
two halves (the attention sub-layer: `qkv` projection + attention core;
the MLP sub-layer: LayerNorm, `fc1`, GELU, `fc2`), on TensorFlow (plain
and XLA, float32 and `mixed_bfloat16`) and on plain PyTorch
(`F.scaled_dot_product_attention`), each in its own process with ONE
thread, measured as CPU seconds (`time.process_time`): a ratio of CPU
time depends much less on other jobs than wall time does, so this profile
is usable on a shared machine; it is not a throughput figure.

    python benchmarks/profile_block.py [--tokens 497] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import _machine

SHAPE = dict(batch=8, hidden=512, heads=16, mlp=2048)


def _cpu_ms(fn, repeats):
    fn()
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats * 1e3


def tf_worker(args):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_maskspec.layers.transformer_block import TransformerBlock

    b, d, h = SHAPE["batch"], SHAPE["hidden"], SHAPE["heads"]
    x = np.random.default_rng(0).normal(size=(b, args.tokens, d))
    x = tf.constant(x.astype("float32"))
    out = {}
    for dtype in ("float32", "mixed_bfloat16"):
        block = TransformerBlock(d, h, SHAPE["mlp"], dtype=dtype)
        block(x)

        def attention(t, block=block):
            return block._attention(block.norm1(t), False)

        def mlp(t, block=block):
            hidden = block.fc1(block.norm2(t))
            hidden = keras.activations.gelu(hidden, approximate=False)
            return block.fc2(hidden)

        for jit in (False, True):
            for part, fn in (("block", block), ("attention", attention),
                             ("mlp", mlp)):  # fmt: skip

                @tf.function(jit_compile=jit)
                def step(t, fn=fn, block=block):
                    with tf.GradientTape() as tape:
                        tape.watch(t)
                        y = tf.cast(fn(t), "float32")
                        loss = tf.reduce_sum(y * y)
                    return tape.gradient(loss, [t] + block.trainable_variables)

                name = f"{'xla' if jit else 'plain'}, {dtype}"
                out[f"{part}|{name}"] = _cpu_ms(
                    lambda s=step: s(x), args.repeats
                )
                print(name, part, out[f"{part}|{name}"], file=sys.stderr)
    return out


def torch_worker(args):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(1)
    b, d, h = SHAPE["batch"], SHAPE["hidden"], SHAPE["heads"]
    x = torch.randn(b, args.tokens, d, requires_grad=True)
    norm1, norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
    qkv, proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
    fc1, fc2 = nn.Linear(d, SHAPE["mlp"]), nn.Linear(SHAPE["mlp"], d)

    def attention(t):
        n = t.shape[1]
        q, k, v = qkv(norm1(t)).reshape(b, n, 3, h, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        return proj(a.transpose(1, 2).reshape(b, n, d))

    def mlp(t):
        return fc2(F.gelu(fc1(norm2(t))))

    def block(t):
        t = t + attention(t)
        return t + mlp(t)

    out = {}
    for part, fn in (("block", block), ("attention", attention), ("mlp", mlp)):

        def step(fn=fn):
            y = fn(x)
            (y * y).sum().backward()

        out[f"{part}|torch eager, float32"] = _cpu_ms(step, args.repeats)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=497)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", default=None)
    args = parser.parse_args()
    if args.worker:
        os.sched_setaffinity(0, {0})
        work = tf_worker if args.worker == "tensorflow" else torch_worker
        print("RESULT " + json.dumps(work(args)), flush=True)
        return
    results = {}
    for worker in ("torch", "tensorflow"):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker]
        cmd += ["--tokens", str(args.tokens), "--repeats", str(args.repeats)]
        env = dict(
            os.environ,
            KERAS_BACKEND="tensorflow",
            TF_CPP_MIN_LOG_LEVEL="3",
            OMP_NUM_THREADS="1",
        )
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                results.update(json.loads(line[len("RESULT ") :]))
    print(f"Machine: {_machine.describe()}.")
    print(
        f"\nOne block, batch {SHAPE['batch']} x {args.tokens} tokens x "
        f"{SHAPE['hidden']}, forward + backward, 1 thread, CPU ms (mean "
        f"of {args.repeats} after one warm-up).\n"
    )
    variants = sorted({k.split("|")[1] for k in results})
    print("| variant | block | attention sub-layer | MLP sub-layer "
          "| block vs torch |")  # fmt: skip
    print("|---|---|---|---|---|")
    ref = results.get("block|torch eager, float32", float("nan"))
    for v in variants:
        row = [results.get(f"{p}|{v}", float("nan")) for p in
               ("block", "attention", "mlp")]  # fmt: skip
        print(
            f"| {v} | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} "
            f"| {ref / row[0]:.2f}x |"
        )


if __name__ == "__main__":
    main()
