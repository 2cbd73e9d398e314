"""Decode + resample + crop throughput of `keras_maskspec.data` vs librosa.

Writes `--num-files` synthetic 10 s clips as 44.1 kHz stereo 16-bit WAV and
FLAC, as 32 kHz mono WAV (no resampling needed), and as shards at the model
rate (`write_shards`, pcm16 and FLAC). Then, each reader in its own
process pinned to one core or to two (`os.sched_setaffinity`, as `taskset
-c 0` / `taskset -c 0,1`; TensorFlow and tf.data size their thread pools
to the cores they see), times:

- `pretraining_dataset(..., sample_rate=32000, clip_seconds=10,
  training=False)` with its defaults (AUTOTUNE parallelism);
- a plain `librosa.load(path, sr=32000)` loop (soxr_hq) with a centre crop
  to 10 s, on one core: the reference "per core".

Prints a markdown table: clips/s (best of `--repeats` passes after a
warm-up pass; the Keras reader runs every pass on one iterator over the
repeated dataset, as a training loop does), CPU seconds used per wall
second (1.0 = one busy core), the ratio to librosa on one core, and the
2-core / 1-core scaling.

    python benchmarks/data_pipeline.py --num-files 64 --repeats 3
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _machine

SOURCE_RATE = 44100
MODEL_RATE = 32000
CLIP_SECONDS = 10.0
INPUTS = {
    "wav44": "WAV 44.1 kHz stereo pcm16",
    "flac44": "FLAC 44.1 kHz stereo",
    "wav32": "WAV 32 kHz mono pcm16 (no resampling)",
    "shards-pcm16": "shards 32 kHz mono pcm16",
    "shards-flac": "shards 32 kHz mono FLAC",
}


def _make_inputs(folder, num_files):
    import numpy as np
    import soundfile as sf

    from keras_maskspec.data import synthetic_clip
    from keras_maskspec.data import write_shards

    paths = {"wav44": [], "flac44": [], "wav32": []}
    for kind in paths:
        os.makedirs(os.path.join(folder, kind))
    for i in range(num_files):
        left, _ = synthetic_clip(i, SOURCE_RATE, CLIP_SECONDS, seed=1)
        right, _ = synthetic_clip(i + 1000, SOURCE_RATE, CLIP_SECONDS, seed=1)
        mono32, _ = synthetic_clip(i, MODEL_RATE, CLIP_SECONDS, seed=1)
        stereo = np.stack([left, right], 1)
        for kind, data, rate, ext in (
            ("wav44", stereo, SOURCE_RATE, "wav"),
            ("flac44", stereo, SOURCE_RATE, "flac"),
            ("wav32", mono32, MODEL_RATE, "wav"),
        ):
            path = os.path.join(folder, kind, f"clip_{i:04d}.{ext}")
            sf.write(path, data, rate, "PCM_16")
            paths[kind].append(path)
    for fmt in ("pcm16", "flac"):
        out = os.path.join(folder, f"shards-{fmt}")
        write_shards(
            paths["wav44"],
            out,
            sample_rate=MODEL_RATE,
            format=fmt,
            clips_per_shard=max(1, num_files // 4),
            verbose=0,
        )
        paths[f"shards-{fmt}"] = sorted(
            os.path.join(out, p) for p in os.listdir(out) if "progress" not in p
        )
    return paths


# === Worker: one reader, pinned to the given cores ===


def _cpu_seconds():
    t = os.times()
    return t.user + t.system


def _run_keras(paths, repeats):
    from keras_maskspec.data import pretraining_dataset

    ds = pretraining_dataset(
        paths,
        sample_rate=MODEL_RATE,
        clip_seconds=CLIP_SECONDS,
        batch_size=8,
        shuffle=False,
        training=False,
    )

    # One iterator over endless passes, as in training: each timed pass
    # pulls one pass's worth of batches, so a new iterator's start-up
    # (thread pools, the first file opens) is not timed on every pass.
    # Batches per pass, counted (a shard's record count is not known ahead).
    per_pass = sum(1 for _ in ds)
    batches = iter(ds.repeat())

    def one_pass():
        return sum(int(next(batches).shape[0]) for _ in range(per_pass))

    return one_pass


def _run_librosa(paths, repeats):
    import librosa
    import numpy as np

    needed = int(CLIP_SECONDS * MODEL_RATE)

    def one_pass():
        for path in paths:
            y, _ = librosa.load(path, sr=MODEL_RATE)
            excess = max(0, len(y) - needed)
            y = y[excess // 2 : excess // 2 + needed]
            if len(y) < needed:
                y = np.pad(y, (0, needed - len(y)))
        return len(paths)

    return one_pass


def worker(args):
    os.sched_setaffinity(0, set(range(args.cores)))
    paths = json.loads(args.paths)
    make = _run_librosa if args.reader == "librosa" else _run_keras
    one_pass = make(paths, args.repeats)
    count = one_pass()  # warm-up: tracing, file cache
    best = None
    for _ in range(args.repeats):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        count = one_pass()
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu)
    print("RESULT " + json.dumps(dict(count=count, wall=best[0], cpu=best[1])))


def _measure(reader, paths, cores, repeats):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        reader,
        "--cores",
        str(cores),
        "--repeats",
        str(repeats),
        "--paths",
        json.dumps(paths),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    result = _machine.worker_result(out.stdout)
    if result is not None:
        return result
    raise RuntimeError(f"{reader} on {cores} cores failed:\n{out.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-files", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", default=None)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--paths", default=None)
    args = parser.parse_args()
    if args.worker:
        args.reader = args.worker
        worker(args)
        return
    guard = _machine.IdleGuard()
    cores = min(2, os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = _make_inputs(folder, args.num_files)
        for kind, label in INPUTS.items():
            results = {}
            for reader, n in [("keras", 1), ("keras", cores)] + (
                [("librosa", 1)] if kind in ("wav44", "flac44") else []
            ):
                r = _measure(reader, paths[kind], n, args.repeats)
                r["clips_per_s"] = r["count"] / r["wall"]
                results[(reader, n)] = r
                line = {"input": kind, "reader": reader, "cores": n, **r}
                print(json.dumps(line), file=sys.stderr)
            one = results[("keras", 1)]["clips_per_s"]
            ref = results.get(("librosa", 1), {}).get("clips_per_s")
            for (reader, n), r in results.items():
                name = (
                    "librosa.load(sr=32000) loop"
                    if reader == "librosa"
                    else "keras_maskspec.data.pretraining_dataset"
                )
                vs = f"{r['clips_per_s'] / ref:.2f}x" if ref else "-"
                scale = "-"
                if reader == "keras":
                    scale = f"{r['clips_per_s'] / one:.2f}x"
                rows.append(
                    f"| {label} | {name} | {n} | {r['clips_per_s']:.1f} "
                    f"| {r['cpu'] / r['wall']:.2f} | {vs} | {scale} |"
                )
    if not guard.ok:
        print(guard.refusal())
        return
    print(guard.header())
    print(
        f"\n{args.num_files} synthetic clips of 10 s per input, best of "
        f"{args.repeats} passes; resampled to 32 kHz mono, centre crop.\n"
    )
    print(
        "| input | reader | cores | clips/s | CPU s per wall s "
        "| vs librosa, 1 core | vs same reader, 1 core |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
