"""Longer 100 %-label fine-tune (one seed), added after the main run.

    python extra_100pct.py STEPS [PRETRAINER_WEIGHTS]

Uses run.py's own data, front-end statistics and `finetune()`; with no
weights file the encoder is random. Reads the generated data from
/work/evidence_data/full (the run's --data-dir).
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "pp", str(Path(__file__).resolve().parents[1] / "run.py")
)
pp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pp)
cfg = dict(pp.FULL)
cfg["finetune_steps"] = {"1.0": int(sys.argv[1])}
args = argparse.Namespace(
    data_dir="/work/evidence_data/full", tools="/work/shared/tools"
)
data = pp.prepare_data(args, cfg)
fe = pp.make_frontend(cfg, {"mean": 0.0, "std": 1.0})
fe.adapt(data["x_unlabelled"][:512])
stats = {"mean": list(fe.mean), "std": list(fe.std)}
weights = None
if len(sys.argv) > 2:
    pt, _, _ = pp.pretrain(cfg, stats, data["x_unlabelled"], 0.75, 0)
    pt.load_weights(sys.argv[2])
    weights = pt.encoder.get_weights()
acc, secs, n, steps = pp.finetune(cfg, stats, weights, data, 1.0, 0)
print(
    json.dumps(
        {
            "init": "scratch" if weights is None else "pretrained",
            "fraction": 1.0,
            "seed": 0,
            "steps": steps,
            "acc": acc,
            "seconds": secs,
        }
    ),
    flush=True,
)
