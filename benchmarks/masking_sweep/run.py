"""Masking strategy x mask ratio sweep: linear-probe accuracy (CPU scale).

Pre-trains a small `MaskSpecPretrainer` once per (strategy, mask ratio,
seed) on one unlabelled pool, embeds a labelled train/test split with the
frozen encoder and fits a linear probe (`keras_maskspec.training.probe`).
A randomly initialised encoder, probed the same way, is the no-pre-training
reference. Writes `results.json` (one record per run, appended as runs
finish, so an interrupted sweep resumes), `results.md` and `sweep.png`
(accuracy against the measured hidden fraction, one line per strategy,
error bars = standard deviation over seeds).

Data: the real-audio corpus of `benchmarks/real_audio` (`--corpus`, pool ->
pre-training, `train.csv` / `test.csv` -> probe; drum class, held-out kits)
when it exists, else the built-in synthetic corpus
(`keras_maskspec.data.synthetic`, separate seeds for pool and labelled set).

    nice -n 5 python benchmarks/masking_sweep/run.py --corpus /tmp/ra/corpus
    python benchmarks/masking_sweep/run.py --smoke --out /tmp/sweep_smoke
"""

import argparse
import csv
import json
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
STRATEGIES = (
    "random",
    "time",
    "frequency",
    "time_frequency",
    "block",
    "inverse_block",
)
SAMPLE_RATE = 32000
CLIP_SECONDS = 2.0


def log(message):
    print(time.strftime("%H:%M:%S"), message, flush=True)


def load_real(corpus):
    import soundfile

    num = int(SAMPLE_RATE * CLIP_SECONDS)

    def read(name):
        with open(Path(corpus) / name, newline="") as f:
            rows = list(csv.DictReader(f))
        waves = np.zeros((len(rows), num), np.float32)
        for i, row in enumerate(rows):
            wave, rate = soundfile.read(
                Path(corpus) / row["path"], dtype="float32", always_2d=True
            )
            if rate != SAMPLE_RATE:
                raise ValueError(
                    f"{row['path']}: expected {SAMPLE_RATE} Hz. "
                    f"Received: sample_rate={rate}"
                )
            wave = wave.mean(axis=1)[:num]
            waves[i, : len(wave)] = wave
        return waves, [row["label"] for row in rows]

    pool, _ = read("pool.csv")
    train_x, train_names = read("train.csv")
    test_x, test_names = read("test.csv")
    classes = sorted(set(train_names))
    train_y = np.array([classes.index(n) for n in train_names])
    test_y = np.array([classes.index(n) for n in test_names])
    return pool, (train_x, train_y, test_x, test_y, classes)


def load_synthetic(num_pool, num_labelled):
    from keras_maskspec.data.synthetic import synthetic_corpus

    pool, _, _ = synthetic_corpus(num_pool, SAMPLE_RATE, CLIP_SECONDS, seed=1)
    x, y, names = synthetic_corpus(
        num_labelled, SAMPLE_RATE, CLIP_SECONDS, seed=2
    )
    half = num_labelled // 2
    return pool, (x[:half], y[:half], x[half:], y[half:], list(names))


def make_pretrainer(args, strategy, ratio, seed):
    import keras

    from keras_maskspec.models import MaskSpecPretrainer

    keras.utils.set_random_seed(seed)
    model = MaskSpecPretrainer.from_preset(
        args.preset,
        encoder_kwargs={"seed": seed},
        masking=strategy,
        mask_ratio=ratio,
        seed=seed,
        decoder_attention=args.decoder_attention,
    )
    if args.frame_stats:
        from keras_maskspec.utils.frame_stats import load_frame_statistics

        mean, std = load_frame_statistics(args.frame_stats)
        model.encoder.frontend.set_statistics(mean, std)
    return model


def probe(encoder, labelled, seed):
    from keras_maskspec.training.probe import embed
    from keras_maskspec.training.probe import linear_probe

    train_x, train_y, test_x, test_y, classes = labelled
    scores = linear_probe(
        embed(encoder, train_x, batch_size=32),
        train_y,
        embed(encoder, test_x, batch_size=32),
        num_classes=len(classes),
        seed=seed,
    )
    pred = scores.argmax(-1)
    recalls = [np.mean(pred[test_y == c] == c) for c in np.unique(test_y)]
    return float(np.mean(pred == test_y)), float(np.mean(recalls))


