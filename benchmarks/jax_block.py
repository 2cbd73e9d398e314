"""The forms of `TransformerBlock`'s attention core and MLP under JAX.

Times forward + backward (`jax.grad` of a weighted sum, jitted) of each
form JAX has run, at the shapes of a `maskspec_tiny` pre-training step
(batch 8), next to PyTorch in a fresh process of its own (fused SDPA,
`F.gelu`):

- attention core, `(batch, heads, tokens, head_dim)`:
  - `softmax, query blocks`: `softmax(q k^T) v` in blocks of 128 queries
    (the library before the ninth session);
  - `exp / row sum, query blocks`: the division moved to the output
    (`TransformerBlock._attend`, the form for short sequences and with
    attention dropout);
  - `recomputed loop`: `_recomputed_attention`, groups of (batch x heads)
    slices with a hand-written gradient that recomputes the weights (the
    form from `_RECOMPUTE_FROM` tokens on);
- MLP `(3976 x 512) -> 2048 -> 512`: exact GELU through `erfc` (JAX's
  `gelu(approximate=False)`) and through `erf` (PyTorch's formula, the
  library's form under JAX).

Prints minimum milliseconds over `--repeats` runs after one warm-up, and
each form's speed against PyTorch's (> 1: faster).

    python benchmarks/jax_block.py --repeats 5
"""

import argparse
import json
import os
import subprocess
import sys
import time

import _machine

HERE = os.path.dirname(os.path.abspath(__file__))
# name -> (batch, heads, tokens, head_dim)
ATTENTION = {
    "decoder, 10 s": (8, 16, 497, 32),
    "decoder, 2 s": (8, 16, 97, 32),
    "encoder tiny, 10 s": (8, 3, 125, 64),
}
MLP = (3976, 512, 2048)


def _arrays(shape, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for _ in range(count)]


def _min_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def jax_worker(repeats):
    import jax
    import jax.numpy as jnp

    from keras_maskspec.layers import TransformerBlock
    from keras_maskspec.layers.transformer_block import _exact_gelu
    from keras_maskspec.layers.transformer_block import _query_chunks
    from keras_maskspec.layers.transformer_block import _recomputed_attention

    block = TransformerBlock(32, 4, 64)

    def blocks(attend):
        def run(q, k, v):
            k_t = jnp.swapaxes(k, -1, -2)
            parts = [
                attend(q[:, :, a:b], k_t, v)
                for a, b in _query_chunks(q.shape[2])
            ]
            return jnp.concatenate(parts, axis=2)

        return run

    forms = {
        "softmax, query blocks": blocks(
            lambda q, k_t, v: jax.nn.softmax(q @ k_t, axis=-1) @ v
        ),
        "exp / row sum, query blocks": blocks(
            lambda q, k_t, v: block._attend(q, k_t, v, training=False)
        ),
        "recomputed loop": _recomputed_attention,
    }
    result = {}
    for shape_name, shape in ATTENTION.items():
        q, k, v, up = (jnp.asarray(a) for a in _arrays(shape, 4))
        for name, form in forms.items():
            grad = jax.jit(
                jax.grad(
                    lambda q, k, v, form=form: jnp.sum(form(q, k, v) * up),
                    argnums=(0, 1, 2),
                )
            )
            result[f"attention|{shape_name}|{name}"] = _min_ms(
                lambda: jax.block_until_ready(grad(q, k, v)), repeats
            )
    rows, dim, hidden = MLP
    x = jnp.asarray(_arrays((rows, dim), 1)[0])
    w1, w2 = (jnp.asarray(a) * 0.02 for a in _arrays((dim, hidden), 2, seed=1))
    w2 = w2.T
    gelus = {
        "GELU via erfc (jax.nn.gelu)": lambda h: jax.nn.gelu(
            h, approximate=False
        ),
        "GELU via erf (library)": _exact_gelu,
    }
    for name, gelu in gelus.items():
        grad = jax.jit(
            jax.grad(
                lambda x, w1, w2, gelu=gelu: jnp.sum(gelu(x @ w1) @ w2 * x),
                argnums=(0, 1, 2),
            )
        )
        result[f"mlp|{name}"] = _min_ms(
            lambda: jax.block_until_ready(grad(x, w1, w2)), repeats
        )
    return result


def torch_worker(repeats):
    import torch
    import torch.nn.functional as F

    result = {}
    for shape_name, shape in ATTENTION.items():
        q, k, v = (
            torch.tensor(a, requires_grad=True) for a in _arrays(shape, 3)
        )
        up = torch.tensor(_arrays(shape, 4)[3])

        def step():
            for t in (q, k, v):
                t.grad = None
            (F.scaled_dot_product_attention(q, k, v) * up).sum().backward()

        result[f"attention|{shape_name}"] = _min_ms(step, repeats)
    rows, dim, hidden = MLP
    x = torch.tensor(_arrays((rows, dim), 1)[0], requires_grad=True)
    w1, w2 = (torch.tensor(a) * 0.02 for a in _arrays((dim, hidden), 2, seed=1))
    w1.requires_grad_(True)
    w2 = w2.T.contiguous().requires_grad_(True)

    def mlp():
        for t in (x, w1, w2):
            t.grad = None
        (F.gelu(x @ w1) @ w2 * x).sum().backward()

    result["mlp"] = _min_ms(mlp, repeats)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", choices=["jax", "torch"])
    args = parser.parse_args()
    if args.worker:
        worker = jax_worker if args.worker == "jax" else torch_worker
        print("RESULT " + json.dumps(worker(args.repeats)), flush=True)
        return None
    guard = _machine.IdleGuard()
    results = {}
    for name in ("torch", "jax"):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name]
        cmd += ["--repeats", str(args.repeats)]
        env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        results[name] = _machine.worker_result(proc.stdout)
        if results[name] is None:
            raise RuntimeError(f"the {name} worker failed")
    if not guard.ok:
        print(json.dumps(results))
        print(guard.refusal())
        return None
    print(guard.header())
    print()
    print(
        f"Forward + backward, minimum of {args.repeats} runs after one "
        "warm-up, milliseconds; speed = PyTorch ms / JAX ms."
    )
    print()
    print(
        "| part | shape | JAX form | JAX ms | PyTorch ms | speed vs PyTorch |"
    )
    print("|---|---|---|---|---|---|")
    for key, ms in results["jax"].items():
        part, *rest = key.split("|")
        if part == "attention":
            shape_name, form = rest
            torch_ms = results["torch"][f"attention|{shape_name}"]
            shape = "x".join(map(str, ATTENTION[shape_name]))
            label = f"{shape_name} ({shape})"
        else:
            (form,) = rest
            torch_ms = results["torch"]["mlp"]
            label = "{} x {} -> {} -> {}".format(*MLP, MLP[1])
        print(
            f"| {part} | {label} | {form} | {ms:.1f} | {torch_ms:.1f} "
            f"| {torch_ms / ms:.2f}x |"
        )
    return results


if __name__ == "__main__":
    main()
