"""AdamW as MaskSpec trains it: PyTorch's epsilon, timm's decay sets,
layer-wise lr decay."""

import keras
from keras import ops

NO_DECAY_PATTERNS = ("bias", "gamma", "beta", "token")


def no_decay_paths(model, extra=()):
    """Variables timm 0.5.4's `add_weight_decay` leaves undecayed.

    timm decays every trainable parameter except 1-D ones (norm scales and
    offsets) and those named `*.bias`, plus a `skip_list`: empty in MAE's
    pre-training (so the [CLS] and mask tokens *are* decayed), and
    `{pos_embed, cls_token}` in fine-tuning (`extra` here).

    Args:
        model: the model being trained.
        extra: variables also left undecayed.

    Returns:
        sorted list of variable paths.

    Examples:
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> enc = MaskSpecEncoder.from_preset("maskspec_test")
    >>> paths = no_decay_paths(enc)
    >>> enc.class_token.token.path in paths
    False
    >>> enc.final_norm.gamma.path in paths
    True
    """
    paths = {
        v.path
        for v in model.trainable_variables
        if len(v.shape) <= 1 or v.path.endswith("bias")
    }
    paths.update(v.path for v in extra)
    return sorted(paths)


def scaled_learning_rate(base_learning_rate, global_batch_size):
    """The paper's linear scaling rule: `base_lr * global_batch / 256`.

    Examples:
    >>> scaled_learning_rate(1e-3, 512)
    0.002
    """
    return base_learning_rate * global_batch_size / 256.0


def warmup_cosine(
    learning_rate, warmup_steps=0, total_steps=None, final_learning_rate=1e-6
):
    """Linear warm-up then half-cosine to `final_learning_rate`.

    Returns a plain float when neither warm-up nor decay is asked for.

    Examples:
    >>> schedule = warmup_cosine(1e-3, warmup_steps=10, total_steps=100)
    >>> round(float(schedule(10)), 6)
    0.001
    """
    if not total_steps and not warmup_steps:
        return learning_rate
    decay_steps = max((total_steps or 0) - warmup_steps, 1)
    alpha = final_learning_rate / learning_rate if total_steps else 1.0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        decay_steps=decay_steps,
        alpha=min(alpha, 1.0),
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="keras_maskspec")
class LayerDecayAdamW(keras.optimizers.AdamW):
    """AdamW as PyTorch computes it, with per-variable lr multipliers.

    Keras optimizers have one learning rate; BEiT/MAE-style fine-tuning
    gives the block at depth `i` of `L` the rate `lr * decay^(L - i)`.
    Multipliers are keyed by variable path; variables not listed use 1.0.
    Weight decay is scaled by the same multiplier, as in PyTorch's param
    groups.

    `torch_epsilon=True` puts epsilon where `torch.optim.AdamW` does:
    `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`. Keras
    adds it to the uncorrected `sqrt(v)`, which equals PyTorch's with
    `eps * sqrt(1 - b2^t)`: a larger epsilon in the first ~1/(1 - b2)
    steps.

    `no_decay_paths` lists the variables (by path) that get no weight
    decay (see `no_decay_paths()`); `None` keeps Keras' name patterns.

    Args:
        lr_multipliers: dict `variable.path -> float`. See
            `layer_decay_multipliers`.
        no_decay_paths: list of variable paths or `None`.
        torch_epsilon: bool. Defaults to `True`.
        **kwargs: `keras.optimizers.AdamW` arguments.

    Examples:
    >>> opt = LayerDecayAdamW({"dense/kernel": 0.5}, learning_rate=1e-3)
    >>> opt.lr_multipliers["dense/kernel"]
    0.5
    """

    def __init__(
        self,
        lr_multipliers=None,
        no_decay_paths=None,
        torch_epsilon=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if torch_epsilon and self.amsgrad:
            raise ValueError(
                "`torch_epsilon` does not support `amsgrad`. Received: "
                "amsgrad=True"
            )
        self.lr_multipliers = dict(lr_multipliers or {})
        self.no_decay_paths = (
            None if no_decay_paths is None else sorted(no_decay_paths)
        )
        self.torch_epsilon = bool(torch_epsilon)

    def build(self, var_list):
        # Backends hand `update_step` their native variable (TF unwraps to a
        # ResourceVariable), so look multipliers up by the optimizer's key.
        self._multiplier_by_key = {
            self._var_key(v): self.lr_multipliers.get(v.path, 1.0)
            for v in var_list
        }
        skip = set(self.no_decay_paths or ())
        self._decay_by_key = {
            self._var_key(v): v.path not in skip for v in var_list
        }
        super().build(var_list)

    def _use_weight_decay(self, variable):
        if self.no_decay_paths is None:
            return super()._use_weight_decay(variable)
        return self._decay_by_key.get(self._var_key(variable), True)

    def _multiplier(self, variable):
        return self._multiplier_by_key.get(self._var_key(variable), 1.0)

    def update_step(self, gradient, variable, learning_rate):
        scale = self._multiplier(variable)
        if scale != 1.0:
            learning_rate = ops.multiply(learning_rate, scale)
        if not self.torch_epsilon:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        alpha, epsilon = self._step_size(learning_rate, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(gradient - m, 1 - self.beta_1))
        self.assign_add(
            v, ops.multiply(ops.square(gradient) - v, 1 - self.beta_2)
        )
        self.assign_sub(variable, alpha * m / (ops.sqrt(v) + epsilon))

    def _step_size(self, learning_rate, dtype):
        """`(alpha, epsilon)` of this step in PyTorch's placement:
        `p -= alpha * m / (sqrt(v) + epsilon)` with both bias corrections
        folded in (see the class docstring)."""
        step = ops.cast(self.iterations + 1, dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), step)
        correction = ops.sqrt(1 - beta_2_power)
        alpha = ops.cast(learning_rate, dtype) * correction / (1 - beta_1_power)
        return alpha, ops.cast(self.epsilon, dtype) * correction

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.backend.backend() == "torch" and self.torch_epsilon:
            # Keras' own torch optimizers update all variables at once with
            # `torch._foreach_*`; a subclass like this one falls back to one
            # dispatch per op per variable (a maskspec_tiny step on 2 CPU
            # cores runs 1.14x faster without that, `benchmarks/step_ab.py`).
            # The same update, grouped by multiplier.
            return _torch_foreach_update(
                self, grads, trainable_variables, learning_rate
            )
        return super()._backend_update_step(
            grads, trainable_variables, learning_rate
        )

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return
        if keras.backend.backend() == "torch":
            return _torch_foreach_decay(self, variables)
        # The schedule is evaluated once per step, not once per variable
        # (run eagerly, each evaluation is a dispatch of its own).
        learning_rate = self.learning_rate
        for variable in variables:
            if self._use_weight_decay(variable):
                lr = ops.cast(learning_rate, variable.dtype)
                wd = ops.cast(self.weight_decay, variable.dtype)
                scale = self._multiplier(variable)
                variable.assign(variable - variable * wd * lr * scale)

    def get_config(self):
        config = super().get_config()
        config["lr_multipliers"] = self.lr_multipliers
        config["no_decay_paths"] = self.no_decay_paths
        config["torch_epsilon"] = self.torch_epsilon
        return config


