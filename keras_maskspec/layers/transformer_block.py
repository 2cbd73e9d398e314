"""Pre-LayerNorm ViT block: self-attention + MLP, dropout, drop-path."""

import math

import keras
from keras import ops

from keras_maskspec.layers.drop_path import drop_path

# Queries per block of the explicit attention. Softmax is per query, so
# blocks of queries give the same result; a (batch, heads, 128, tokens)
# score block stays in cache where the whole (tokens, tokens) matrix does
# not: the attention core 1.41x faster under JAX at 497 tokens, a 10 s
# `maskspec_tiny` step 1.16x (`benchmarks/thread_scaling.py`, `step_ab.py`).
_QUERY_CHUNK = 128


def _query_chunks(tokens):
    """`[(start, stop), ...]` over a static token count; one chunk when the
    count is unknown (symbolic shapes) or small."""
    if tokens is None or tokens <= _QUERY_CHUNK:
        return [(0, tokens)]
    return [
        (start, min(start + _QUERY_CHUNK, tokens))
        for start in range(0, tokens, _QUERY_CHUNK)
    ]


# From this many tokens on, attention under JAX on CPU runs
# `_recomputed_attention` (below); shorter sequences keep the plain
# explicit form, faster there at 97 and 125 tokens
# (`benchmarks/jax_block.py`).
_RECOMPUTE_FROM = 256
# (batch x heads) slices per step of that loop: four `(497, 497)` float32
# score blocks (4 MB) fit the L2 caches of two cores.
_SLICES_PER_STEP = 4


def _jax_on_cpu():
    """Whether the block runs under JAX on CPU, where XLA has no fused
    attention kernel and the block's explicit forms are faster. On a GPU or
    TPU, JAX takes `ops.dot_product_attention` like the other backends:
    Keras routes it to cuDNN's flash attention (bfloat16 or float16 on
    Ampere and later) or to the Splash kernel on TPU, and to XLA's own
    attention otherwise."""
    return (
        keras.backend.backend() == "jax"
        and keras.distribution.list_devices()[0].startswith("cpu")
    )


def _recompute_applies(tokens):
    """Whether attention over `tokens` runs `_recomputed_attention`: under
    JAX on CPU, for long sequences, outside a Keras distribution (its loop
    steps through the batch, which a data-parallel layout splits across
    devices)."""
    return (
        (tokens or 0) >= _RECOMPUTE_FROM
        and keras.distribution.distribution() is None
        and _jax_on_cpu()
    )


def _slices(x, group):
    """`(batch, heads, tokens, dim)` -> `(batch * heads / group, group,
    tokens, dim)`."""
    return ops.reshape(x, (-1, group, *x.shape[2:]))


def _unnormalised_softmax(scores):
    """`(exp(scores - row max), float32 row sums, row max)`: the softmax
    without its division, which both attention forms apply to their
    `(queries, head_dim)` output instead. The row max only keeps `exp`
    finite; the result does not depend on it, so no gradient flows through
    it. Row sums in float32 also under mixed_bfloat16."""
    peak = ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True))
    weights = ops.exp(scores - peak)
    total = ops.sum(ops.cast(weights, "float32"), axis=-1, keepdims=True)
    return weights, total, peak


def _exact_gelu(x):
    """Exact (erf) GELU. Under JAX, PyTorch's `x / 2 * (1 + erf(x /
    sqrt(2)))`: JAX's own exact GELU goes through `erfc`, which XLA on CPU
    evaluates with an `exp` and a select per element; `erf` is one rational
    function (the MLP's forward and backward 1.1x faster at the 10 s
    decoder shape, `benchmarks/jax_block.py`). The two agree to 1e-6 over
    [-12, 12]."""
    if keras.backend.backend() == "jax":
        return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))
    return keras.activations.gelu(x, approximate=False)


def _slice_forward(q, k, v):
    """Attention output and log-sum-exp of the scores, for one group of
    `(tokens, dim)` slices."""
    weights, total, peak = _unnormalised_softmax(
        ops.matmul(q, ops.swapaxes(k, -1, -2))
    )
    out = ops.matmul(weights, v) / ops.cast(total, v.dtype)
    return out, ops.cast(peak, "float32") + ops.log(total)


