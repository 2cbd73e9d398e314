"""What `import keras_maskspec` adds to TensorFlow's own import.

Each import runs in a fresh Python process (alternating, `--repeats`
times); the table gives the median wall time of `import tensorflow`,
`import keras` and `import keras_maskspec` (TensorFlow backend), and the
difference keras_maskspec - tensorflow (target: <= 1 s). Keras' own import
(its optional imports of scikit-learn, matplotlib and IPython when they are
installed) is part of the difference: keras_maskspec cannot load without
Keras.

    python benchmarks/import_time.py --repeats 5

`python -X importtime -c "import keras_maskspec"` says where the time goes.
"""

import argparse
import os
import statistics
import subprocess
import sys

import _machine

STATEMENTS = {
    "tensorflow": "import tensorflow",
    "keras": "import keras",
    "keras_maskspec": "import keras_maskspec",
    "keras_maskspec.data": "import keras_maskspec.data",
}


def time_import(statement):
    """Wall seconds of `statement` in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); "
        f"{statement}; print(time.perf_counter() - t)"
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    guard = _machine.IdleGuard()
    times = {name: [] for name in STATEMENTS}
    time_import("import tensorflow")  # warm the file cache
    for _ in range(args.repeats):
        for name, statement in STATEMENTS.items():
            times[name].append(time_import(statement))
            print(f"{name}: {times[name][-1]:.2f} s", file=sys.stderr)
    median = {name: statistics.median(v) for name, v in times.items()}
    if not guard.ok:
        print(guard.refusal())
        return
    print(guard.header())
    print(f"\nMedian of {args.repeats} fresh processes each:\n")
    print("| import | seconds (median) | vs `import tensorflow` |")
    print("|---|---|---|")
    for name in STATEMENTS:
        extra = median[name] - median["tensorflow"]
        print(f"| `import {name}` | {median[name]:.2f} | {extra:+.2f} s |")


if __name__ == "__main__":
    main()
