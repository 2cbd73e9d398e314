"""Does MaskSpec pre-training pay? A small-scale, CPU-sized experiment.

Generates an unlabelled pre-training corpus and a labelled downstream set of
1 s instrument clips (General MIDI SoundFont, `make_instruments.py`), with
the test split made of held-out programs (an instrument class is tested on a
program never heard in training or pre-training). Then:

1. pre-trains a small MaskSpec model (mask ratio 0.75) on the unlabelled
   corpus only;
2. fine-tunes (a) a randomly initialised and (b) the pre-trained encoder at
   1 %, 10 % and 100 % of the downstream labels (class-balanced subsets, at
   least one clip per class), for several seeds;
3. linear-probes (c) the frozen random and pre-trained encoders (mean-pooled
   patch tokens -> standardisation -> logistic regression) at the same label
   fractions;
4. sweeps the mask ratio with a shorter pre-training schedule and evaluates
   every ratio with the linear probe and a 10 % fine-tune;
5. writes `results.json`, `table.md`, `results.png` and
   `reconstructions.png` into `--out`.

Usage:
    python benchmarks/pretraining_pays/run.py --out /tmp/pp        # ~45 min
    python benchmarks/pretraining_pays/run.py --smoke --out /tmp/s # ~1-2 min

The Keras backend defaults to TensorFlow (measured fastest for this model
size on a 2-core CPU); set `KERAS_BACKEND` to override.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 16000

FULL = {
    "num_downstream": 3000,
    "num_unlabelled": 3000,
    "clip_seconds": 1.0,
    "num_mel_bins": 64,
    "hidden_dim": 128,
    "num_layers": 4,
    "num_heads": 4,
    "intermediate_dim": 512,
    "decoder_hidden_dim": 128,
    "decoder_num_layers": 2,
    "decoder_num_heads": 4,
    "decoder_intermediate_dim": 512,
    "pretrain_epochs": 20,
    "pretrain_batch_size": 64,
    "pretrain_learning_rate": 1e-3,
    "sweep_ratios": [0.25, 0.5, 0.75, 0.9],
    "sweep_epochs": 6,
    "fractions": [0.01, 0.1, 1.0],
    "finetune_seeds": {"0.01": [0, 1], "0.1": [0, 1], "1.0": [0]},
    "probe_seeds": [0, 1, 2],
    "finetune_steps": {"0.01": 60, "0.1": 100, "1.0": 200},
    "finetune_learning_rate": 1e-3,
    "finetune_batch_size": 64,
    "sweep_finetune_fraction": None,
    "drop_path_rate": 0.1,
    "probe_c": 1.0,
    "jit_compile": "auto",
}

SMOKE = {
    **FULL,
    "num_downstream": 80,
    "num_unlabelled": 40,
    "hidden_dim": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_dim": 64,
    "decoder_hidden_dim": 32,
    "decoder_num_layers": 1,
    "decoder_num_heads": 2,
    "decoder_intermediate_dim": 64,
    "pretrain_epochs": 1,
    "pretrain_batch_size": 16,
    "sweep_ratios": [0.5],
    "sweep_epochs": 1,
    "fractions": [0.1, 1.0],
    "finetune_seeds": {"0.1": [0], "1.0": [0]},
    "sweep_finetune_fraction": 0.1,
    "probe_seeds": [0],
    "finetune_steps": {"0.1": 2, "1.0": 2},
    "finetune_batch_size": 16,
    "jit_compile": False,
}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------- data
def generate(tools, out_dir, n, seed, split_by, extra=()):
    """Runs `make_instruments.py` unless `out_dir` already holds its output."""
    if (out_dir / "metadata.csv").exists():
        return
    cmd = [
        sys.executable,
        str(Path(tools) / "make_instruments.py"),
        "--out",
        str(out_dir),
        "--n",
        str(n),
        "--seed",
        str(seed),
        "--fixed-dur",
        "1.0",
        "--split-by",
        split_by,
        "--workers",
        "2",
        *extra,
    ]
    log("generating: " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def load_set(directory, rows, num_samples):
    """Reads `rows` of a metadata.csv as a `(clips, samples)` float32 array."""
    import soundfile

    audio = np.zeros((len(rows), num_samples), "float32")
    for i, row in enumerate(rows):
        wav, sr = soundfile.read(directory / row["file"], dtype="float32")
        if sr != SAMPLE_RATE:
            raise ValueError(f"Expected {SAMPLE_RATE} Hz. Received: {sr}")
        wav = wav[:num_samples]
        audio[i, : len(wav)] = wav
    return audio


def read_rows(directory):
    with open(directory / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


def prepare_data(args, cfg):
    """Generates (or reuses) the two sets and returns numpy arrays."""
    data_dir = Path(args.data_dir)
    down_dir = data_dir / "downstream"
    unl_dir = data_dir / "unlabelled"
    generate(args.tools, down_dir, cfg["num_downstream"], 1, "program")
    # The unlabelled corpus has its own seed; its split column is unused.
    generate(args.tools, unl_dir, cfg["num_unlabelled"], 100, "random")
    down = read_rows(down_dir)
    train_progs = {
        (r["label"], r["program"]) for r in down if r["split"] != "test"
    }
    held_out = {
        (r["label"], r["program"])
        for r in down
        if r["split"] == "test"
        and (r["label"], r["program"]) not in train_progs
    }
    unl = [
        r
        for r in read_rows(unl_dir)
        if (r["label"], r["program"]) not in held_out
    ]
    num_samples = int(cfg["clip_seconds"] * SAMPLE_RATE)
    classes = sorted(
        {r["label"] for r in down},
        key=lambda c: int(
            next(r["label_idx"] for r in down if r["label"] == c)
        ),
    )
    train = [r for r in down if r["split"] == "train"]
    test = [r for r in down if r["split"] == "test"]
    return {
        "classes": classes,
        "held_out_programs": sorted(f"{a}:{b}" for a, b in held_out),
        "x_unlabelled": load_set(unl_dir, unl, num_samples),
        "x_train": load_set(down_dir, train, num_samples),
        "y_train": np.array([int(r["label_idx"]) for r in train], "int32"),
        "x_test": load_set(down_dir, test, num_samples),
        "y_test": np.array([int(r["label_idx"]) for r in test], "int32"),
    }


def balanced_subset(labels, fraction, seed):
    """Class-balanced subset indices: `max(1, round(f * n_c))` per class."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(idx))))
        picked.extend(rng.choice(idx, size=k, replace=False))
    return np.sort(np.array(picked))