def _slice_backward(q, k, v, out, log_total, upstream):
    """`(dq, dk, dv)` for one group of slices; the softmax weights are
    recomputed from `q`, `k` and the saved log-sum-exp."""
    scores = ops.cast(ops.matmul(q, ops.swapaxes(k, -1, -2)), "float32")
    weights = ops.cast(ops.exp(scores - log_total), q.dtype)
    # dv = weights^T upstream and dk = d_scores^T q, each as the transpose
    # of a (dim, tokens) product: XLA on CPU then reads the large
    # (tokens, tokens) operand as stored instead of transposing it.
    dv = ops.swapaxes(
        ops.matmul(ops.swapaxes(upstream, -1, -2), weights), -1, -2
    )
    row = ops.sum(
        ops.cast(upstream, "float32") * ops.cast(out, "float32"),
        axis=-1,
        keepdims=True,
    )
    d_scores = weights * (
        ops.matmul(upstream, ops.swapaxes(v, -1, -2)) - ops.cast(row, q.dtype)
    )
    dq = ops.matmul(d_scores, k)
    dk = ops.swapaxes(ops.matmul(ops.swapaxes(q, -1, -2), d_scores), -1, -2)
    return dq, dk, dv


def _recomputed_attention(q, k, v):
    """`softmax(q k^T) v` for scaled queries, in `(batch, heads, tokens,
    dim)` layout, as a loop over groups of (batch x heads) slices with a
    hand-written gradient that recomputes the weights (as flash attention
    does), instead of storing them.

    XLA's CPU back end has no fused attention: differentiated as written,
    the score, weight and gradient arrays of the whole batch, `(batch,
    heads, tokens, tokens)` (126 MB at 497 tokens), are each written to
    memory and read back. Here one step of the loop holds a few slices'
    worth, which stay in cache; the saved state is the output and one
    log-sum-exp per query (`_recompute_applies` says when it runs).
    """
    shape = q.shape
    group = math.gcd(shape[1], _SLICES_PER_STEP)

    @ops.custom_gradient
    def attend(q, k, v):
        qs, ks, vs = _slices(q, group), _slices(k, group), _slices(v, group)
        out, log_total = ops.map(lambda a: _slice_forward(*a), (qs, ks, vs))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            grads = ops.map(
                lambda a: _slice_backward(*a),
                (qs, ks, vs, out, log_total, _slices(upstream, group)),
            )
            return tuple(ops.reshape(g, shape) for g in grads)

        return ops.reshape(out, shape), grad

    return attend(q, k, v)