def _by_multiplier(optimizer, variables, *lists):
    """`{(multiplier, dtype): [params, *lists]}` (torch tensors, foreach)."""
    groups = {}
    for i, variable in enumerate(variables):
        row = (variable.value,) + tuple(values[i] for values in lists)
        key = (optimizer._multiplier(variable), variable.dtype)
        groups.setdefault(key, []).append(row)
    return {k: list(zip(*rows)) for k, rows in groups.items()}


def _torch_foreach_update(optimizer, grads, variables, learning_rate):
    """`LayerDecayAdamW.update_step` for all variables, torch backend."""
    import torch

    with torch.no_grad():
        alpha, epsilon = optimizer._step_size(learning_rate, "float32")
        b1, b2 = optimizer.beta_1, optimizer.beta_2
        index = optimizer._get_variable_index
        m = [optimizer._momentums[index(v)].value for v in variables]
        v = [optimizer._velocities[index(v)].value for v in variables]
        grads = [ops.cast(g, var.dtype) for g, var in zip(grads, variables)]
        groups = _by_multiplier(optimizer, variables, grads, m, v)
        for (scale, dtype), (params, g, m_, v_) in groups.items():
            torch._foreach_lerp_(m_, g, 1 - b1)
            torch._foreach_mul_(v_, b2)
            torch._foreach_addcmul_(v_, g, g, value=1 - b2)
            denom = torch._foreach_sqrt(v_)
            torch._foreach_add_(denom, ops.cast(epsilon, dtype))
            update = torch._foreach_div(m_, denom)
            torch._foreach_mul_(update, ops.cast(alpha * scale, dtype))
            torch._foreach_sub_(params, update)


