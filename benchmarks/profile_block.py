"""Where a Keras pre-training step loses to PyTorch: one decoder block.

Times forward + backward of one `TransformerBlock` at the decoder's shape
of a 10 s clip (batch 8 x 497 tokens x 512, 16 heads, MLP 2048) and of its
two halves (the attention sub-layer: `qkv` projection + attention core;
the MLP sub-layer: LayerNorm, `fc1`, GELU, `fc2`), on TensorFlow (plain
and XLA, float32 and `mixed_bfloat16`), on JAX (XLA, float32) and on plain
PyTorch (`F.scaled_dot_product_attention`), each in its own process with ONE
thread, measured as CPU seconds (`time.process_time`): a ratio of CPU
time depends much less on other jobs than wall time does, so this profile
is usable on a shared machine; it is not a throughput figure. The column
"MLP, 3-D" is the MLP sub-layer with its `Dense` layers applied to the
`(batch, tokens, dim)` tensor, as the block did before it flattened the
tokens to 2-D (`TransformerBlock._mlp`).

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


def _keras_parts(block):
    """The block and its sub-layers as functions of the input tokens."""
    import keras

    def attention(t):
        return block._attention(block.norm1(t), False)

    def mlp(t):
        return block._mlp(block.norm2(t), False)

    def mlp_3d(t):
        hidden = block.fc1(block.norm2(t))
        hidden = keras.activations.gelu(hidden, approximate=False)
        return block.fc2(hidden)

    return {"block": block, "attention": attention, "mlp": mlp, "mlp3d": mlp_3d}


def jax_worker(args):
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_maskspec.layers.transformer_block import TransformerBlock

    b, d, h = SHAPE["batch"], SHAPE["hidden"], SHAPE["heads"]
    x = np.random.default_rng(0).normal(size=(b, args.tokens, d))
    x = jnp.asarray(x.astype("float32"))
    block = TransformerBlock(d, h, SHAPE["mlp"])
    block(x)
    weights = [v.value for v in block.trainable_variables]
    out = {}
    for part, fn in _keras_parts(block).items():

        def loss(values, t, fn=fn):
            mapping = list(zip(block.trainable_variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                y = fn(t)
            return jnp.sum(y * y)

        step = jax.jit(jax.grad(loss, argnums=(0, 1)))
        out[f"{part}|jax xla, float32"] = _cpu_ms(
            lambda s=step: jax.block_until_ready(s(weights, x)), args.repeats
        )
        print("jax", part, out[f"{part}|jax xla, float32"], file=sys.stderr)
    return out


def tf_worker(args):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from keras_maskspec.layers.transformer_block import TransformerBlock

    b, d, h = SHAPE["batch"], SHAPE["hidden"], SHAPE["heads"]
    x = np.random.default_rng(0).normal(size=(b, args.tokens, d))
    x = tf.constant(x.astype("float32"))
    out = {}
    for dtype in ("float32", "mixed_bfloat16"):
        block = TransformerBlock(d, h, SHAPE["mlp"], dtype=dtype)
        block(x)
        for jit in (False, True):
            for part, fn in _keras_parts(block).items():

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

    mlp3d = mlp  # nn.Linear: one formulation

    def block(t):
        t = t + attention(t)
        return t + mlp(t)

    out = {}
    parts = {"block": block, "attention": attention, "mlp": mlp, "mlp3d": mlp3d}
    for part, fn in parts.items():

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
        work = {"tensorflow": tf_worker, "jax": jax_worker}.get(
            args.worker, torch_worker
        )
        print("RESULT " + json.dumps(work(args)), flush=True)
        return
    results = {}
    for worker in ("torch", "tensorflow", "jax"):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker]
        cmd += ["--tokens", str(args.tokens), "--repeats", str(args.repeats)]
        env = dict(
            os.environ,
            KERAS_BACKEND="jax" if worker == "jax" else "tensorflow",
            TF_CPP_MIN_LOG_LEVEL="3",
            OMP_NUM_THREADS="1",
            XLA_FLAGS="--xla_cpu_multi_thread_eigen=false "
            "intra_op_parallelism_threads=1",
        )
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        results.update(_machine.worker_result(proc.stdout) or {})
    print(f"Machine: {_machine.describe()}.")
    print(
        f"\nOne block, batch {SHAPE['batch']} x {args.tokens} tokens x "
        f"{SHAPE['hidden']}, forward + backward, 1 thread, CPU ms (mean "
        f"of {args.repeats} after one warm-up).\n"
    )
    variants = sorted({k.split("|")[1] for k in results})
    print("| variant | block | attention sub-layer | MLP sub-layer "
          "| MLP, 3-D | block vs torch |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    ref = results.get("block|torch eager, float32", float("nan"))
    for v in variants:
        row = [results.get(f"{p}|{v}", float("nan")) for p in
               ("block", "attention", "mlp", "mlp3d")]  # fmt: skip
        print(
            f"| {v} | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} "
            f"| {row[3]:.0f} | {ref / row[0]:.2f}x |"
        )


if __name__ == "__main__":
    main()