@keras.saving.register_keras_serializable(package="keras_maskspec")
class TransformerBlock(keras.layers.Layer):
    """A pre-LayerNorm transformer block, as timm's ViT `Block`.

    `x + DropPath(Attn(LN(x)))`, then `x + DropPath(MLP(LN(x)))`. Attention
    uses one fused `qkv` projection and `keras.ops.dot_product_attention`,
    which dispatches to PyTorch's fused SDPA kernel and, under JAX on a GPU,
    to cuDNN's flash attention; under JAX on CPU (and with attention
    dropout) it runs batched `matmul`s in `(batch, heads, tokens, dim)`
    layout over blocks of 128 queries, the faster form there, and from 256
    tokens on a loop over groups of heads whose gradient recomputes the
    attention weights instead of storing them; sublayer
    names follow timm (`norm1`, `qkv`, `proj`, `norm2`, `fc1`, `fc2`) so
    PyTorch checkpoints map one to one.

    Args:
        hidden_dim: int. Token width.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. MLP hidden width.
        dropout: float. Dropout on the attention output and MLP. Defaults to
            `0.0`.
        attention_dropout: float. Dropout on attention weights. Defaults to
            `0.0`.
        drop_path: float. Stochastic depth rate. Defaults to `0.0`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        seed: int or `None`. Seed of the block's one random stream: the
            attention dropout, output dropout and drop-path draws all come
            from it, one after the other, so they are independent.

    Input shape:
        `(batch, tokens, hidden_dim)`. Output shape: same.

    Examples:
    >>> import numpy as np
    >>> tokens = np.zeros((2, 5, 32), "float32")
    >>> tuple(TransformerBlock(32, 4, 64)(tokens).shape)
    (2, 5, 32)
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=0.0,
        drop_path=0.0,
        layer_norm_epsilon=1e-6,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(
                "`num_heads` must divide `hidden_dim`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.drop_path = drop_path
        self.layer_norm_epsilon = layer_norm_epsilon
        self.seed = seed
        norm = dict(epsilon=layer_norm_epsilon, dtype=self.dtype_policy)
        self.norm1 = keras.layers.LayerNormalization(name="norm1", **norm)
        self.qkv = self._dense(3 * hidden_dim, "qkv")
        self.proj = self._dense(hidden_dim, "proj")
        self.norm2 = keras.layers.LayerNormalization(name="norm2", **norm)
        self.fc1 = self._dense(intermediate_dim, "fc1")
        self.fc2 = self._dense(hidden_dim, "fc2")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _dense(self, units, name, **kwargs):
        """A sublayer `Dense` as MAE initialises `nn.Linear`: xavier-uniform
        (glorot) kernel, zero bias, in the block's dtype policy."""
        return keras.layers.Dense(
            units,
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            dtype=self.dtype_policy,
            name=name,
            **kwargs,
        )

    def build(self, input_shape):
        self.norm1.build(input_shape)
        self.qkv.build(input_shape)
        self.proj.build(input_shape)
        self.norm2.build(input_shape)
        self.fc1.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.intermediate_dim))

    def _attention(self, x, training):
        batch = ops.shape(x)[0]
        tokens = ops.shape(x)[1]
        head_dim = self.hidden_dim // self.num_heads
        qkv = ops.reshape(
            self.qkv(ops.reshape(x, (-1, self.hidden_dim))),
            (batch, tokens, 3, self.num_heads, head_dim),
        )
        dropout = training and self.attention_dropout > 0
        if dropout or _jax_on_cpu():
            # (3, batch, heads, tokens, head_dim): batched matmuls over
            # (batch, heads). Under JAX on CPU this runs 1.4x faster than
            # `jax.nn.dot_product_attention`'s einsums in (batch, tokens,
            # heads) layout (`benchmarks/profile_block.py`); TensorFlow,
            # PyTorch and JAX on accelerators keep the fused call below
            # (torch's SDPA is fused, the explicit form is slower there).
            q, k, v = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), axis=0)
            q = q * head_dim**-0.5
            if not dropout and _recompute_applies(q.shape[2]):
                out = _recomputed_attention(q, k, v)
            else:
                k = ops.swapaxes(k, -1, -2)
                out = ops.concatenate(
                    [
                        self._attend(q[:, :, start:stop], k, v, training)
                        for start, stop in _query_chunks(q.shape[2])
                    ],
                    axis=2,
                )
            out = ops.transpose(out, (0, 2, 1, 3))
        else:
            q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
            out = ops.dot_product_attention(q, k, v)
        out = self.proj(ops.reshape(out, (-1, self.hidden_dim)))
        return ops.reshape(out, (batch, tokens, self.hidden_dim))

    def _attend(self, q, k_t, v, training):
        """`softmax(q k^T) v` for scaled queries `q` and transposed keys.

        The softmax's division is applied to the `(queries, head_dim)`
        output instead of the `(queries, tokens)` weights
        (`_unnormalised_softmax`). The same numbers, but XLA on CPU no
        longer writes a broadcast of the sums and a normalised copy of the
        weights, two passes over the largest arrays of the step
        (`benchmarks/jax_block.py`). Dropout scales weights one by one, so
        dropping from the unnormalised weights and dividing after is the
        same as dropping from the softmax.
        """
        weights, total, _ = _unnormalised_softmax(ops.matmul(q, k_t))
        weights = self._dropout(weights, self.attention_dropout, training)
        return ops.matmul(weights, v) / ops.cast(total, v.dtype)

    def _dropout(self, x, rate, training):
        if not training or rate == 0.0:
            return x
        return keras.random.dropout(x, rate, seed=self.seed_generator)

    def _drop_path(self, x, training):
        if not training or self.drop_path == 0.0:
            return x
        return drop_path(x, self.drop_path, seed=self.seed_generator)

    def call(self, inputs, training=None):
        x = inputs
        h = self._attention(self.norm1(x), training)
        h = self._dropout(h, self.dropout, training)
        x = x + self._drop_path(h, training)
        h = self._mlp(self.norm2(x), training)
        h = self._dropout(h, self.dropout, training)
        return x + self._drop_path(h, training)

    def _mlp(self, x, training):
        """`fc2(dropout(gelu(fc1(x))))` on the tokens flattened to 2-D.

        One `(batch * tokens, dim)` matrix product instead of a 3-D one
        (as for `qkv` and `proj`): under JAX, XLA on CPU differentiates a
        3-D `dot_general` with the exact GELU fused into it more slowly
        (the "MLP, 3-D" column of `benchmarks/profile_block.py`); on
        TensorFlow and PyTorch both forms run at the same speed.
        """
        shape = ops.shape(x)
        h = ops.reshape(x, (-1, shape[-1]))
        h = _exact_gelu(self.fc1(h))
        h = self.fc2(self._dropout(h, self.dropout, training))
        return ops.reshape(h, (*shape[:-1], self.hidden_dim))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "drop_path": self.drop_path,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "seed": self.seed,
            }
        )
        return config