def _torch_foreach_decay(optimizer, variables):
    """`LayerDecayAdamW._apply_weight_decay`, all variables, torch backend."""
    import torch

    variables = [v for v in variables if optimizer._use_weight_decay(v)]
    if not variables:
        return
    with torch.no_grad():
        lr = ops.cast(optimizer.learning_rate, "float32")
        decay = lr * optimizer.weight_decay
        groups = _by_multiplier(optimizer, variables)
        for (scale, dtype), (params,) in groups.items():
            torch._foreach_mul_(params, ops.cast(1 - decay * scale, dtype))


def layer_decay_multipliers(encoder, model, decay=0.75):
    """Per-variable lr multipliers for layer-wise lr decay.

    Front end, patch embedding, [CLS] and a learned position table get
    `decay^(L + 1)` (timm's layer 0); block `i`
    gets `decay^(L - i)`; everything else in `model` (final norms, head)
    gets 1.

    Args:
        encoder: the `MaskSpecEncoder` whose blocks define the depth.
        model: the model being trained (its variables are listed).
        decay: float. Defaults to `0.75`.

    Returns:
        dict `variable.path -> float`.

    Examples:
    >>> from keras_maskspec.models import MaskSpecEncoder
    >>> enc = MaskSpecEncoder(hidden_dim=8, num_layers=2, num_heads=2,
    ...                       intermediate_dim=8)
    >>> mult = layer_decay_multipliers(enc, enc, decay=0.5)
    >>> mult[enc.class_token.token.path]
    0.125
    """
    depth = len(encoder.transformer_layers)
    multipliers = {v.path: 1.0 for v in model.trainable_variables}
    for layer in (
        encoder.frontend,
        encoder.patch_embedding,
        encoder.class_token,
        encoder.position_embedding,
    ):
        for v in layer.trainable_variables:
            multipliers[v.path] = decay ** (depth + 1)
    for i, block in enumerate(encoder.transformer_layers):
        for v in block.trainable_variables:
            multipliers[v.path] = decay ** (depth - i)
    return multipliers


def make_adamw(
    learning_rate,
    weight_decay=0.05,
    beta_1=0.9,
    beta_2=0.95,
    lr_multipliers=None,
    no_decay_paths=None,
    epsilon=1e-8,
    **kwargs,
):
    """AdamW with MaskSpec's (PyTorch's) defaults.

    Args:
        learning_rate: float or schedule.
        weight_decay: float. Defaults to `0.05`.
        beta_1: float. Defaults to `0.9`.
        beta_2: float. Defaults to `0.95` (pre-training); fine-tuning uses
            `0.999`.
        lr_multipliers: optional dict for layer-wise lr decay.
        no_decay_paths: list of variable paths without weight decay (see
            `no_decay_paths()`), or `None` for the name patterns
            `NO_DECAY_PATTERNS` (norms, biases, tokens).
        epsilon: float. PyTorch's default. Defaults to `1e-8`.
        **kwargs: passed to `LayerDecayAdamW` (e.g. `torch_epsilon`,
            `clipnorm`, `loss_scale_factor`, `use_ema`).

    Returns:
        A `LayerDecayAdamW`.

    Examples:
    >>> make_adamw(1e-3).weight_decay
    0.05
    """
    optimizer = LayerDecayAdamW(
        lr_multipliers=lr_multipliers,
        no_decay_paths=no_decay_paths,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        **kwargs,
    )
    if no_decay_paths is None:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_PATTERNS))
    return optimizer


def scheduled_adamw(
    learning_rate=None,
    base_learning_rate=1e-3,
    global_batch_size=256,
    warmup_steps=0,
    total_steps=None,
    final_learning_rate=1e-6,
    **kwargs,
):
    """`make_adamw` on the paper's lr rule and warm-up + cosine schedule.

    Args:
        learning_rate: float, schedule or `None` (then
            `base_learning_rate * global_batch_size / 256`).
        base_learning_rate: float. Defaults to `1e-3`.
        global_batch_size: int. Defaults to `256`.
        warmup_steps: int. Defaults to `0`.
        total_steps: int or `None`. Cosine decay to `final_learning_rate`
            when given.
        final_learning_rate: float. The cosine floor. Defaults to `1e-6`.
        **kwargs: passed to `make_adamw` (`weight_decay`, `beta_2`,
            `lr_multipliers`, ...).

    Examples:
    >>> opt = scheduled_adamw(global_batch_size=512)
    >>> round(float(opt.learning_rate), 6)
    0.002
    """
    if learning_rate is None:
        learning_rate = scaled_learning_rate(
            base_learning_rate, global_batch_size
        )
    return make_adamw(
        warmup_cosine(
            learning_rate, warmup_steps, total_steps, final_learning_rate
        ),
        **kwargs,
    )
