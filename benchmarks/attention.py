"""Fused `ops.dot_product_attention` vs `keras.layers.MultiHeadAttention`.

Times forward + backward of one self-attention sub-layer at the decoder's
shape (497 tokens x 512, 16 heads) for each Keras backend, both variants in
the same process, and prints the ratio. Run:

    python benchmarks/attention.py --batch 4 --repeats 5
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import keras, numpy as np
from keras import ops
from keras_maskspec.layers import TransformerBlock

batch, tokens, dim, heads, repeats = map(int, sys.argv[1:6])
x = np.random.default_rng(0).normal(size=(batch, tokens, dim)).astype("f4")
block = TransformerBlock(dim, heads, 4 * dim)
block.build(x.shape)
mha = keras.layers.MultiHeadAttention(heads, dim // heads)
mha(x, x)

def fused(x):
    return block._attention(x, training=False)

def reference(x):
    return mha(x, x)

def timed(fn, weights):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = ops.sum(fn(x))
            return tape.gradient(loss, [w.value for w in weights])
        run = lambda: step(x)
    elif backend == "jax":
        import jax
        # Stateless: differentiate through the variables' values.
        from keras import StatelessScope
        def pure(values, x):
            with StatelessScope(state_mapping=list(zip(weights, values))):
                return ops.sum(fn(x))
        grad = jax.jit(jax.grad(pure))
        values = [w.value for w in weights]
        run = lambda: jax.block_until_ready(grad(values, x))
    else:
        import torch
        xt = torch.tensor(x)
        def run():
            for w in weights:
                w.value.grad = None
            ops.sum(fn(xt)).backward()
    run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats

qkv_weights = [block.qkv.kernel, block.qkv.bias,
               block.proj.kernel, block.proj.bias]
result = {
    "fused_s": timed(fused, qkv_weights),
    "mha_s": timed(reference, mha.trainable_weights),
}
print(json.dumps(result))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=497)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        "| backend | fused dot_product_attention (s) | MultiHeadAttention (s)"
        " | MHA / fused |"
    )
    print("|---|---|---|---|")
    for backend in ("tensorflow", "jax", "torch"):
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(args.batch),
                str(args.tokens),
                str(args.dim),
                str(args.heads),
                str(args.repeats),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(f"| {backend} | failed: {out.stderr.strip()[-200:]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {backend} | {r['fused_s']:.3f} | {r['mha_s']:.3f} | "
            f"{r['mha_s'] / r['fused_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
