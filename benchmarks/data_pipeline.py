"""Decode + resample + crop throughput of `keras_maskspec.data` vs librosa.

Writes a few dozen 10 s, 44.1 kHz stereo WAV (16-bit) and FLAC files of the
synthetic corpus to a temporary folder, then times on the same files:

- `pretraining_dataset(..., sample_rate=32000, clip_seconds=10,
  training=False)` on one core (one tf.data thread, one TF op thread) and
  with all cores (AUTOTUNE);
- a plain `librosa.load(path, sr=32000)` loop (soxr_hq resampler) with a
  centre crop to 10 s, on one core.

Prints a markdown table: clips/s, real-time factor (seconds of audio
processed per second of wall time) and the speed-up over librosa.

    python benchmarks/data_pipeline.py --num-files 24
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import soundfile as sf

SOURCE_RATE = 44100
MODEL_RATE = 32000
CLIP_SECONDS = 10.0


def _make_files(folder, num_files, fmt):
    from keras_maskspec.data import synthetic_clip

    paths = []
    for i in range(num_files):
        left, _ = synthetic_clip(i, SOURCE_RATE, CLIP_SECONDS, seed=1)
        right, _ = synthetic_clip(i + 1000, SOURCE_RATE, CLIP_SECONDS, seed=1)
        path = os.path.join(folder, fmt, f"clip_{i:03d}.{fmt}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sf.write(path, np.stack([left, right], 1), SOURCE_RATE, "PCM_16")
        paths.append(path)
    return paths


def _time_pipeline(paths, one_core, repeats):
    import tensorflow as tf

    from keras_maskspec.data import pretraining_dataset

    ds = pretraining_dataset(
        paths,
        sample_rate=MODEL_RATE,
        clip_seconds=CLIP_SECONDS,
        batch_size=8,
        shuffle=False,
        training=False,
        num_parallel_calls=1 if one_core else tf.data.AUTOTUNE,
    )
    if one_core:
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        options.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(options)
    for _ in ds:  # warm-up: tracing, file cache
        pass
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        count = sum(int(batch.shape[0]) for batch in ds)
        best = min(best, time.perf_counter() - start)
    assert count == len(paths), count
    return best


def _time_librosa(paths, repeats):
    import librosa

    needed = int(CLIP_SECONDS * MODEL_RATE)

    def run():
        for path in paths:
            y, _ = librosa.load(path, sr=MODEL_RATE)
            excess = max(0, len(y) - needed)
            y = y[excess // 2 : excess // 2 + needed]
            if len(y) < needed:
                y = np.pad(y, (0, needed - len(y)))

    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-files", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    # One op thread for the per-core numbers (the all-cores run gets the
    # parallelism from tf.data's AUTOTUNE map instead).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("wav", "flac"):
            paths = _make_files(folder, args.num_files, fmt)
            size = sum(os.path.getsize(p) for p in paths)
            audio_seconds = args.num_files * CLIP_SECONDS
            times = {
                "keras_maskspec.data, 1 core": _time_pipeline(
                    paths, True, args.repeats
                ),
                f"keras_maskspec.data, {os.cpu_count()} cores": (
                    _time_pipeline(paths, False, args.repeats)
                ),
                "librosa.load(sr=32000) loop, 1 core": _time_librosa(
                    paths, args.repeats
                ),
            }
            base = times["librosa.load(sr=32000) loop, 1 core"]
            for name, seconds in times.items():
                rows.append(
                    f"| {fmt.upper()} | {name} | "
                    f"{args.num_files / seconds:.1f} | "
                    f"{audio_seconds / seconds:.0f}x | {base / seconds:.2f} |"
                )
            mb_per_hour = size / audio_seconds * 3600 / 1e6
            rows.append(
                f"| {fmt.upper()} | (input size: {mb_per_hour:.0f} MB per "
                "hour of 44.1 kHz stereo) | | | |"
            )
    print(
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {args.num_files} files of 10 s per format"
    )
    print("| format | reader | clips/s | real-time factor | vs librosa |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
