"""Cores used and speed per framework: one MLP and one attention core.

The decoder MLP of `maskspec_tiny` at the 10 s shape (batch 8 x 497
tokens, 512 -> 2048 -> 512, exact GELU) and its attention core (16 heads
of 32), forward + backward, timed in a fresh process per (op, framework,
threads) as plain framework code, in the form each Keras backend runs it
(PyTorch: fused SDPA; JAX, as `TransformerBlock` did up to the eighth
session: matmul, softmax, matmul in blocks of 128 queries, kept so its
tables stay comparable; `jax_block.py` times the current forms;
TensorFlow: the same without blocks, with XLA). Prints wall milliseconds,
CPU milliseconds and their ratio (the cores actually busy), and each
framework's speed-up from 1 to 2 threads.

    python benchmarks/thread_scaling.py --repeats 3 [--ops mlp,attention]
    python benchmarks/thread_scaling.py --ops attention \
        --xla-flags="--xla_cpu_use_xnnpack=true;--xla_cpu_use_onednn=true"

Why: `training_speed.py` at 10 s puts JAX far behind the PyTorch
reference while `profile_block.py` (one thread each) puts it much closer;
this says whether the gap is the second core or the kernel. For JAX, 1
thread is asked for with `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`,
which does not keep XLA's CPU client on one core (the "cores busy"
column shows it; see jax-ml/jax#1539); for TensorFlow, its intra-op pool;
for PyTorch, `torch.set_num_threads`.

`--xla-flags="A;B"` (with `=`: each value starts with `--`) times only
JAX, at 2 threads, once with XLA's defaults and once under each
`XLA_FLAGS` value given (a search for a CPU back-end option that closes
JAX's attention gap).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import _machine

SHAPE = dict(rows=8 * 497, hidden=512, inner=2048)
# The attention core of the same block: batch 8, 16 heads, 497 tokens, 32.
ATTENTION = (8, 16, 497, 32)


def _timed(step, repeats):
    """Min wall and matching CPU ms of `step()` over `repeats` after one
    warm-up."""
    step()
    best = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return {"wall_ms": best[0] * 1e3, "cpu_ms": best[1] * 1e3}


def _data(op, rng):
    if op == "attention":
        return (rng.normal(size=ATTENTION).astype("float32"),)
    rows, hidden, inner = SHAPE["rows"], SHAPE["hidden"], SHAPE["inner"]
    return (
        rng.normal(size=(rows, hidden)).astype("float32"),
        (rng.normal(size=(hidden, inner)) * 0.02).astype("float32"),
        (rng.normal(size=(inner, hidden)) * 0.02).astype("float32"),
    )


def torch_worker(op, threads, repeats, data):
    """MLP, or attention as the PyTorch backend runs it: fused SDPA."""
    import torch

    torch.set_num_threads(threads)
    tensors = [torch.tensor(a, requires_grad=True) for a in data]

    def mlp():
        x, w1, w2 = tensors
        h = torch.nn.functional.gelu(x @ w1)
        ((h @ w2) ** 2).sum().backward()

    def attention():
        (q,) = tensors
        out = torch.nn.functional.scaled_dot_product_attention(q, q, q)
        (out**2).sum().backward()

    return _timed(attention if op == "attention" else mlp, repeats)


def jax_worker(op, threads, repeats, data):
    """MLP, or attention as `TransformerBlock` ran it under JAX up to the
    eighth session: batched matmuls and a softmax in `(batch, heads,
    tokens, dim)` layout."""
    import jax
    import jax.numpy as jnp

    # The layer's own query blocks (this module loads no TensorFlow under
    # KERAS_BACKEND=jax, which `main` sets for this worker).
    from keras_maskspec.layers.transformer_block import _query_chunks

    def mlp(x, w1, w2):
        h = jax.nn.gelu(x @ w1, approximate=False)
        return ((h @ w2) ** 2).sum()

    def attention(q):
        k_t = jnp.swapaxes(q, -1, -2)
        blocks = []
        for start, stop in _query_chunks(q.shape[2]):
            scores = jnp.matmul(q[:, :, start:stop] * q.shape[-1] ** -0.5, k_t)
            blocks.append(jnp.matmul(jax.nn.softmax(scores, axis=-1), q))
        return (jnp.concatenate(blocks, axis=2) ** 2).sum()

    loss = attention if op == "attention" else mlp
    grad = jax.jit(jax.grad(loss, argnums=tuple(range(len(data)))))
    args = [jnp.asarray(a) for a in data]
    return _timed(lambda: jax.block_until_ready(grad(*args)), repeats)


def tf_worker(op, threads, repeats, data):
    """MLP, or attention in the same explicit form, with XLA."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tensors = [tf.constant(a) for a in data]

    def mlp(x, w1, w2):
        h = tf.nn.gelu(x @ w1, approximate=False)
        return tf.reduce_sum((h @ w2) ** 2)

    def attention(q):
        scores = tf.matmul(q * q.shape[-1] ** -0.5, q, transpose_b=True)
        out = tf.matmul(tf.nn.softmax(scores, axis=-1), q)
        return tf.reduce_sum(out**2)

    loss = attention if op == "attention" else mlp

    @tf.function(jit_compile=True)
    def grad():
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = loss(*tensors)
        return tape.gradient(value, tensors)

    return _timed(lambda: [t.numpy() for t in grad()], repeats)


