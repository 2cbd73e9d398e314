"""How well fixed per-mel-bin statistics fit the corpus (issue 17).

Standardises every pool and labelled clip with the statistics of
`run.py --set standardize=...` and prints, per clip set, the per-bin mean
and std of the result (about 0 and 1 when the statistics fit), the bins
beyond 3, the largest value, and the library's own verdict
(`keras_maskspec.data.check_frame_statistics`, the note `pretrain` prints).

Usage:
    python benchmarks/real_audio/stats_fit.py --corpus /tmp/ra/corpus \\
        --standardize audioset --pool-exclude klettres
"""

import argparse
import importlib.util
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def _experiment():
    spec = importlib.util.spec_from_file_location("ra_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="/tmp/ra/corpus")
    parser.add_argument(
        "--standardize",
        default="audioset",
        choices=["passt", "audioset", "audioset_floor", "per_bin"],
    )
    parser.add_argument("--pool-exclude", nargs="*", default=[])
    args = parser.parse_args(argv)
    from keras import ops

    from keras_maskspec.data import check_frame_statistics

    ra = _experiment()
    cfg = dict(ra.FULL, standardize=args.standardize)
    cfg["pool_exclude"] = list(args.pool_exclude)
    data = ra.load_corpus(Path(args.corpus), cfg)
    frontend = ra.make_frontend(ra.frontend_stats(cfg, data["x_pool"]), 0)
    for name, x in (("pool", data["x_pool"]), ("labelled", data["x"])):
        out = np.concatenate(
            [
                ops.convert_to_numpy(frontend(x[i : i + 64], training=False))
                for i in range(0, len(x), 64)
            ]
        ).reshape(-1, frontend.num_mel_bins)
        mean, std = out.mean(0), out.std(0)
        far = np.flatnonzero((np.abs(mean) > 3) | (std > 3))
        print(
            f"{name}: {len(x)} clips; per-bin mean {mean.min():.2f}.."
            f"{mean.max():.2f}, std {std.min():.2f}..{std.max():.2f}; "
            f"bins beyond 3: {far.tolist()}; largest value {out.max():.1f}"
        )
        print(f"  top 8 bins: mean {[round(float(v), 1) for v in mean[-8:]]}")
        print(f"              std  {[round(float(v), 1) for v in std[-8:]]}")
        verdict = check_frame_statistics(
            frontend, x[:64], name=args.standardize
        )
        print(f"  library check (first 64 clips): {verdict or 'fits'}")


if __name__ == "__main__":
    main()