def label(args, strategy):
    """The strategy's name in results; the local decoder says so."""
    if args.decoder_attention != "global" and strategy != "none":
        return f"{strategy} + {args.decoder_attention} decoder"
    return strategy


def run_one(args, pool, labelled, strategy, ratio, seed):
    model = make_pretrainer(args, strategy, ratio or 0.75, seed)
    hidden = 1.0 - model.masking.num_visible(args.num_patches) / (
        args.num_patches
    )
    record = {"strategy": label(args, strategy), "mask_ratio": ratio}
    record["seed"] = seed
    start = time.time()
    if ratio is None:  # the random-init reference: no pre-training
        record.update(strategy="none", hidden_fraction=None, losses=[])
    else:
        steps_per_epoch = int(np.ceil(len(pool) / args.batch_size))
        epochs = max(1, int(np.ceil(args.steps / steps_per_epoch)))
        model.compile(
            learning_rate=args.learning_rate,
            warmup_steps=max(1, epochs * steps_per_epoch // 10),
            total_steps=epochs * steps_per_epoch,
            # XLA's compile time outweighs its gain for such small models.
            jit_compile=False,
        )
        history = model.fit(
            pool, batch_size=args.batch_size, epochs=epochs, verbose=0
        )
        record.update(
            hidden_fraction=hidden,
            steps=epochs * steps_per_epoch,
            losses=[float(v) for v in history.history["loss"]],
        )
    record["pretrain_seconds"] = time.time() - start
    accuracy, balanced = probe(model.encoder, labelled, seed)
    record.update(accuracy=accuracy, balanced_accuracy=balanced)
    record["seconds"] = time.time() - start
    return record


def summarize(records):
    groups = {}
    for r in records:
        key = (r["strategy"], r["mask_ratio"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (strategy, ratio), runs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
    ):
        acc = np.array([r["accuracy"] for r in runs])
        bal = np.array([r["balanced_accuracy"] for r in runs])
        rows.append(
            {
                "strategy": strategy,
                "mask_ratio": ratio,
                "hidden_fraction": runs[0]["hidden_fraction"],
                "seeds": len(runs),
                "accuracy": float(acc.mean()),
                "accuracy_std": float(acc.std()),
                "balanced_accuracy": float(bal.mean()),
                "balanced_accuracy_std": float(bal.std()),
            }
        )
    return rows


def write_table(rows, path):
    lines = [
        "| strategy | mask ratio | hidden fraction | seeds | accuracy | "
        "balanced accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        hidden = (
            "-"
            if r["hidden_fraction"] is None
            else f"{r['hidden_fraction']:.3f}"
        )
        ratio = "-" if r["mask_ratio"] is None else f"{r['mask_ratio']}"
        lines.append(
            f"| {r['strategy']} | {ratio} | {hidden} | {r['seeds']} | "
            f"{r['accuracy']:.3f} ± {r['accuracy_std']:.3f} | "
            f"{r['balanced_accuracy']:.3f} ± "
            f"{r['balanced_accuracy_std']:.3f} |"
        )
    Path(path).write_text("\n".join(lines) + "\n")


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    strategies = []
    for r in rows:
        if r["strategy"] != "none" and r["strategy"] not in strategies:
            strategies.append(r["strategy"])
    for i, strategy in enumerate(strategies):
        runs = [r for r in rows if r["strategy"] == strategy]
        runs.sort(key=lambda r: r["hidden_fraction"])
        # A small horizontal offset keeps overlapping error bars readable.
        x = np.array([r["hidden_fraction"] for r in runs]) + 0.004 * (
            i - len(strategies) / 2
        )
        ax.errorbar(
            x,
            [r["accuracy"] for r in runs],
            yerr=[r["accuracy_std"] for r in runs],
            marker="o",
            capsize=3,
            label=strategy,
        )
    for r in rows:
        if r["strategy"] == "none":
            ax.axhspan(
                r["accuracy"] - r["accuracy_std"],
                r["accuracy"] + r["accuracy_std"],
                color="grey",
                alpha=0.25,
                label="random-init encoder (± std)",
            )
            ax.axhline(r["accuracy"], color="grey", lw=1)
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("hidden fraction of patches (mask ratio)")
    ax.set_ylabel("linear-probe accuracy (test)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/tmp/ra/corpus")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument(
        "--ratios", nargs="+", type=float, default=[0.75, 0.9, 0.5]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=46)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--preset", default="maskspec_test")
    parser.add_argument(
        "--frame-stats",
        default=None,
        help="per-bin statistics for the front end: 'audioset' (the "
        "library's PretrainConfig default) or a file; default: none, "
        "PaSST's (x + 4.5) / 5 only",
    )
    parser.add_argument(
        "--decoder-attention",
        default="global",
        choices=["global", "local", "swinv2"],
        help="'local': windowed ViT decoder blocks; 'swinv2': Audio-MAE's "
        "own windowed blocks (both with audiomae_base's window/shift)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="seconds-long check"
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the random-init encoder (e.g. a second worker)",
    )
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="redraw table and plot from results.json, run nothing",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.strategies, args.ratios, args.seeds = (
            ["random", "block"],
            [0.75],
            [0],
        )
        args.steps, args.batch_size = 2, 8
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    real = Path(args.corpus, "pool.csv").exists() and not args.smoke
    source = (
        f"real-audio corpus {args.corpus}"
        if real
        else "synthetic corpus (keras_maskspec.data.synthetic)"
    )
    if not args.plot_only:
        if real:
            pool, labelled = load_real(args.corpus)
        else:
            pool, labelled = load_synthetic(
                16 if args.smoke else 1400, 14 if args.smoke else 700
            )
        from keras_maskspec.models import MaskSpecEncoder

        probe_encoder = MaskSpecEncoder.from_preset(args.preset)
        args.num_patches = probe_encoder.num_patches(pool.shape[1])
        log(
            f"{source}: pool {pool.shape}, probe train {len(labelled[0])}, "
            f"test {len(labelled[2])}, {args.num_patches} patches per clip"
        )

    results_path = out / "results.json"
    records = (
        json.loads(results_path.read_text()) if results_path.exists() else []
    )
    done = {(r["strategy"], r["mask_ratio"], r["seed"]) for r in records}
    jobs = [("none", None, s) for s in args.seeds if not args.no_reference]
    # Ratio by ratio, every strategy with all its seeds: a sweep cut short
    # still has whole points (with error bars) for the ratios it reached.
    jobs += [
        (strategy, ratio, seed)
        for ratio in args.ratios
        for strategy in args.strategies
        for seed in args.seeds
    ]
    start = time.time()
    for strategy, ratio, seed in jobs:
        if (label(args, strategy), ratio, seed) in done or args.plot_only:
            continue
        record = run_one(
            args,
            pool,
            labelled,
            "random" if strategy == "none" else strategy,
            ratio,
            seed,
        )
        records.append(record)
        results_path.write_text(json.dumps(records, indent=1))
        log(
            f"{record['strategy']} ratio={ratio} seed={seed}: acc "
            f"{record['accuracy']:.3f} bal {record['balanced_accuracy']:.3f} "
            f"({record['seconds']:.0f} s)"
        )
    rows = summarize(records)
    write_table(rows, out / "results.md")
    # Whole epochs of the pool: the steps run, not the --steps asked for.
    steps = sorted({r["steps"] for r in records if r.get("steps")})
    title = (
        f"{source}\npreset {args.preset}, {'/'.join(map(str, steps))} "
        f"steps x batch {args.batch_size}; seeds {args.seeds}; frame stats "
        f"{args.frame_stats or 'none'}"
    )
    plot(rows, out / "sweep.png", title)
    log(f"done in {time.time() - start:.0f} s: {out / 'sweep.png'}")


if __name__ == "__main__":
    main()
