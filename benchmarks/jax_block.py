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
  library's form under JAX);
- the block's dense products at the decoder's 10 s shape (`qkv`, `fc1`,
  `fc2` on 3976 tokens), each in its three forms: forward `x W`, weight
  gradient `x^T g`, input gradient `g W^T`;
- one whole decoder block at 10 s (`TransformerBlock(512, 16, 2048)` on
  `(8, 497, 512)`, gradients for the input and every weight), as the
  library runs it and with its attention core replaced by `v` (next to
  PyTorch's timm-style block with and without SDPA). From these it prints
  the block's *ceiling* under JAX: the JAX block without its core plus
  PyTorch's core (the torch block's time with SDPA minus without), i.e.
  what JAX would reach with an attention kernel as fast as PyTorch's.

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
# The decoder block at 10 s: (batch, tokens, width), heads, MLP width.
BLOCK = ((8, 497, 512), 16, 2048)
# Its dense products: name -> (rows, inputs, outputs).
DENSE = {
    "qkv": (3976, 512, 1536),
    "fc1": (3976, 512, 2048),
    "fc2": (3976, 2048, 512),
}
# Each product's three forms, as functions of (x, w, g) with x (rows,
# inputs), w (inputs, outputs), g (rows, outputs).
PRODUCTS = {
    "forward x W": lambda x, w, g: x @ w,
    "weight gradient x^T g": lambda x, w, g: x.T @ g,
    "input gradient g W^T": lambda x, w, g: g @ w.T,
}


def _arrays(shape, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for _ in range(count)]


def _dense_operands(name):
    """`(x, w, g)` of one dense product in `DENSE`, as numpy arrays: x
    `(rows, inputs)`, w `(inputs, outputs)`, g `(rows, outputs)`."""
    rows, inputs, outputs = DENSE[name]
    shapes = [(rows, inputs), (inputs, outputs), (rows, outputs)]
    return [_arrays(shape, 1, seed)[0] for seed, shape in enumerate(shapes)]


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
    for name in DENSE:
        x, w, g = (jnp.asarray(a) for a in _dense_operands(name))
        for form, product in PRODUCTS.items():
            run = jax.jit(product)
            result[f"dense|{name}|{form}"] = _min_ms(
                lambda: jax.block_until_ready(run(x, w, g)), repeats
            )
    result.update(_jax_block(repeats))
    return result


def _jax_block(repeats):
    """The library's decoder block at 10 s, forward + backward, with and
    without its attention core."""
    import jax
    import jax.numpy as jnp

    from keras_maskspec.layers import TransformerBlock
    from keras_maskspec.layers import transformer_block

    shape, heads, hidden = BLOCK
    x, up = (jnp.asarray(a) for a in _arrays(shape, 2))
    result = {}
    library = transformer_block._recomputed_attention
    for name, core in (("library", library), ("no core", lambda q, k, v: v)):
        transformer_block._recomputed_attention = core
        try:
            block = TransformerBlock(shape[-1], heads, hidden)
            block.build(shape)
            weights = [v.value for v in block.trainable_variables]
            fixed = [v.value for v in block.non_trainable_variables]

            def loss(weights, x, block=block, fixed=fixed):
                out, _ = block.stateless_call(weights, fixed, x)
                return jnp.sum(out * up)

            grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
            result[f"block|{name}"] = _min_ms(
                lambda: jax.block_until_ready(grad(weights, x)), repeats
            )
        finally:
            transformer_block._recomputed_attention = library
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
    with torch.no_grad():
        for name in DENSE:
            x, w, g = (torch.tensor(a) for a in _dense_operands(name))
            for form, product in PRODUCTS.items():
                result[f"dense|{name}|{form}"] = _min_ms(
                    lambda: product(x, w, g), repeats
                )
    result.update(_torch_block(repeats))
    return result


def _torch_block(repeats):
    """timm's block in PyTorch at the decoder's 10 s shape, forward +
    backward, with SDPA and with the core replaced by `v`."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    (b, n, d), h, hidden = BLOCK
    x, up = (torch.tensor(a) for a in _arrays((b, n, d), 2))
    x.requires_grad_(True)
    norm1, norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
    qkv, proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
    fc1, fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)
    layers = nn.ModuleList([norm1, qkv, proj, norm2, fc1, fc2])
    result = {}
    cores = {
        "library": F.scaled_dot_product_attention,
        "no core": lambda q, k, v: v,
    }
    for name, core in cores.items():

        def step(core=core):
            layers.zero_grad(set_to_none=True)
            x.grad = None
            q, k, v = (
                qkv(norm1(x)).reshape(b, n, 3, h, -1).permute(2, 0, 3, 1, 4)
            )
            t = x + proj(core(q, k, v).transpose(1, 2).reshape(b, n, d))
            t = t + fc2(F.gelu(fc1(norm2(t))))
            (t * up).sum().backward()

        result[f"block|{name}"] = _min_ms(step, repeats)
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
        elif part == "dense":
            name, form = rest
            torch_ms = results["torch"][key]
            label = "{} ({} x {} -> {})".format(name, *DENSE[name])
        elif part == "block":
            (form,) = rest
            torch_ms = results["torch"][key]
            label = "decoder, 10 s ({})".format("x".join(map(str, BLOCK[0])))
            form = {"library": "as the library runs it"}.get(
                form, "attention core replaced by v (both sides)"
            )
        else:
            (form,) = rest
            torch_ms = results["torch"]["mlp"]
            label = "{} x {} -> {} -> {}".format(*MLP, MLP[1])
        print(
            f"| {part} | {label} | {form} | {ms:.1f} | {torch_ms:.1f} "
            f"| {torch_ms / ms:.2f}x |"
        )
    print()
    print(ceiling(results))
    return results


def ceiling(results):
    """The JAX block's ceiling: without its attention core, plus PyTorch's
    core (PyTorch's block with SDPA minus without), against PyTorch's block.

    Examples:
    >>> r = {"jax": {"block|library": 500.0, "block|no core": 320.0},
    ...      "torch": {"block|library": 400.0, "block|no core": 300.0}}
    >>> print(ceiling(r))  # doctest: +NORMALIZE_WHITESPACE
    Ceiling of the JAX block with an attention core as fast as PyTorch's:
    320.0 + (400.0 - 300.0) = 420.0 ms against PyTorch's 400.0 ms, 0.95x.
    """
    jax_rest = results["jax"]["block|no core"]
    torch_full = results["torch"]["block|library"]
    torch_core = torch_full - results["torch"]["block|no core"]
    best = jax_rest + torch_core
    return (
        "Ceiling of the JAX block with an attention core as fast as "
        f"PyTorch's: {jax_rest:.1f} + ({torch_full:.1f} - "
        f"{results['torch']['block|no core']:.1f}) = {best:.1f} ms against "
        f"PyTorch's {torch_full:.1f} ms, {torch_full / best:.2f}x."
    )


if __name__ == "__main__":
    main()
