"""A second labelled task on the real-audio corpus: guitar chord strums.

The drum task of `build_corpus.py` turned out to be solved by random
spectral features (README, fourth session). This task needs what a random
projection of log-mel patches does not give: the quality of a chord
(major, minor or half-diminished) on a **root never heard in probe
training**, from recorded acoustic guitar strums (belofilms_GuitarStrums
in hydrogen-drumkits-effects, CC-BY-3.0: 25 chords x 12 takes: plain,
down and up strums, 4 takes each).

The strums are part of `build_corpus.py`'s pool; this script writes a new
corpus folder whose `pool.csv` is that pool **without** them (absolute
paths into `--corpus`), and whose labelled set is the strums:

- `--label quality` (default): `major` / `minor` / `m7b5`, group = chord
  root (12 roots: leave-one-root-out holds out every chord on a root);
- `--label direction`: `plain` / `down` / `up`, group = chord.

Every clip as in `build_corpus.py`: mono, 32 kHz, leading silence cut,
the first 2 s, peak 0.9, 16-bit WAV.

    python benchmarks/real_audio/build_guitar_task.py \
        --corpus /tmp/ra/corpus --out /tmp/ra/guitar
    python benchmarks/real_audio/run.py --corpus /tmp/ra/guitar --out OUT
"""

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_corpus  # noqa: E402

STRUMS = build_corpus.DRUMKITS / "belofilms_GuitarStrums"
STRUM_GROUP = "hydrogen:belofilms_GuitarStrums"
_NAME = re.compile(
    r"^(?P<root>[A-G])(?P<acc>sharp|flat)?\s*(?P<quality>.*?)"
    r"(?:_(?P<direction>UP|DOWN|Down))?_(?P<take>\d+)(?:wav)?\.flac$"
)
_ENHARMONIC = {"Asharp": "Bflat", "Csharp": "Dflat", "Dsharp": "Eflat",
               "Fsharp": "Gflat", "Gsharp": "Aflat"}  # fmt: skip


def parse(name):
    """`(root, quality, direction)` of a strum file name, or `None`.

    >>> parse("Fsharp minor7b5_UP_02.flac")
    ('Gflat', 'm7b5', 'up')
    >>> parse("Cmajor_Down_00.flac")
    ('C', 'major', 'down')
    """
    m = _NAME.match(name)
    if not m:
        return None
    root = m["root"] + (m["acc"] or "")
    root = _ENHARMONIC.get(root, root)
    q = m["quality"].replace(" ", "").lower()
    if "7b5" in q:
        quality = "m7b5"
    elif q.startswith("min"):
        quality = "minor"
    elif q.startswith("maj"):
        quality = "major"
    else:
        return None
    direction = (m["direction"] or "plain").lower()
    return root, quality, direction


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="a build_corpus.py output folder (its pool)",
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--label", choices=("quality", "direction"),
                        default="quality")  # fmt: skip
    args = parser.parse_args(argv)
    build_corpus.need(STRUMS, "hydrogen-drumkits-effects")
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"--out {args.out} is not empty; pick a new folder")
    with open(args.corpus / "pool.csv", newline="") as fh:
        pool = list(csv.DictReader(fh))
    kept = [r for r in pool if r["group"] != STRUM_GROUP]
    for r in kept:
        r["path"] = str((args.corpus / r["path"]).resolve())
    n = int(2.0 * build_corpus.SAMPLE_RATE)
    rows = []
    for path in sorted(STRUMS.glob("*.flac")):
        parsed = parse(path.name)
        if parsed is None:
            print(f"skipped (name not parsed): {path.name}", file=sys.stderr)
            continue
        root, quality, direction = parsed
        label, group = (
            (quality, root)
            if args.label == "quality"
            else (direction, f"{root}_{quality}")
        )
        x, _ = build_corpus.load(path)
        seg = build_corpus.normalise(build_corpus.windows(x, n, 1)[0])
        rel = Path("labelled") / label / build_corpus.safe(path.stem + ".wav")
        (args.out / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(
            args.out / rel,
            seg.astype(np.float32),
            build_corpus.SAMPLE_RATE,
            subtype="PCM_16",
        )
        rows.append({"path": str(rel), "label": label,
                     "source": path.name, "group": group})  # fmt: skip
    build_corpus.write_csv(args.out / "pool.csv", kept)
    build_corpus.write_csv(args.out / "labelled_all.csv", rows)
    counts = {}
    for r in rows:
        counts.setdefault(r["group"], {}).setdefault(r["label"], 0)
        counts[r["group"]][r["label"]] += 1
    print(f"pool {len(kept)} clips (strums removed: {len(pool) - len(kept)}); "
          f"labelled {len(rows)} in {len(counts)} groups")  # fmt: skip
    for g in sorted(counts):
        print(f"  {g}: {counts[g]}")


if __name__ == "__main__":
    main()
