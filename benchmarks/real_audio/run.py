"""Does MaskSpec pre-training pay on real recordings? (issue 17)

Pre-trains a MaskSpec model on the unlabelled real-audio pool built by
`build_corpus.py` (2 s clips, 32 kHz, batch 32), keeps the encoder at
several budgets (a learning curve, e.g. 0 / 150 / 300 / 600 steps of one
run; step 0 is the random initialisation of the same seed), and evaluates
each frozen encoder with a linear probe on the labelled drum task:
leave-one-group-out over the 5 drum-kit recording groups, so every
labelled clip is predicted once by a probe that never saw its kit.

Probe: features -> `StandardScaler` -> scikit-learn
`LogisticRegression(C=1)`. Feature sets, all from the same forward pass:
mean-pooled patch tokens after the final LayerNorm (`mean_norm`, the
library's usual choice), before it (`mean_prenorm`), the [CLS] token after
the final norm (`cls_norm`), mean-pooled tokens after the middle block
(`block<i>`), and a no-network baseline: per-mel-bin mean and std over time
of the log-mel input (`logmel_stats`).

Reported: accuracy and balanced accuracy per seed and budget; the
pre-trained minus random-init difference per seed (paired: same seed, same
initial weights) with a t interval over seeds and a bootstrap interval over
clips (paired resampling of the 367 test predictions, seed-averaged).

Every knob of the diagnosis is a `--set KEY=JSON` override (see `FULL`):
`patch_init` ("keras": Keras' glorot-uniform on the 4-D conv kernel, i.e.
the library's; "mae": MAE's xavier-uniform on the kernel viewed as
`(D, 256)`), `standardize` ("passt": the constants -4.5 / 5, `frame_stats=None`;
"per_bin": per-mel-bin mean/std of the pool via `LogMelSpectrogram.adapt`,
as `frame_stats="train"`; "audioset": the authors' AudioSet table, the
library's default `frame_stats="audioset"`; "audioset_floor": that table
with its std floored at 0.5, which changes only its 9 empty top bins),
`learning_rate` (null: the library's rule `1e-3 * batch / 256`),
`warmup` ("cli": the pre-training CLI's default, 40 epochs clipped to the
run, i.e. the whole run is warm-up; or a fraction of the run),
`mask_ratio`, `normalize_targets`, `pool_exclude` (pool groups left out,
e.g. `["klettres"]`: the spoken-letter half of the pool).

In-domain unlabelled audio: `probe_folds` K >= 2 splits the labelled
groups into K folds of whole groups (sorted names, dealt round-robin)
and probes each fold with a probe trained on the others;
`pool_adds_labelled` then pre-trains once per fold, on the pool plus
the *other* folds' labelled clips (their labels unused), so no clip is
ever predicted by an encoder that saw it, or its group, in pre-training.

Few labels: `probe_train_folds` m (1 <= m < K) trains the probe for each
held-out fold on the m folds after it (cyclically) instead of all others,
e.g. K = 4, m = 1: a quarter of the groups labelled, each clip still
predicted once.

Usage:
    python benchmarks/real_audio/run.py --corpus /tmp/ra/corpus --out OUT
    python benchmarks/real_audio/run.py --smoke --corpus C --out OUT  # CI
    python benchmarks/real_audio/run.py --table OUT1 OUT2 ...  # summary
    python benchmarks/real_audio/run.py --reprobe OUT --set ...  # every block

The Keras backend defaults to TensorFlow (fastest at this size on CPU).
"""

import argparse
import csv
import importlib.util
import json
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The probes' small matrices: one BLAS thread beats two contended ones.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from keras_maskspec.models.presets import get_preset  # noqa: E402

HERE = Path(__file__).resolve().parent
SAMPLE_RATE = 32000
CLASSES = ("kick", "snare", "hihat", "tom", "cymbal")