# ---------------------------------------------------------------- models
def make_frontend(cfg, stats):
    from keras_maskspec.layers import LogMelSpectrogram

    return LogMelSpectrogram(
        sample_rate=SAMPLE_RATE,
        fft_length=512,
        window_length=400,
        hop_length=160,
        num_mel_bins=cfg["num_mel_bins"],
        mean=stats["mean"],
        std=stats["std"],
        seed=0,
        dtype="float32",
    )


def make_encoder(cfg, stats, seed, drop_path_rate=0.0):
    from keras_maskspec.models import MaskSpecEncoder

    return MaskSpecEncoder(
        hidden_dim=cfg["hidden_dim"],
        num_layers=cfg["num_layers"],
        num_heads=cfg["num_heads"],
        intermediate_dim=cfg["intermediate_dim"],
        drop_path_rate=drop_path_rate,
        frontend=make_frontend(cfg, stats),
        seed=seed,
    )


def pretrain(cfg, stats, x, mask_ratio, epochs, seed=0):
    """Pre-trains a MaskSpec model; returns (pretrainer, losses, seconds)."""
    import keras

    from keras_maskspec.models import MaskSpecPretrainer

    keras.utils.set_random_seed(seed)
    model = MaskSpecPretrainer(
        make_encoder(cfg, stats, seed),
        decoder_hidden_dim=cfg["decoder_hidden_dim"],
        decoder_num_layers=cfg["decoder_num_layers"],
        decoder_num_heads=cfg["decoder_num_heads"],
        decoder_intermediate_dim=cfg["decoder_intermediate_dim"],
        mask_ratio=mask_ratio,
        seed=seed,
    )
    batch = cfg["pretrain_batch_size"]
    steps = epochs * int(np.ceil(len(x) / batch))
    model.compile(
        learning_rate=cfg["pretrain_learning_rate"],
        warmup_steps=max(1, steps // 10),
        total_steps=steps,
        jit_compile=cfg["jit_compile"],
    )
    if epochs == 0:
        return model, [], 0.0
    start = time.time()
    history = model.fit(
        x, batch_size=batch, epochs=epochs, shuffle=True, verbose=0
    )
    seconds = time.time() - start
    losses = [float(v) for v in history.history["loss"]]
    log(
        f"pretrain ratio={mask_ratio} epochs={epochs}: loss "
        f"{losses[0]:.3f} -> {losses[-1]:.3f} in {seconds:.0f} s"
    )
    return model, losses, seconds


def clone_encoder(cfg, stats, weights, seed, drop_path_rate):
    """A fresh encoder (random if `weights` is None, else those weights)."""
    encoder = make_encoder(cfg, stats, seed, drop_path_rate)
    if weights is not None:
        encoder.set_weights(weights)
    return encoder


def finetune(cfg, stats, weights, data, fraction, seed):
    """Fine-tunes a classifier; returns (test accuracy, seconds)."""
    import keras

    from keras_maskspec.models import MaskSpecClassifier

    keras.utils.set_random_seed(1000 + seed)
    idx = balanced_subset(data["y_train"], fraction, seed)
    x, y = data["x_train"][idx], data["y_train"][idx]
    encoder = clone_encoder(cfg, stats, weights, seed, cfg["drop_path_rate"])
    model = MaskSpecClassifier(
        encoder,
        num_classes=len(data["classes"]),
        freq_mask_param=cfg["num_mel_bins"] // 8,
        time_mask_param=20,
        seed=seed,
    )
    batch = min(cfg["finetune_batch_size"], len(x))
    steps_per_epoch = int(np.ceil(len(x) / batch))
    steps = cfg["finetune_steps"][str(fraction)]
    epochs = max(1, int(round(steps / steps_per_epoch)))
    total = epochs * steps_per_epoch
    model.compile(
        learning_rate=cfg["finetune_learning_rate"],
        warmup_steps=max(1, total // 10),
        total_steps=total,
        # Layer-wise decay is part of the fine-tuning recipe of a
        # pre-trained encoder; a random encoder gets one lr for all layers.
        layer_decay=0.75 if weights is not None else None,
        jit_compile=cfg["jit_compile"],
    )
    start = time.time()
    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    logits = model.predict(data["x_test"], batch_size=128, verbose=0)
    seconds = time.time() - start
    acc = float(np.mean(np.argmax(logits, -1) == data["y_test"]))
    return acc, seconds, len(idx), total


def pooled_features(encoder, x):
    """Mean of the patch tokens (no [CLS]) of a frozen encoder."""
    tokens = encoder.predict(x, batch_size=128, verbose=0)
    return tokens[:, 1:].mean(axis=1)


def linear_probe(cfg, feats_train, feats_test, data, fraction, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    idx = balanced_subset(data["y_train"], fraction, seed)
    scaler = StandardScaler().fit(feats_train[idx])
    clf = LogisticRegression(C=cfg["probe_c"], max_iter=3000)
    clf.fit(scaler.transform(feats_train[idx]), data["y_train"][idx])
    pred = clf.predict(scaler.transform(feats_test))
    return float(np.mean(pred == data["y_test"]))


def probe_all(cfg, encoder, data):
    feats_train = pooled_features(encoder, data["x_train"])
    feats_test = pooled_features(encoder, data["x_test"])
    out = {}
    for fraction in cfg["fractions"]:
        out[str(fraction)] = [
            linear_probe(cfg, feats_train, feats_test, data, fraction, s)
            for s in cfg["probe_seeds"]
        ]
    return out


# ----------------------------------------------------------------- plots
def summarize(values):
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "values": values,
    }


def plot_results(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = results["main"]
    fractions = results["config"]["fractions"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    top = min(
        1.0, 0.15 + max(s["mean"] for key in main for s in main[key].values())
    )
    ax = axes[0]
    styles = {
        "finetune_scratch": ("fine-tune, random init", "tab:gray", "-"),
        "finetune_pretrained": ("fine-tune, MaskSpec", "tab:blue", "-"),
        "probe_random": ("linear probe, random", "tab:gray", "--"),
        "probe_pretrained": ("linear probe, MaskSpec", "tab:blue", "--"),
    }
    xs = [100 * f for f in fractions]
    for key, (label, color, ls) in styles.items():
        means = [main[key][str(f)]["mean"] for f in fractions]
        stds = [main[key][str(f)]["std"] for f in fractions]
        ax.errorbar(
            xs,
            means,
            yerr=stds,
            label=label,
            color=color,
            ls=ls,
            marker="o",
            capsize=3,
        )
    chance = 1.0 / len(results["classes"])
    ax.axhline(chance, color="k", lw=0.8, ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:g}%" for x in xs])
    ax.set_xlabel("labelled training clips used")
    ax.set_ylabel("test accuracy (held-out programs)")
    ax.set_title("Pre-trained vs random init")
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[1]
    sweep = results["sweep"]
    ratios = [float(r) for r in sweep]
    for fraction, color in zip(
        fractions, ("tab:orange", "tab:green", "tab:purple")
    ):
        means = [sweep[str(r)]["probe"][str(fraction)]["mean"] for r in ratios]
        stds = [sweep[str(r)]["probe"][str(fraction)]["std"] for r in ratios]
        ax.errorbar(
            ratios,
            means,
            yerr=stds,
            marker="o",
            capsize=3,
            color=color,
            ls="--",
            label=f"linear probe, {100 * fraction:g}% labels",
        )
        ax.axhline(
            main["probe_random"][str(fraction)]["mean"],
            color=color,
            lw=0.8,
            ls=":",
        )
    ft = results["config"]["sweep_finetune_fraction"]
    if ft is not None:
        ax.plot(
            ratios,
            [sweep[str(r)]["finetune"]["mean"] for r in ratios],
            marker="s",
            color="tab:blue",
            label=f"fine-tune, {100 * ft:g}% labels",
        )
    ax.plot([], [], color="k", lw=0.8, ls=":", label="same, random encoder")
    ax.set_xlabel("mask ratio")
    ax.set_ylabel("test accuracy")
    ax.set_title(
        "Mask-ratio sweep (pre-training: "
        f"{results['config']['sweep_epochs']} epochs)"
    )
    ax.set_xticks(ratios)
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_reconstructions(pretrainer, x, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec, mask, recon = pretrainer.reconstruct(x)
    frontend = pretrainer.encoder.frontend
    seconds = spec.shape[1] * frontend.hop_length / frontend.sample_rate
    extent = [0, seconds, 0, spec.shape[2]]
    rows = len(x)
    fig, axes = plt.subplots(
        rows, 3, figsize=(11, 2.9 * rows), squeeze=False, layout="constrained"
    )
    for i in range(rows):
        vmin, vmax = np.percentile(spec[i], [1, 99.5])
        masked = np.ma.masked_where(mask[i] > 0.5, spec[i])
        panels = (
            (spec[i], f"input log-mel: {names[i]}"),
            (
                masked,
                "visible to the encoder "
                f"({100 * pretrainer.mask_ratio:.0f}% hidden)",
            ),
            (
                np.where(mask[i] > 0.5, recon[i], spec[i]),
                "reconstruction of hidden patches + visible input",
            ),
        )
        for j, (img, title) in enumerate(panels):
            ax = axes[i, j]
            cmap = matplotlib.colormaps["magma"].copy()
            cmap.set_bad("lightgray")
            im = ax.imshow(
                img.T,
                origin="lower",
                aspect="auto",
                extent=extent,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                interpolation="nearest",
            )
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("time (s)")
            if j == 0:
                ax.set_ylabel("mel bin")
        fig.colorbar(
            im, ax=axes[i, :].tolist(), pad=0.01, label="log-mel (normalised)"
        )
    fig.savefig(path, dpi=75)
    plt.close(fig)


def write_table(results, path):
    fractions = results["config"]["fractions"]
    sweep_fraction = results["config"]["sweep_finetune_fraction"]
    main = results["main"]
    header = (
        "| method | "
        + " | ".join(f"{100 * f:g}% labels" for f in fractions)
        + " |"
    )
    lines = [header, "|---|" + "---|" * len(fractions)]
    names = {
        "finetune_scratch": "fine-tune, random init",
        "finetune_pretrained": "fine-tune, MaskSpec pre-trained",
        "probe_random": "linear probe, frozen random encoder",
        "probe_pretrained": "linear probe, frozen MaskSpec encoder",
    }
    for key, name in names.items():
        cells = []
        for f in fractions:
            s = main[key][str(f)]
            cells.append(
                f"{s['mean']:.3f} ± {s['std']:.3f} (n={len(s['values'])})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| mask ratio | "
        + " | ".join(f"probe {100 * f:g}%" for f in fractions)
        + (
            f" | fine-tune {100 * sweep_fraction:g}%"
            if sweep_fraction is not None
            else ""
        )
        + " | final loss | pre-train s |",
        "|---|" + "---|" * (len(fractions) + 2 + (sweep_fraction is not None)),
    ]
    for ratio, r in results["sweep"].items():
        cells = [
            "{mean:.3f} ± {std:.3f}".format(**r["probe"][str(f)])
            for f in fractions
        ]
        lines.append(
            f"| {ratio} | "
            + " | ".join(cells)
            + (f" | {r['finetune']['mean']:.3f}" if r["finetune"] else "")
            + f" | {r['losses'][-1]:.3f}"
            + f" | {r['pretrain_seconds']:.0f} |"
        )
    Path(path).write_text("\n".join(lines) + "\n")
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="Folder for results.")
    parser.add_argument(
        "--smoke", action="store_true", help="Tiny end-to-end run."
    )
    parser.add_argument(
        "--tools",
        default=str(REPO_ROOT.parent / "shared" / "tools"),
        help="Folder holding make_instruments.py.",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="Generated audio (reused if present). Defaults to OUT/data.",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="Override a config entry, e.g. --set pretrain_epochs=30.",
    )
    parser.add_argument(
        "--pretrained-weights",
        default=None,
        help="Skip the main pre-training: load these pretrainer weights "
        "(pretrainer.weights.h5 of an earlier run with the same config).",
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="Only redraw table.md/results.png from OUT/results.json.",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        results = json.loads((out / "results.json").read_text())
        write_table(results, out / "table.md")
        plot_results(results, out / "results.png")
        return results
    tools = Path(args.tools)
    if not (tools / "make_instruments.py").exists():
        parser.error(
            f"make_instruments.py not found. Received: --tools={tools}"
        )
    cfg = dict(SMOKE if args.smoke else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in cfg:
            parser.error(f"Unknown config key. Received: --set {item}")
        cfg[key] = json.loads(value)
    out.mkdir(parents=True, exist_ok=True)
    args.data_dir = args.data_dir or str(out / "data")
    timings = {}
    t0 = time.time()

    import keras

    data = prepare_data(args, cfg)
    timings["data"] = time.time() - t0
    log(
        f"unlabelled {len(data['x_unlabelled'])}, "
        f"train {len(data['x_train'])}, test {len(data['x_test'])} clips; "
        f"held out: {data['held_out_programs']}"
    )

    # Per-mel-bin normalisation statistics from the unlabelled corpus only.
    frontend = make_frontend(cfg, {"mean": 0.0, "std": 1.0})
    frontend.adapt(data["x_unlabelled"][:512])
    stats = {"mean": list(frontend.mean), "std": list(frontend.std)}

    results = {
        "config": cfg,
        "backend": keras.backend.backend(),
        "classes": data["classes"],
        "held_out_programs": data["held_out_programs"],
        "sizes": {
            k: int(len(data[k])) for k in ("x_unlabelled", "x_train", "x_test")
        },
        "main": {},
        "sweep": {},
    }

    # Main pre-training run (mask ratio 0.75).
    t = time.time()
    if args.pretrained_weights:
        # Resume an interrupted run: same config, weights of its pre-training.
        pretrainer, losses, _ = pretrain(
            cfg, stats, data["x_unlabelled"], 0.75, 0
        )
        pretrainer.load_weights(args.pretrained_weights)
        results["pretrained_weights_from"] = args.pretrained_weights
    else:
        pretrainer, losses, _ = pretrain(
            cfg, stats, data["x_unlabelled"], 0.75, cfg["pretrain_epochs"]
        )
        pretrainer.save_weights(out / "pretrainer.weights.h5")
    timings["pretrain_main"] = time.time() - t
    results["pretrain_losses"] = losses
    pretrained = pretrainer.encoder.get_weights()
    names = data["classes"]
    pick = [
        int(np.flatnonzero(data["y_test"] == c)[0])
        for c in (0, 3, 8)
        if c < len(names)
    ]
    plot_reconstructions(
        pretrainer,
        data["x_test"][pick],
        [f"{names[data['y_test'][i]]} (test)" for i in pick],
        out / "reconstructions.png",
    )

    # Linear probes on frozen encoders.
    t = time.time()
    random_encoder = clone_encoder(cfg, stats, None, 0, 0.0)
    pre_encoder = clone_encoder(cfg, stats, pretrained, 0, 0.0)
    for key, enc in (
        ("probe_random", random_encoder),
        ("probe_pretrained", pre_encoder),
    ):
        probes = probe_all(cfg, enc, data)
        results["main"][key] = {f: summarize(v) for f, v in probes.items()}
        log(
            f"{key}: "
            + ", ".join(f"{f}: {np.mean(v):.3f}" for f, v in probes.items())
        )
    timings["probes_main"] = time.time() - t

    # Fine-tuning from random and pre-trained weights.
    t = time.time()
    for key, weights in (
        ("finetune_scratch", None),
        ("finetune_pretrained", pretrained),
    ):
        results["main"][key] = {}
        for fraction in cfg["fractions"]:
            accs = []
            for seed in cfg["finetune_seeds"][str(fraction)]:
                acc, secs, n, steps = finetune(
                    cfg, stats, weights, data, fraction, seed
                )
                accs.append(acc)
                log(
                    f"{key} fraction={fraction} seed={seed}: {n} clips, "
                    f"{steps} steps, acc {acc:.3f} ({secs:.0f} s)"
                )
            results["main"][key][str(fraction)] = summarize(accs)
            results["main"][key][str(fraction)]["num_clips"] = n
            results["main"][key][str(fraction)]["steps"] = steps
    timings["finetune_main"] = time.time() - t
    (out / "results.json").write_text(json.dumps(results, indent=1))

    # Mask-ratio sweep on a shorter schedule.
    t = time.time()
    for ratio in cfg["sweep_ratios"]:
        model, r_losses, secs = pretrain(
            cfg, stats, data["x_unlabelled"], ratio, cfg["sweep_epochs"]
        )
        weights = model.encoder.get_weights()
        probes = probe_all(
            cfg, clone_encoder(cfg, stats, weights, 0, 0.0), data
        )
        fraction = cfg["sweep_finetune_fraction"]
        accs = []
        if fraction is not None:
            accs.append(finetune(cfg, stats, weights, data, fraction, 0)[0])
        results["sweep"][str(ratio)] = {
            "losses": r_losses,
            "pretrain_seconds": secs,
            "probe": {f: summarize(v) for f, v in probes.items()},
            "finetune": summarize(accs) if accs else None,
        }
        (out / "results.json").write_text(json.dumps(results, indent=1))
        log(
            f"sweep ratio={ratio}: probe "
            + ", ".join(f"{f}: {np.mean(v):.3f}" for f, v in probes.items())
            + (f"; fine-tune {fraction}: {accs[0]:.3f}" if accs else "")
        )
    timings["sweep"] = time.time() - t
    timings["total"] = time.time() - t0
    results["timings_s"] = timings
    (out / "results.json").write_text(json.dumps(results, indent=1))
    table = write_table(results, out / "table.md")
    plot_results(results, out / "results.png")
    log("done in {:.0f} s\n{}".format(timings["total"], table))
    return results


if __name__ == "__main__":
    main()
