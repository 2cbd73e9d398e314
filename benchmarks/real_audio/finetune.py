"""Fine-tuning (all or few labels) of `run.py`'s encoders (issue 17).

`run.py` keeps every budget's pre-trainer of every seed
(`pretrainer_seed{S}_step{K}.weights.h5`, step 0 = that seed's random
initialisation). This script fine-tunes each of them, whole encoder plus a
new head, as `MaskSpecClassifier` with the library's fine-tuning defaults
(layer-wise lr decay 0.75, AdamW, warm-up then cosine, SpecAugment on the
10 s grid), on the drum task's fixed split: train = the bja_pacific,
macarthur and colombo kits (187 clips), test = the forzee and millo kits
(180 clips), never heard in pre-training or fine-tuning. `--fractions`
keeps a stratified share of the training labels (at least one clip per
class) for the few-label curve. The difference pre-trained minus random
is paired (same seed, same initial weights, same label subset, same
fine-tuning seed), with a t interval over seeds.

Usage:
    python benchmarks/real_audio/finetune.py --run /tmp/ra/runs/L600 \\
        --out /tmp/ra/runs/L600/finetune --fractions 1.0 0.2
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as experiment  # noqa: E402

TEST_GROUPS = ("forzee", "millo")


def label_subset(y, fraction, seed):
    """Indices of a stratified `fraction` of `y` (>= 1 per class).

    Examples:
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> sorted(np.bincount(y[label_subset(y, 0.5, 0)]).tolist())
    [1, 2]
    """
    rng = np.random.default_rng(1000 + seed)
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        n = max(1, int(round(fraction * len(idx))))
        keep.extend(rng.choice(idx, n, replace=False).tolist())
    return np.sort(np.asarray(keep))


def finetune_once(cfg, stats, weights, x_tr, y_tr, x_te, seed, args):
    """Test-set predictions of one fine-tuned encoder."""
    import keras

    from keras_maskspec.models import MaskSpecClassifier

    model = experiment.build_pretrainer(cfg, stats, seed)
    model.load_weights(weights)
    keras.utils.set_random_seed(seed)
    classifier = MaskSpecClassifier(
        model.encoder,
        num_classes=len(experiment.CLASSES),
        patchout=0,
        seed=seed,
    )
    steps = args.epochs * int(np.ceil(len(x_tr) / args.batch))
    classifier.compile(
        learning_rate=args.learning_rate,
        warmup_steps=max(1, steps // 10),
        total_steps=steps,
        jit_compile=True,
    )
    classifier.fit(
        x_tr, y_tr, batch_size=args.batch, epochs=args.epochs,
        shuffle=True, verbose=0,
    )  # fmt: skip
    scores = classifier.predict(x_te, batch_size=64, verbose=0)
    return np.argmax(scores, axis=-1)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", required=True, help="A run.py --out folder.")
    parser.add_argument("--corpus", default="/tmp/ra/corpus")
    parser.add_argument("--out", required=True)
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0])
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=None,
        help="Budgets to fine-tune (default: all saved).",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    args = parser.parse_args(argv)

    run_dir = Path(args.run)
    with open(run_dir / "results.json") as f:
        cfg = json.load(f)["config"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = experiment.load_corpus(Path(args.corpus), cfg)
    stats = experiment.frontend_stats(cfg, data["x_pool"])
    test = np.isin(data["groups"], TEST_GROUPS)
    x_te, y_te = data["x"][test], data["y"][test]
    seeds = args.seeds or cfg["seeds"]
    steps = args.steps or cfg["budgets"]
    results = {"config": cfg, "args": vars(args), "y_test": y_te.tolist(),
               "runs": {}}  # fmt: skip
    path = out / "finetune.json"
    if path.exists():
        with open(path) as f:
            results["runs"] = json.load(f)["runs"]
    for fraction in args.fractions:
        for seed in seeds:
            idx = label_subset(data["y"][~test], fraction, seed)
            x_tr, y_tr = data["x"][~test][idx], data["y"][~test][idx]
            for step in steps:
                key = f"{fraction}/{seed}/{step}"
                if key in results["runs"]:
                    continue
                t = time.time()
                weights = (
                    run_dir / f"pretrainer_seed{seed}_step{step}.weights.h5"
                )
                pred = finetune_once(cfg, stats, weights, x_tr, y_tr, x_te,
                                     seed, args)  # fmt: skip
                acc = experiment.accuracy(y_te, pred)
                bacc = experiment.balanced_accuracy(y_te, pred)
                results["runs"][key] = {"accuracy": acc,
                                        "balanced_accuracy": bacc,
                                        "train_clips": int(len(idx)),
                                        "pred": pred.tolist()}  # fmt: skip
                experiment.log(
                    f"fraction {fraction} seed {seed} step {step}: "
                    f"{len(idx)} labels, test acc {acc:.3f} bacc {bacc:.3f} "
                    f"({time.time() - t:.0f} s)"
                )
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(results, indent=1))
                os.replace(tmp, path)
    print(summary(results, args.fractions, seeds, steps))


def summary(results, fractions, seeds, steps):
    """A markdown table: accuracy per budget, paired difference vs step 0."""
    lines = ["| labels | budget | accuracy (mean over seeds) | "
             "balanced acc | minus random init, t95 over seeds |",
             "|---|---|---|---|---|"]  # fmt: skip
    runs = results["runs"]
    for fraction in fractions:
        for step in steps:
            acc = [runs[f"{fraction}/{s}/{step}"]["accuracy"] for s in seeds
                   if f"{fraction}/{s}/{step}" in runs]  # fmt: skip
            bacc = [
                runs[f"{fraction}/{s}/{step}"]["balanced_accuracy"]
                for s in seeds
                if f"{fraction}/{s}/{step}" in runs
            ]
            diff = [runs[f"{fraction}/{s}/{step}"]["accuracy"]
                    - runs[f"{fraction}/{s}/0"]["accuracy"] for s in seeds
                    if f"{fraction}/{s}/{step}" in runs
                    and f"{fraction}/{s}/0" in runs]  # fmt: skip
            if not acc:
                continue
            ci = "-"
            if step != 0 and len(diff) > 1:
                t = experiment.t_interval(diff)
                ci = (f"{t['mean']:+.3f} [{t['ci95'][0]:+.3f}, "
                      f"{t['ci95'][1]:+.3f}]")  # fmt: skip
            elif step != 0 and diff:
                ci = f"{diff[0]:+.3f} (1 seed)"
            lines.append(
                f"| {fraction:g} | {step} | {np.mean(acc):.3f} (n={len(acc)}) "
                f"| {np.mean(bacc):.3f} | {ci} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