def _load_pretraining_pays():
    """The synthetic experiment's module (shared plotting helpers)."""
    path = HERE.parent / "pretraining_pays" / "run.py"
    spec = importlib.util.spec_from_file_location("pretraining_pays_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Encoder: maskspec_tiny's width (192, 3 heads, MLP 768) with 6 of its 12
# blocks; decoder 2 blocks of width 192. maskspec_tiny with the paper's
# decoder (8 x 512) took 12 s per batch-32 step on the shared 2-core box,
# tiny + a 2 x 256 decoder 1.8 s, this model 1.1 s.
FULL = {
    "clip_seconds": 2.0,
    "hidden_dim": 192,
    "num_layers": 6,
    "num_heads": 3,
    "intermediate_dim": 768,
    "decoder_hidden_dim": 192,
    "decoder_num_layers": 2,
    "decoder_num_heads": 6,
    "decoder_intermediate_dim": 768,
    "batch_size": 32,
    "budgets": [0, 150, 300, 600],
    "steps_per_epoch": 25,  # loss-curve resolution (steps)
    "seeds": [0, 1, 2],
    "mask_ratio": 0.75,
    "normalize_targets": True,
    "learning_rate": 1e-3,  # null: library rule 1e-3 * batch / 256
    "warmup": 0.1,  # fraction of the run, or "cli"
    "weight_decay": 0.05,
    "patch_init": "mae",
    "standardize": "per_bin",
    "pool_limit": None,
    "pool_exclude": [],  # pool groups left out, e.g. ["klettres"] (speech)
    "probe_folds": 0,  # 0: leave-one-group-out; K: K folds of whole groups
    "probe_train_folds": None,  # None: train on all other units; m: on m
    "pool_adds_labelled": False,  # per fold: pool + other folds' clips
    "probe_c": 1.0,
    "bootstrap": 2000,
    "jit_compile": True,
}

SMOKE = {
    **FULL,
    # The package's test-sized model (encoder and decoder sizes).
    **get_preset("maskspec_test"),
    "batch_size": 8,
    "budgets": [0, 4],
    "steps_per_epoch": 2,
    "seeds": [0],
    "pool_limit": 48,
    "bootstrap": 200,
    "jit_compile": False,
}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------- data
def read_manifest(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_clips(corpus, rows, num_samples):
    """Reads manifest rows as a `(clips, samples)` float32 array."""
    import soundfile

    audio = np.zeros((len(rows), num_samples), "float32")
    for i, row in enumerate(rows):
        wav, sr = soundfile.read(corpus / row["path"], dtype="float32")
        if sr != SAMPLE_RATE:
            raise ValueError(
                f"{row['path']}: expected {SAMPLE_RATE} Hz. Received: {sr}"
            )
        wav = wav[:num_samples]
        audio[i, : len(wav)] = wav
    return audio


def load_corpus(corpus, cfg):
    corpus = Path(corpus)
    n = int(round(cfg["clip_seconds"] * SAMPLE_RATE))
    pool = read_manifest(corpus / "pool.csv")
    excluded = set(cfg["pool_exclude"])
    unknown = excluded - {r["group"] for r in pool}
    if unknown:
        raise ValueError(
            f"`pool_exclude` names no pool group. Received: {sorted(unknown)}"
        )
    pool = [r for r in pool if r["group"] not in excluded]
    if cfg["pool_limit"]:
        pool = pool[:: max(1, len(pool) // cfg["pool_limit"])]
        pool = pool[: cfg["pool_limit"]]
    labelled = read_manifest(corpus / "labelled_all.csv")
    names = {r["label"] for r in labelled}
    # The drum task keeps its fixed class order; another task (e.g.
    # `build_guitar_task.py`) gets its labels in sorted order.
    classes = CLASSES if names <= set(CLASSES) else tuple(sorted(names))
    return {
        "x_pool": load_clips(corpus, pool, n),
        "x": load_clips(corpus, labelled, n),
        "y": np.array([classes.index(r["label"]) for r in labelled]),
        "groups": np.array([r["group"] for r in labelled]),
        "classes": classes,
    }


# ---------------------------------------------------------------- models
def make_frontend(stats, seed):
    from keras_maskspec.layers import LogMelSpectrogram
    from keras_maskspec.models.model_base import derive_seed

    # mean/std always explicit, so library default changes cannot leak in.
    return LogMelSpectrogram(
        mean=stats["mean"],
        std=stats["std"],
        seed=derive_seed(seed, "frontend"),
        dtype="float32",
        name="frontend",
    )


def frontend_stats(cfg, x_pool):
    """`standardize="passt"`: -4.5 / 5; `"per_bin"`: pool statistics;
    `"audioset"`: the authors' AudioSet per-bin table (the library's
    `PretrainConfig(frame_stats="audioset")` default); `"audioset_floor"`:
    that table with its std floored at 0.5 (only the 9 empty top bins)."""
    if cfg["standardize"] == "passt":
        return {"mean": -4.5, "std": 5.0}
    kinds = ("per_bin", "audioset", "audioset_floor")
    if cfg["standardize"] not in kinds:
        raise ValueError(
            f"`standardize` must be 'passt' or one of {kinds}. "
            f"Received: standardize={cfg['standardize']!r}"
        )
    frontend = make_frontend({"mean": 0.0, "std": 1.0}, 0)
    if cfg["standardize"].startswith("audioset"):
        from keras_maskspec.utils.frame_stats import load_frame_statistics

        mean, std = load_frame_statistics("audioset")
        if cfg["standardize"] == "audioset_floor":
            # AudioSet's top 9 mel bins are empty (std 0.04-0.23, every
            # other bin >= 0.556): floored at 0.5 they no longer multiply
            # full-band recordings' energy there by up to 23.
            std = np.maximum(np.asarray(std, "float64"), 0.5)
        frontend.set_statistics(mean, std)
    else:
        frontend.adapt([x_pool[i : i + 64] for i in range(0, len(x_pool), 64)])
    return {"mean": list(frontend.mean), "std": list(frontend.std)}


def init_patch_kernel(encoder, how, seed):
    """Sets the patch-embedding kernel `(pt, pf, 1, D)` explicitly.

    "keras": glorot-uniform as Keras computes it for a conv kernel
    (fan_in = pt*pf, fan_out = pt*pf*D), the library's default;
    "mae": MAE's `xavier_uniform_(w.view(D, -1))` (fan_in = pt*pf,
    fan_out = D), about sqrt(D) times larger.
    """
    kernel = encoder.patch_embedding.projection.kernel
    pt, pf, cin, d = kernel.shape
    fan_in = pt * pf * cin
    if how == "keras":
        fan_out = pt * pf * d
    elif how == "mae":
        fan_out = d
    else:
        raise ValueError(
            f"`patch_init` must be 'keras' or 'mae'. Received: {how!r}"
        )
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    rng = np.random.default_rng(10_000 + seed)
    kernel.assign(rng.uniform(-limit, limit, kernel.shape).astype("float32"))


def build_pretrainer(cfg, stats, seed):
    import keras

    from keras_maskspec.models import MaskSpecEncoder
    from keras_maskspec.models import MaskSpecPretrainer

    keras.utils.set_random_seed(seed)
    encoder = MaskSpecEncoder(
        hidden_dim=cfg["hidden_dim"],
        num_layers=cfg["num_layers"],
        num_heads=cfg["num_heads"],
        intermediate_dim=cfg["intermediate_dim"],
        frontend=make_frontend(stats, seed),
        seed=seed,
    )
    init_patch_kernel(encoder, cfg["patch_init"], seed)
    return MaskSpecPretrainer(
        encoder,
        decoder_hidden_dim=cfg["decoder_hidden_dim"],
        decoder_num_layers=cfg["decoder_num_layers"],
        decoder_num_heads=cfg["decoder_num_heads"],
        decoder_intermediate_dim=cfg["decoder_intermediate_dim"],
        mask_ratio=cfg["mask_ratio"],
        normalize_targets=cfg["normalize_targets"],
        seed=seed,
    )


def schedule(cfg, total, pool_size):
    """(peak lr, warm-up steps) for a run of `total` steps."""
    from keras_maskspec.models.optimizers import scaled_learning_rate

    lr = cfg["learning_rate"]
    if lr is None:  # the library's linear scaling rule
        lr = scaled_learning_rate(1e-3, cfg["batch_size"])
    if cfg["warmup"] == "cli":
        # keras_maskspec.training.run: min(warmup_epochs * steps, total - 1)
        # with PretrainConfig's warmup_epochs=40.
        warmup = min(40 * (pool_size // cfg["batch_size"]), total - 1)
    else:
        warmup = int(round(float(cfg["warmup"]) * total))
    return float(lr), int(warmup)


def pool_dataset(x, batch, seed):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x)
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.repeat().batch(batch, drop_remainder=True).prefetch(2)


def masked_loss(pretrainer, x, batch=32):
    """Masked-patch loss of `x` (mask drawn by the model's masking seed)."""
    from keras_maskspec.models.losses import MaskedPatchMSE

    out = pretrainer.predict(x, batch_size=batch, verbose=0)
    loss = MaskedPatchMSE(normalize_targets=pretrainer.normalize_targets)
    return float(loss(out["target"], out["reconstruction"], out["mask"]))


def pretrain(cfg, stats, data, seed, on_budget):
    """Pre-trains for max(budgets) steps; calls `on_budget(step, model)`."""
    import keras

    from keras_maskspec.models.optimizers import scheduled_adamw
    from keras_maskspec.models.presets import PRETRAINING

    model = build_pretrainer(cfg, stats, seed)
    budgets = sorted(cfg["budgets"])
    total = budgets[-1]
    spe = cfg["steps_per_epoch"]
    if any(b % spe for b in budgets):
        raise ValueError(
            f"budgets must be multiples of steps_per_epoch={spe}. "
            f"Received: budgets={budgets}"
        )
    lr, warmup = schedule(cfg, total, len(data["x_pool"]))
    model.compile(
        optimizer=scheduled_adamw(
            lr,
            warmup_steps=warmup,
            total_steps=total,
            weight_decay=cfg["weight_decay"],
            beta_2=PRETRAINING["beta_2"],
        ),
        jit_compile=cfg["jit_compile"],
    )
    losses = []
    if 0 in budgets:
        on_budget(0, model)

    class Checkpoints(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            losses.append(float(logs["loss"]))
            step = (epoch + 1) * spe
            if step in budgets and step > 0:
                on_budget(step, model)

    start = time.time()
    if total:
        model.fit(
            pool_dataset(data["x_pool"], cfg["batch_size"], seed),
            steps_per_epoch=spe,
            epochs=total // spe,
            callbacks=[Checkpoints()],
            verbose=0,
        )
    return model, {
        "loss_every": spe,
        "losses": losses,
        "peak_lr": lr,
        "warmup_steps": warmup,
        "seconds": time.time() - start,
    }


# ------------------------------------------------------------- features
def pooled(tokens, mel_patches):
    """Poolings of patch tokens `(batch, time * mel, dim)`, time-major,
    beside the plain mean that `encoder_features` always takes.

    `freqcat`: MSM-MAE's / M2D's scene feature, the mean over time of each
    mel row of patches, the rows concatenated (`mel_patches * dim` values:
    where in frequency a token sits is kept); `meanstd`: mean and standard
    deviation over all patches.
    """
    from keras import ops

    shape = ops.shape(tokens)
    grid = ops.reshape(tokens, (shape[0], -1, mel_patches, tokens.shape[-1]))
    return {
        "freqcat": ops.reshape(ops.mean(grid, axis=1), (shape[0], -1)),
        "meanstd": ops.concatenate(
            [ops.mean(tokens, axis=1), ops.std(tokens, axis=1)], axis=-1
        ),
    }


def encoder_features(encoder, x, batch=32, every_block=False, poolings=False):
    """Feature sets of a frozen encoder (see the module docstring).

    `every_block`: also the token mean after every block (`block<i>`) and
    their average over blocks (`blocks_mean`), for `--reprobe`.
    `poolings`: also `freqcat_*` and `meanstd_*` poolings (see `pooled`)
    of the final-norm tokens (`*_norm`), of the middle block's
    (`*_block<i>`) and of the patch embeddings plus positions before any
    block (`*_embed`), for `--reprobe --features poolings`.
    """
    from keras import ops

    feats = {}
    mel_patches = encoder.mel_patches()

    def add(name, value):
        feats.setdefault(name, []).append(ops.convert_to_numpy(value))

    def add_poolings(suffix, tokens):
        for kind, value in pooled(tokens, mel_patches).items():
            add(f"{kind}_{suffix}", value)

    for i in range(0, len(x), batch):
        spec = encoder.frontend(x[i : i + batch], training=False)
        h = encoder.class_token(encoder.embed(spec))
        if poolings:
            add("mean_embed", ops.mean(h[:, 1:], axis=1))
            add_poolings("embed", h[:, 1:])
        middle = len(encoder.transformer_layers) // 2 - 1
        means = []
        for b, block in enumerate(encoder.transformer_layers):
            h = block(h, training=False)
            means.append(ops.mean(h[:, 1:], axis=1))
            if b == middle or every_block:
                add(f"block{b}", means[-1])
            if b == middle and poolings:
                add_poolings(f"block{b}", h[:, 1:])
        if every_block:
            add("blocks_mean", ops.mean(ops.stack(means), axis=0))
        normed = encoder.final_norm(h)
        if poolings:
            add_poolings("norm", normed[:, 1:])
        add("mean_prenorm", ops.mean(h[:, 1:], axis=1))
        add("mean_norm", ops.mean(normed[:, 1:], axis=1))
        add("cls_norm", normed[:, 0])
    return {k: np.concatenate(v).astype("float64") for k, v in feats.items()}


def logmel_stats(x, batch=64):
    """No-network baseline: per-bin mean and std over time of the log-mel."""
    from keras import ops

    frontend = make_frontend({"mean": -4.5, "std": 5.0}, 0)
    out = []
    for i in range(0, len(x), batch):
        s = ops.convert_to_numpy(frontend(x[i : i + batch], training=False))
        out.append(np.concatenate([s.mean(1), s.std(1)], axis=1))
    return np.concatenate(out).astype("float64")


def probe_units(groups, folds):
    """The held-out unit of each clip: its group (`folds` 0, leave one
    group out) or its fold (`folds` K >= 2: the sorted group names dealt
    round-robin into K folds, so a group never straddles two).

    >>> probe_units(np.array(["b", "a", "c", "a"]), 2).tolist()
    [1, 0, 0, 0]
    """
    names = sorted(set(groups.tolist()))
    if folds == 0:
        index = {g: i for i, g in enumerate(names)}
    elif 2 <= folds <= len(names):
        index = {g: i % folds for i, g in enumerate(names)}
    else:
        raise ValueError(
            f"`probe_folds` must be 0 or 2..{len(names)} (the number of "
            f"groups). Received: probe_folds={folds}"
        )
    return np.array([index[g] for g in groups.tolist()])


def unit_probe(feats, y, units, c, only=None, train=None):
    """Predictions of a standardised logistic probe for each held-out unit
    (see `probe_units`), trained on all other units; -1 where a unit other
    than `only` (when given) was skipped.

    `train` m (few labels): the probe for the i-th unit (sorted) trains on
    the m units after it, cyclically, instead of all others, so each clip
    is still predicted once, by a probe that saw m of the K units' labels.

    >>> feats = np.array([[0.0], [1.0], [0.1], [0.9], [0.2], [1.1]])
    >>> y, units = np.array([0, 1, 0, 1, 0, 1]), np.array([0, 0, 1, 1, 2, 2])
    >>> unit_probe(feats, y, units, 1.0, train=1).tolist()
    [0, 1, 0, 1, 0, 1]
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    # Capped at 1000 lbfgs iterations: near-collinear features of some
    # random encoders otherwise take minutes on a loaded CPU.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    names = np.unique(units)
    if train is not None and not 1 <= train < len(names):
        raise ValueError(
            f"`probe_train_folds` must be null or 1..{len(names) - 1} (the "
            f"held-out units but one). Received: probe_train_folds={train}"
        )
    pred = np.full_like(y, -1)
    for i, u in enumerate(names):
        if only is not None and u != only:
            continue
        test = units == u
        fit = ~test
        if train is not None:
            fit = np.isin(units, names[(i + 1 + np.arange(train)) % len(names)])
        scaler = StandardScaler().fit(feats[fit])
        clf = LogisticRegression(C=c, max_iter=1000)
        clf.fit(scaler.transform(feats[fit]), y[fit])
        pred[test] = clf.predict(scaler.transform(feats[test]))
    return pred


def probe(cfg, feats, y, units, only=None):
    """`unit_probe` with the run's probe settings (`probe_c`,
    `probe_train_folds`)."""
    return unit_probe(
        feats,
        y,
        units,
        cfg["probe_c"],
        only=only,
        train=with_defaults(cfg)["probe_train_folds"],
    )


def score(y, pred):
    """The probe record of one feature set: accuracies and predictions."""
    return {
        "accuracy": accuracy(y, pred),
        "balanced_accuracy": balanced_accuracy(y, pred),
        "pred": pred.tolist(),
    }


def accuracy(y, pred):
    return float(np.mean(pred == y))


def balanced_accuracy(y, pred):
    """Mean recall over the classes present in `y`."""
    return float(np.mean([np.mean(pred[y == k] == k) for k in np.unique(y)]))


# ------------------------------------------------------------ statistics
def t_interval(values):
    """Mean and 95 % t interval (None for fewer than two values)."""
    from scipy import stats

    values = np.asarray(values, "float64")
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci95": None, "n": len(values)}
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1)
    half /= np.sqrt(len(values))
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(values)}


def bootstrap_difference(y, preds_a, preds_b, n_boot, seed=0):
    """Paired clip bootstrap of mean_over_seeds(metric(a) - metric(b)).

    `preds_a`/`preds_b`: lists (one per seed) of prediction vectors on the
    same clips. Returns 95 % percentile intervals for accuracy and balanced
    accuracy.
    """
    rng = np.random.default_rng(seed)
    a = np.stack(preds_a) == y
    b = np.stack(preds_b) == y
    n = len(y)
    out = {"accuracy": [], "balanced_accuracy": []}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        out["accuracy"].append((a[:, idx].mean() - b[:, idx].mean()))
        yi = y[idx]
        diffs = []
        for s in range(len(a)):
            rec_a = [a[s, idx][yi == k].mean() for k in np.unique(yi)]
            rec_b = [b[s, idx][yi == k].mean() for k in np.unique(yi)]
            diffs.append(np.mean(rec_a) - np.mean(rec_b))
        out["balanced_accuracy"].append(np.mean(diffs))
    return {
        k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
        for k, v in out.items()
    }


def summarize(results, cfg, y):
    """Per budget and feature set: means, paired differences, intervals."""
    all_seeds = [str(s) for s in cfg["seeds"] if str(s) in results["runs"]]
    budgets = sorted(
        {b for s in all_seeds for b in results["runs"][s]["probes"]}, key=int
    )
    summary = {}
    if not all_seeds:
        return summary
    first = results["runs"][all_seeds[0]]["probes"][budgets[0]]
    for feature in first:
        per_budget = {}
        for b in budgets:
            # Seeds that reached this budget (merged runs may differ).
            seeds = [s for s in all_seeds if b in results["runs"][s]["probes"]]
            probes = [results["runs"][s]["probes"][b][feature] for s in seeds]
            entry = {
                m: t_interval([p[m] for p in probes])
                for m in ("accuracy", "balanced_accuracy")
            }
            if b != "0" and "0" in budgets:
                base = [
                    results["runs"][s]["probes"]["0"][feature] for s in seeds
                ]
                entry["difference_vs_random"] = {
                    m: t_interval([p[m] - q[m] for p, q in zip(probes, base)])
                    for m in ("accuracy", "balanced_accuracy")
                }
                entry["difference_vs_random"]["bootstrap_ci95"] = (
                    bootstrap_difference(
                        y,
                        [np.array(p["pred"]) for p in probes],
                        [np.array(q["pred"]) for q in base],
                        cfg["bootstrap"],
                    )
                )
            per_budget[b] = entry
        summary[feature] = per_budget
    return summary


# Keys that change only the probe or the statistics, not the encoders.
PROBE_KEYS = {"probe_folds", "probe_train_folds", "probe_c", "bootstrap"}


def with_defaults(cfg):
    """`cfg` with the keys a run written before they existed lacks taken
    from `FULL` (what those runs used)."""
    return {**FULL, **cfg}


def training_config(cfg):
    """`with_defaults(cfg)` without `PROBE_KEYS`: what shapes the encoders."""
    full = with_defaults(cfg)
    return {k: full[k] for k in FULL if k not in PROBE_KEYS}


def reprobe(run_dir, cfg, stats, data, features="blocks"):
    """More feature sets for the encoders a run saved (`--reprobe`).

    `features`: "blocks" (the token mean after every block; writes
    `reprobe.json`) or "poolings" (other poolings, see `encoder_features`;
    writes `reprobe_poolings.json`).
    """
    done = json.loads((run_dir / "results.json").read_text())
    if cfg["pool_adds_labelled"] or training_config(done["config"]) != (
        training_config(cfg)
    ):
        raise SystemExit(
            "--reprobe needs the run's own --set options (the probe's "
            f"{sorted(PROBE_KEYS)} may differ; not with "
            "pool_adds_labelled). Received: "
            f"{json.dumps(cfg)}; the run used {json.dumps(done['config'])}"
        )
    y = data["y"]
    units = probe_units(data["groups"], cfg["probe_folds"])
    results = {"config": cfg, "runs": {}}
    for seed in cfg["seeds"]:
        model = build_pretrainer(cfg, stats, seed)
        probes = {}
        for step in sorted(cfg["budgets"]):
            path = run_dir / f"pretrainer_seed{seed}_step{step}.weights.h5"
            model.load_weights(path)
            feats = encoder_features(
                model.encoder,
                data["x"],
                every_block=features == "blocks",
                poolings=features == "poolings",
            )
            probes[str(step)] = {
                name: score(y, probe(cfg, f, y, units))
                for name, f in feats.items()
            }
            log(
                f"seed {seed} step {step}: "
                + ", ".join(
                    f"{k} {v['accuracy']:.3f}"
                    for k, v in probes[str(step)].items()
                )
            )
        results["runs"][str(seed)] = {"probes": probes}
    results["summary"] = summarize(results, cfg, y)
    name = (
        "reprobe.json" if features == "blocks" else f"reprobe_{features}.json"
    )
    (run_dir / name).write_text(json.dumps(results, indent=1))
    return results


# ----------------------------------------------------------------- plots
def plot_curve(results, path, features=("mean_norm", "mean_prenorm")):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric in zip(axes, ("accuracy", "balanced_accuracy")):
        for feature, color in zip(features, ("tab:blue", "tab:orange")):
            per = summary.get(feature, {})
            steps = [int(b) for b in per]
            means = [per[b][metric]["mean"] for b in per]
            err = [
                0.0
                if per[b][metric]["ci95"] is None
                else per[b][metric]["ci95"][1] - per[b][metric]["mean"]
                for b in per
            ]
            ax.errorbar(
                steps,
                means,
                yerr=err,
                marker="o",
                capsize=3,
                color=color,
                label=f"MaskSpec probe ({feature})",
            )
            if "0" in per:
                ax.axhline(
                    per["0"][metric]["mean"],
                    color=color,
                    ls=":",
                    lw=1,
                    label=f"random init ({feature})",
                )
        base = summary.get("logmel_stats", {}).get("0")
        if base:
            ax.axhline(
                base[metric]["mean"],
                color="k",
                ls="--",
                lw=1,
                label="log-mel mean+std (no network)",
            )
        ax.axhline(0.2 if metric != "accuracy" else 0.0, color="w", lw=0)
        ax.set_xlabel("pre-training steps (batch 32, 2 s clips)")
        ax.set_ylabel(f"probe {metric.replace('_', ' ')}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    k = results["config"].get("probe_folds", 0)
    held = f"{k} folds of groups" if k else "leave one group out"
    m = results["config"].get("probe_train_folds")
    if m is not None:
        held += f", each probe trained on {m} fold(s)"
    n = len(results["runs"])
    fig.suptitle(
        f"Linear probe on held-out groups ({held}) vs pre-training budget\n"
        f"(mean and 95% t interval over {n} seed(s))",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def label_fraction(config):
    """The share of held-out units whose labels each probe sees.

    >>> label_fraction({"probe_folds": 4, "probe_train_folds": 1})
    0.25
    """
    k = config.get("probe_folds", 0)
    if not k:
        return None  # leave-one-group-out: the share depends on the groups
    m = config.get("probe_train_folds")
    return (k - 1 if m is None else m) / k


def plot_label_fractions(
    results_list,
    path,
    budget=None,
    features=("mean_norm", "freqcat_norm", "freqcat_embed"),
):
    """Probe accuracy against the labelled share of the groups: random
    init (dotted) and the last (or given) budget (solid) for each feature
    set, mean and 95 % t interval over seeds; one result (a run's
    `results.json` or a `--reprobe` file) per label fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(
        (
            (fraction, r)
            for r in results_list
            if (fraction := label_fraction(r["config"])) is not None
        ),
        key=lambda point: point[0],  # results of equal shares keep order
    )
    if not points:
        raise SystemExit(
            "--label-plot needs results of runs with probe_folds >= 2."
        )
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colors = ("tab:blue", "tab:green", "tab:red", "tab:purple")
    for feature, color in zip(features, colors):
        for step, ls in (("0", ":"), (None, "-")):
            xs, means, errs = [], [], []
            for fraction, r in points:
                per = r["summary"].get(feature, {})
                b = step or str(budget or max(int(k) for k in per or [0]))
                if b not in per:
                    continue
                acc = per[b]["accuracy"]
                xs.append(fraction)
                means.append(acc["mean"])
                errs.append(acc["ci95"][1] - acc["mean"] if acc["ci95"] else 0)
                label = f"{feature}, " + (
                    "random init" if step else f"{b} steps"
                )
            if xs:
                ax.errorbar(
                    xs, means, yerr=errs, color=color, ls=ls, marker="o",
                    capsize=3, label=label,
                )  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks([f for f, _ in points], [f"{f:.3g}" for f, _ in points])
    ax.set_xlabel("share of the labelled groups the probe trains on")
    ax.set_ylabel("probe accuracy on held-out groups")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    n = len(points[0][1]["runs"])
    ax.set_title(
        f"Linear probe vs labelled share (mean, 95% t interval, {n} seeds)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(result_dirs, features=("mean_norm", "mean_prenorm", "cls_norm")):
    """Markdown table of several runs (diagnosis): one row per run."""
    lines = [
        "| run | steps | feature | acc random | acc pre-trained | "
        "diff (t95) | bacc random | bacc pre-trained | first/last loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in result_dirs:
        r = json.loads((Path(d) / "results.json").read_text())
        s = r["summary"]
        budgets = sorted(int(b) for b in s["mean_norm"])
        top = str(budgets[-1])
        seed = next(iter(r["runs"]))
        losses = r["runs"][seed]["pretrain"]["losses"]
        loss = f"{losses[0]:.3f}/{losses[-1]:.3f}" if losses else "-"
        for f in features:
            e0, e1 = s[f]["0"], s[f][top]
            diff = e1["difference_vs_random"]["accuracy"]
            ci = diff["ci95"]
            ci = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
            lines.append(
                f"| {Path(d).name} | {top} | {f} | "
                f"{e0['accuracy']['mean']:.3f} | {e1['accuracy']['mean']:.3f}"
                f" | {diff['mean']:+.3f}{ci} | "
                f"{e0['balanced_accuracy']['mean']:.3f} | "
                f"{e1['balanced_accuracy']['mean']:.3f} | {loss} |"
            )
    return "\n".join(lines)


def merge(result_dirs, out):
    """One results.json from runs that differ only in their seeds."""
    parts = [
        json.loads((Path(d) / "results.json").read_text()) for d in result_dirs
    ]
    results = dict(parts[0])
    cfg = with_defaults(results["config"])
    free = ("seeds", "budgets")  # may differ; the schedule's total may not
    for p in parts[1:]:
        other = with_defaults(p["config"])
        other = {k: v for k, v in other.items() if k not in free}
        same_total = max(p["config"]["budgets"]) == max(cfg["budgets"])
        if not same_total or other != {
            k: v for k, v in cfg.items() if k not in free
        }:
            raise ValueError(
                f"Runs differ in more than their seeds. Received: {result_dirs}"
            )
    results["runs"] = {k: v for p in parts for k, v in p["runs"].items()}
    cfg["seeds"] = sorted(int(s) for s in results["runs"])
    cfg["budgets"] = sorted(
        {int(b) for p in parts for b in p["config"]["budgets"]}
    )
    results["config"] = cfg
    results["merged_from"] = [str(d) for d in result_dirs]
    results["seconds"] = [p.get("seconds") for p in parts]
    results["summary"] = summarize(results, cfg, np.array(results["y"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot_curve(results, out / "learning_curve.png")
    return results


def draw_reconstructions(model, data, path):
    """Kick, snare and cymbal of the held-out forzee kit (never in the pool);
    for another task, the first clip of each of its first three classes."""
    y, groups, classes = data["y"], data["groups"], data["classes"]
    if "forzee" in set(groups.tolist()):
        pick = [
            int(np.flatnonzero((y == k) & (groups == "forzee"))[0])
            for k in (0, 1, 4)
        ]
    else:
        pick = [int(np.flatnonzero(y == k)[0]) for k in np.unique(y)[:3]]
    _load_pretraining_pays().plot_reconstructions(
        model,
        data["x"][pick],
        [f"{classes[y[i]]} ({groups[i]})" for i in pick],
        path,
    )


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", default="/tmp/ra/corpus")
    parser.add_argument("--out", help="Folder for results.")
    parser.add_argument("--smoke", action="store_true", help="Tiny run.")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="Override a config entry, e.g. --set patch_init='\"keras\"'.",
    )
    parser.add_argument(
        "--table", nargs="+", metavar="DIR", help="Summarise finished runs."
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="DIR",
        help="Merge runs of one config with different seeds (run in "
        "parallel) into --out: results.json and learning_curve.png.",
    )
    parser.add_argument(
        "--reconstructions",
        action="store_true",
        help="Also draw reconstructions of 3 drum clips (seed 0, last budget).",
    )
    parser.add_argument(
        "--reprobe",
        metavar="DIR",
        help="Probe the encoders a finished run saved (DIR, run with the "
        "same --set options) with more feature sets: the token mean after "
        "every block and their average; writes DIR/reprobe.json.",
    )
    parser.add_argument(
        "--features",
        choices=("blocks", "poolings"),
        default="blocks",
        help="With --reprobe: which feature family (default: blocks).",
    )
    parser.add_argument(
        "--label-plot",
        nargs="+",
        metavar="JSON",
        help="Draw probe accuracy against the labelled share (one run's "
        "results.json or --reprobe file per share) into --out, a .png.",
    )
    parser.add_argument(
        "--from-weights",
        metavar="H5",
        help="Only draw reconstructions.png (3 drum clips) from saved "
        "pretrainer weights of a run with the same --set options.",
    )
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.table))
        return None
    if args.merge:
        return merge(args.merge, Path(args.out))
    if args.label_plot:
        if not args.out or not args.out.endswith(".png"):
            parser.error(
                f"--label-plot needs --out FILE.png. Received: --out={args.out}"
            )
        plot_label_fractions(
            [json.loads(Path(f).read_text()) for f in args.label_plot],
            args.out,
        )
        return None
    if args.reprobe:
        args.out = args.out or args.reprobe
    if not args.out:
        parser.error("--out is required. Received: --out=None")
    corpus = Path(args.corpus)
    if not (corpus / "pool.csv").exists():
        parser.error(
            "No pool.csv in the corpus folder; build it with "
            f"build_corpus.py. Received: --corpus={corpus}"
        )
    cfg = dict(SMOKE if args.smoke else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in cfg:
            parser.error(f"Unknown config key. Received: --set {item}")
        try:
            cfg[key] = json.loads(value)
        except json.JSONDecodeError:  # a bare word: a string
            cfg[key] = value
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    import keras

    data = load_corpus(corpus, cfg)
    log(
        f"pool {len(data['x_pool'])} clips, labelled {len(data['x'])}; "
        f"config {json.dumps(cfg)}"
    )
    stats = frontend_stats(cfg, data["x_pool"])
    y, groups = data["y"], data["groups"]
    if args.from_weights:
        model = build_pretrainer(cfg, stats, cfg["seeds"][0])
        model.load_weights(args.from_weights)
        draw_reconstructions(model, data, out / "reconstructions.png")
        return None
    if args.reprobe:
        return reprobe(Path(args.reprobe), cfg, stats, data, args.features)
    results = {
        "config": cfg,
        "backend": keras.backend.backend(),
        "classes": list(data["classes"]),
        "groups": sorted(set(groups.tolist())),
        "num_pool": len(data["x_pool"]),
        "num_labelled": len(y),
        "y": y.tolist(),
        "runs": {},
    }

    units = probe_units(groups, cfg["probe_folds"])
    # One pre-training per seed, or per seed and fold when each fold's
    # pool adds the other folds' labelled clips (module docstring).
    folds = [None]
    if cfg["pool_adds_labelled"]:
        if not cfg["probe_folds"]:
            parser.error(
                "pool_adds_labelled needs probe_folds >= 2. Received: "
                f"probe_folds={cfg['probe_folds']}"
            )
        folds = list(range(cfg["probe_folds"]))
    base_probe = {
        "logmel_stats": score(y, probe(cfg, logmel_stats(data["x"]), y, units))
    }
    loss_clips = data["x_pool"][:: max(1, len(data["x_pool"]) // 256)][:256]

    for seed in cfg["seeds"]:
        run = {"probes": {}, "drum_loss": {}, "pool_loss": {}}
        results["runs"][str(seed)] = run
        preds = {}  # step -> feature -> predictions, filled fold by fold

        def on_budget(step, model, fold, run=run, preds=preds, seed=seed):
            t = time.time()
            feats = encoder_features(model.encoder, data["x"])
            tag = "" if fold is None else f"_fold{fold}"
            for name, f in feats.items():
                pred = probe(cfg, f, y, units, only=fold)
                done = preds.setdefault(str(step), {}).setdefault(name, pred)
                done[pred >= 0] = pred[pred >= 0]
            if not args.smoke:  # the encoder at this budget (+ decoder)
                model.save_weights(
                    out / f"pretrainer_seed{seed}_step{step}{tag}.weights.h5"
                )
            run["drum_loss"][f"{step}{tag}"] = masked_loss(model, data["x"])
            run["pool_loss"][f"{step}{tag}"] = masked_loss(model, loss_clips)
            held = units == fold if fold is not None else np.ones_like(y, bool)
            acc = {
                k: accuracy(y[held], preds[str(step)][k][held])
                for k in ("mean_norm", "mean_prenorm", "cls_norm")
            }
            log(
                f"seed {seed}{tag} step {step}: probe acc mean_norm "
                f"{acc['mean_norm']:.3f}, mean_prenorm "
                f"{acc['mean_prenorm']:.3f}, cls {acc['cls_norm']:.3f}"
                f"{' (this fold)' if tag else ''}; labelled-set loss "
                f"{run['drum_loss'][f'{step}{tag}']:.3f} "
                f"({time.time() - t:.0f} s)"
            )

        infos = []
        for fold in folds:
            fold_data = data
            if fold is not None:  # pool + the other folds' clips, unlabelled
                fold_data = {
                    **data,
                    "x_pool": np.concatenate(
                        [data["x_pool"], data["x"][units != fold]]
                    ),
                }
                log(
                    f"seed {seed} fold {fold}: pool "
                    f"{len(fold_data['x_pool'])} clips, "
                    f"{int(np.sum(units == fold))} held-out labelled clips"
                )
            model, info = pretrain(
                cfg,
                stats,
                fold_data,
                seed,
                lambda step, model, fold=fold: on_budget(step, model, fold),
            )
            infos.append(info)
        run["probes"] = {
            step: {**{k: score(y, p) for k, p in f.items()}, **base_probe}
            for step, f in preds.items()
        }
        # The first (or only) pre-training's record; per fold beside it.
        info = {**infos[0], "seconds": sum(i["seconds"] for i in infos)}
        if len(infos) > 1:
            info["folds"] = infos
        run["pretrain"] = info
        log(
            f"seed {seed}: pre-trained {max(cfg['budgets'])} steps in "
            f"{info['seconds']:.0f} s (incl. probes), lr {info['peak_lr']:g},"
            f" warm-up {info['warmup_steps']}"
        )
        if args.reconstructions and seed == cfg["seeds"][0]:
            draw_reconstructions(model, data, out / "reconstructions.png")
        results["summary"] = summarize(results, cfg, y)
        results["seconds"] = time.time() - t0
        (out / "results.json").write_text(json.dumps(results, indent=1))
        plot_curve(results, out / "learning_curve.png")
    log(f"done in {time.time() - t0:.0f} s")
    return results


if __name__ == "__main__":
    main()