WORKERS = {"torch": torch_worker, "jax": jax_worker, "tensorflow": tf_worker}
OPS = {
    "mlp": f"MLP sub-layer, ({SHAPE['rows']} x {SHAPE['hidden']}) -> "
    f"{SHAPE['inner']} -> {SHAPE['hidden']}, exact GELU",
    "attention": "attention core, q = k = v of shape "
    f"{ATTENTION} (torch: fused SDPA; JAX: matmul, softmax, matmul in "
    "blocks of 128 queries; TF: the same in one block)",
}


def _table(op, results, repeats):
    print(
        f"\n{OPS[op]}, forward + backward; min wall of {repeats} after one "
        "warm-up.\n"
    )
    print(
        "| framework | threads | wall ms | CPU ms | cores busy "
        "| 1 -> 2 threads |"
    )
    print("|---|---|---|---|---|---|")
    for (name, threads), r in results.items():
        if r is None:
            print(f"| {name} | {threads} | failed | | | |")
            continue
        one = results.get((name, 1))
        gain = (
            f"{one['wall_ms'] / r['wall_ms']:.2f}x"
            if threads == 2 and one
            else ""
        )
        print(
            f"| {name} | {threads} | {r['wall_ms']:.0f} | {r['cpu_ms']:.0f} "
            f"| {r['cpu_ms'] / r['wall_ms']:.2f} | {gain} |"
        )


def xla_flag_search(ops, flag_sets, repeats):
    """JAX at 2 threads under XLA's defaults and each `XLA_FLAGS` value."""
    guard = _machine.IdleGuard()
    results = {op: {} for op in ops}
    for op in ops:
        for flags in ["", *flag_sets]:
            cmd = [sys.executable, os.path.abspath(__file__), "--ops", op]
            cmd += ["--worker", "jax", "--threads", "2"]
            cmd += ["--repeats", str(repeats)]
            env = dict(
                os.environ,
                TF_CPP_MIN_LOG_LEVEL="3",
                KERAS_BACKEND="jax",
                XLA_FLAGS=flags,
            )
            proc = subprocess.run(
                cmd, env=env, stdout=subprocess.PIPE, text=True
            )
            results[op][flags] = _machine.worker_result(proc.stdout)
    if not guard.ok:
        print(guard.refusal())
        return None
    print(guard.header())
    for op in ops:
        print(
            f"\n{OPS[op]}, JAX at 2 threads, forward + backward; min wall "
            f"of {repeats} after one warm-up.\n"
        )
        print("| XLA_FLAGS | wall ms | CPU ms | vs defaults |")
        print("|---|---|---|---|")
        base = results[op][""]
        for flags, r in results[op].items():
            if r is None:
                print(f"| `{flags}` | failed | | |")
                continue
            ratio = f"{base['wall_ms'] / r['wall_ms']:.2f}x" if base else ""
            print(
                f"| `{flags or '(defaults)'}` | {r['wall_ms']:.0f} "
                f"| {r['cpu_ms']:.0f} | {ratio} |"
            )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ops", default="mlp,attention")
    parser.add_argument("--worker", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--xla-flags",
        default=None,
        metavar="A;B",
        help="Time JAX only, under each ';'-separated XLA_FLAGS value.",
    )
    args = parser.parse_args()
    ops = args.ops.split(",")
    if args.worker:
        import numpy as np

        data = _data(ops[0], np.random.default_rng(0))
        result = WORKERS[args.worker](ops[0], args.threads, args.repeats, data)
        print("RESULT " + json.dumps(result), flush=True)
        return None
    if args.xla_flags is not None:
        return xla_flag_search(ops, args.xla_flags.split(";"), args.repeats)
    guard = _machine.IdleGuard()
    results = {op: {} for op in ops}
    for op in ops:
        for name in WORKERS:
            for threads in (1, 2):
                cmd = [sys.executable, os.path.abspath(__file__), "--ops", op]
                cmd += ["--worker", name, "--threads", str(threads)]
                cmd += ["--repeats", str(args.repeats)]
                env = dict(
                    os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=name
                )
                if threads == 1:
                    env["OMP_NUM_THREADS"] = "1"
                    env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
                proc = subprocess.run(
                    cmd, env=env, stdout=subprocess.PIPE, text=True
                )
                results[op][name, threads] = _machine.worker_result(proc.stdout)
    if not guard.ok:
        print(guard.refusal())
        return None
    print(guard.header())
    for op in ops:
        _table(op, results[op], args.repeats)
    return results


if __name__ == "__main__":
    main()
