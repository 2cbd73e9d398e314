"""Build a real-audio MaskSpec evaluation corpus from Debian packages.

Everything comes from *recorded* sounds shipped by Debian bookworm packages
(see README.md and apt-packages.txt). Writes, under ``--out``:

* ``pool/``      unlabelled pre-training clips (no drum kit used by the
                 labelled task ever appears here),
* ``labelled/``  one clip per drum-kit sample file, label = instrument class
                 (kick, snare, hihat, tom, cymbal), source = drum kit,
* ``pool.csv``, ``train.csv``, ``test.csv``, ``labelled_all.csv``: manifests
  with the columns ``path,label,source,group`` (``path`` relative to
  ``--out``; ``label`` empty in ``pool.csv``; ``group`` = recording set,
  the unit of every held-out split: use it for leave-one-group-out CV),
* ``build_info.json``: settings, counts, dropped near-duplicates, timing.

Every clip: mono (mean of channels), resampled to 32 kHz (polyphase,
scipy.signal.resample_poly), leading silence below -50 dB re. the file's
peak removed, then cut to exactly ``--clip-seconds`` (default 2 s): cropped
from the start if longer, zero-padded at the end if shorter; peak-normalised
to 0.9 (skipped for all-zero clips); written as 16-bit PCM WAV. Long pool
files give up to ``--max-windows`` consecutive non-overlapping windows
(windows quieter than -60 dBFS RMS, and trailing windows with under 0.5 s of
audio, are skipped). Output is deterministic (sorted file lists, no RNG).

Usage:
    apt-get install -y --no-install-recommends $(cat apt-packages.txt)
    python benchmarks/real_audio/build_corpus.py --out /tmp/real_audio
"""

import argparse
import csv
import json
import math
import re
import shutil
import struct
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SAMPLE_RATE = 32000
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
LMMS = Path("/usr/share/lmms/samples")
KLETTRES = Path("/usr/share/klettres")
FLUID_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# Synthesised sounds of FluidR3's drum kits (drum-machine kits' own samples,
# metronome and square-wave clicks): kept out of the pool.
SF2_SYNTHETIC = re.compile(r"808|elec|square|metronome", re.IGNORECASE)

CLASSES = ("kick", "snare", "hihat", "tom", "cymbal")

# Acoustic, recorded drum kits -> recording group (the held-out unit).
# The three Millo kits are one drummer's recordings (shared names, likely
# shared takes) and GMRockKit / The Black Pearl are both recorded by Glen
# MacArthur, so each of those pairs/triples is one group.
LABELLED_KITS = {
    "BJA_Pacific": ("hydrogen-drumkits", "bja_pacific"),
    "ColomboAcousticDrumkit": ("hydrogen-drumkits", "colombo"),
    "ForzeeStereo": ("hydrogen-drumkits", "forzee"),
    "Millo-Drums_v.1": ("hydrogen-drumkits", "millo"),
    "Millo_MultiLayered2": ("hydrogen-drumkits", "millo"),
    "Millo_MultiLayered3": ("hydrogen-drumkits", "millo"),
    "GMRockKit": ("hydrogen-data", "macarthur"),
    "The Black Pearl 1.0": ("hydrogen-drumkits", "macarthur"),
}
# Fixed held-out test groups (the rest is train). See README for counts.
TEST_GROUPS = ("forzee", "millo")

# Kits NOT used at all: synthesised / electronic (TR808EmulationKit,
# HardElectro1, ElectricEmpireKit, VariBreaks = Roland V-Synth,
# rumpf_kit_z01_h2 = "from analog samples", i.e. analog drum machines) and
# Audiophob (freesound picks incl. "8bit-snare", "noise-tom" and a "tom"
# file as its Kick: synthetic and mislabelled).

# Unlabelled pool: (package, source name, list of files, max windows per file)
SONIC_PI_PREFIXES = (
    "ambi",
    "drum",
    "guit",
    "loop",
    "misc",
    "perc",
    "tabla",
    "vinyl",
)
LMMS_DIRS = ("drums", "beats", "latin", "misc", "effects", "instruments")
KLETTRES_PER_LANGUAGE = 40

AUDIO_EXT = {".wav", ".flac", ".aif", ".aiff", ".ogg", ".oga"}


class MissingPackage(SystemExit):
    pass


def need(path, package):
    if not Path(path).exists():
        raise MissingPackage(
            f"error: {path} not found: the Debian package '{package}' "
            "is missing.\n  install it with: apt-get install -y "
            f"--no-install-recommends {package}\n"
            f"  (all packages: see benchmarks/real_audio/apt-packages.txt)"
        )


def drum_class(name):
    n = name.lower()
    if "cowbell" in n or "stick" in n or "clap" in n:
        return None
    if re.search(r"kick|bass ?drum|bassdrum", n):
        return "kick"
    if re.search(r"hi-?hat|\bhh\b|\bhat\b", n):
        return "hihat"
    if "snare" in n:
        return "snare"
    if re.search(r"(?<![a-z])tom", n):  # not "Custom"
        return "tom"
    if re.search(r"crash|ride|splash|china|cymbal|bell", n):
        return "cymbal"
    return None


def kit_samples(kit_dir):
    """(file, class, instrument) for every sample file of a Hydrogen kit."""
    root = ET.parse(kit_dir / "drumkit.xml").getroot()
    strip = lambda tag: tag.rsplit("}", 1)[-1]  # noqa: E731
    out, seen = [], set()
    for inst in root.iter():
        if strip(inst.tag) != "instrument":
            continue
        name = next((c.text or "" for c in inst if strip(c.tag) == "name"), "")
        label = drum_class(name)
        if label is None:
            continue
        for el in inst.iter():
            if strip(el.tag) == "filename" and el.text:
                f = kit_dir / el.text.strip()
                if (
                    f.suffix.lower() in AUDIO_EXT
                    and f.exists()
                    and f not in seen
                ):
                    seen.add(f)
                    out.append((f, label, name.strip()))
    return out


def labelled_items():
    items = []
    for kit, (package, group) in LABELLED_KITS.items():
        need(DRUMKITS / kit / "drumkit.xml", package)
        for f, label, inst in kit_samples(DRUMKITS / kit):
            items.append(
                {
                    "file": f,
                    "label": label,
                    "source": kit,
                    "group": group,
                    "instrument": inst,
                }
            )
    return items


def pool_items():
    items = []

    def add(files, package, source, group, max_windows):
        for f in files:
            items.append(
                {
                    "file": f,
                    "source": source,
                    "group": group,
                    "package": package,
                    "max_windows": max_windows,
                }
            )

    # Recorded non-drum-kit Hydrogen sets (hand percussion, djembes, guitar).
    for kit, package, win in (
        ("Gimme A Hand 1.0", "hydrogen-drumkits", 1),
        ("circAfrique v4", "hydrogen-drumkits", 1),
        ("belofilms_GuitarStrums", "hydrogen-drumkits-effects", 2),
    ):
        need(DRUMKITS / kit / "drumkit.xml", package)
        files = sorted(
            p
            for p in (DRUMKITS / kit).iterdir()
            if p.suffix.lower() in AUDIO_EXT
        )
        add(files, package, kit, "hydrogen:" + kit, win)

    need(SONIC_PI, "sonic-pi-samples")
    files = sorted(
        p
        for p in SONIC_PI.iterdir()
        if p.suffix == ".flac" and p.name.split("_")[0] in SONIC_PI_PREFIXES
    )
    add(files, "sonic-pi-samples", "sonic-pi", "sonic-pi", 4)

    need(LMMS / "drums", "lmms-common")
    for d in LMMS_DIRS:
        files = sorted(
            p for p in (LMMS / d).iterdir() if p.suffix.lower() in AUDIO_EXT
        )
        add(files, "lmms-common", "lmms:" + d, "lmms", 4)

    need(KLETTRES / "en", "klettres-data")
    for lang in sorted(
        p for p in KLETTRES.iterdir() if p.is_dir() and (p / "alpha").is_dir()
    ):
        files = sorted(lang.rglob("*.ogg"))
        if len(files) > KLETTRES_PER_LANGUAGE:  # evenly spaced, deterministic
            idx = (
                np.linspace(0, len(files) - 1, KLETTRES_PER_LANGUAGE)
                .round()
                .astype(int)
            )
            files = [files[i] for i in idx]
        add(files, "klettres-data", "klettres:" + lang.name, "klettres", 1)
    items.extend(sf2_drum_items())
    return items


def _riff_chunks(buf, off, end):
    while off + 8 <= end:
        cid, size = struct.unpack_from("<4sI", buf, off)
        yield cid.decode("latin1"), off + 8, size
        off += 8 + size + (size & 1)


def read_sf2(path):
    """A SoundFont 2 file's sample headers, drum-preset samples and PCM.

    Returns `(headers, drum_samples, pcm)`: `headers[i]` = `(name, start,
    end, sample_rate, type)` (type 1 mono, 2 right, 4 left); `drum_samples`
    = the sample indices that bank-128 (percussion) presets use, walked
    preset -> instrument -> sample through the generator lists (SoundFont
    2.04 spec, sections 7.2-7.10); `pcm` = the 16-bit sample pool.
    """
    buf = Path(path).read_bytes()
    cid, size, form = struct.unpack_from("<4sI4s", buf, 0)
    if cid != b"RIFF" or form != b"sfbk":
        raise ValueError(f"{path} is not a SoundFont 2 file")
    parts = {}
    for cid, off, size in _riff_chunks(buf, 12, 8 + size):
        if cid == "LIST":
            for sid, soff, ssize in _riff_chunks(buf, off + 4, off + size):
                parts[sid] = (soff, ssize)

    def records(name, fmt):
        off, size = parts[name]
        n = struct.calcsize(fmt)
        return [
            struct.unpack_from(fmt, buf, off + i * n) for i in range(size // n)
        ]

    phdr = records("phdr", "<20sHHHIII")
    pbag, ibag = records("pbag", "<HH"), records("ibag", "<HH")
    pgen, igen = records("pgen", "<Hh"), records("igen", "<Hh")
    inst = records("inst", "<20sH")
    shdr = records("shdr", "<20sIIIIIBbHH")
    off, size = parts["smpl"]
    pcm = np.frombuffer(buf, "<i2", size // 2, off)
    drums = set()
    for p in range(len(phdr) - 1):  # the last record is the terminal one
        if phdr[p][2] != 128:
            continue
        for b in range(phdr[p][3], phdr[p + 1][3]):
            for oper, amount in pgen[pbag[b][0] : pbag[b + 1][0]]:
                if oper != 41:  # instrument
                    continue
                i = amount & 0xFFFF
                for ib in range(inst[i][1], inst[i + 1][1]):
                    for op2, am2 in igen[ibag[ib][0] : ibag[ib + 1][0]]:
                        if op2 == 53:  # sampleID
                            drums.add(am2 & 0xFFFF)
    headers = [
        (h[0].split(b"\0")[0].decode("latin1").strip(), h[1], h[2], h[5], h[9])
        for h in shdr[:-1]
    ]
    return headers, sorted(drums), pcm


def sf2_drum_items():
    """FluidR3 GM's recorded drum-kit samples (left/mono channel only)."""
    need(FLUID_SF2, "fluid-soundfont-gm")
    headers, drums, _ = read_sf2(FLUID_SF2)
    items = []
    for i in drums:
        name, _, _, _, kind = headers[i]
        if kind not in (1, 4) or SF2_SYNTHETIC.search(name):
            continue
        items.append(
            {
                "file": FLUID_SF2,
                "sample": i,
                "source": f"fluidr3:{name}#{i}",
                "group": "fluidr3_drums",
                "package": "fluid-soundfont-gm",
                "max_windows": 1,
            }
        )
    return items


_SF2_CACHE = {}


def load_item(it):
    """`load()` for a pool item: a file, or one sample of a SoundFont."""
    if "sample" not in it:
        return load(it["file"])
    if it["file"] not in _SF2_CACHE:
        _SF2_CACHE[it["file"]] = read_sf2(it["file"])
    headers, _, pcm = _SF2_CACHE[it["file"]]
    _, start, end, sr, _ = headers[it["sample"]]
    x = pcm[start:end].astype(np.float32) / 32768.0
    return _trim_and_resample(x, sr), sr


def load(path):
    x, sr = sf.read(str(path), always_2d=True, dtype="float32")
    return _trim_and_resample(x.mean(axis=1), sr), sr


def _trim_and_resample(x, sr):
    if sr != SAMPLE_RATE:
        g = math.gcd(int(sr), SAMPLE_RATE)
        x = signal.resample_poly(x, SAMPLE_RATE // g, int(sr) // g).astype(
            np.float32
        )
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0:
        on = np.flatnonzero(np.abs(x) > peak * 10 ** (-50 / 20))
        start = max(0, int(on[0]) - int(0.005 * SAMPLE_RATE)) if on.size else 0
        x = x[start:]
    return x


def windows(x, n, max_windows):
    out = []
    for w in range(max_windows):
        seg = x[w * n : (w + 1) * n]
        if w > 0 and len(seg) < n // 4:
            break
        if len(seg) < n:
            seg = np.pad(seg, (0, n - len(seg)))
        if w > 0 and np.sqrt(np.mean(seg**2)) < 10 ** (-60 / 20):
            continue
        out.append(seg)
    return out


def normalise(seg):
    peak = float(np.max(np.abs(seg)))
    return seg * (0.9 / peak) if peak > 0 else seg


def fingerprint(seg):
    """Coarse log-spectrogram (24 bands x 20 frames), centred, unit norm."""
    _, _, z = signal.stft(seg, fs=SAMPLE_RATE, nperseg=1024, noverlap=512)
    p = np.abs(z) ** 2
    edges = np.unique(np.geomspace(2, p.shape[0], 25).astype(int))
    bands = np.stack([p[a:b].sum(0) for a, b in zip(edges[:-1], edges[1:])])
    t = np.array_split(np.arange(bands.shape[1]), 20)
    v = np.log10(1e-8 + np.stack([bands[:, i].mean(1) for i in t], 1)).ravel()
    v = v - v.mean()
    return v / (np.linalg.norm(v) + 1e-12)


def head(seg):
    """First second of the waveform, unit norm (for the duplicate check)."""
    h = seg[:SAMPLE_RATE].astype(np.float32)
    return h / (np.linalg.norm(h) + 1e-12)


def find_duplicate(fp, hd, fps, heads, args):
    """Index of an earlier clip that is the same recording (up to gain and a
    shift of at most 5 ms), or None. Candidates: spectral fingerprint cosine
    above --fp-threshold; confirmed by the waveform cross-correlation peak."""
    if not fps:
        return None, 0.0
    sims = np.stack(fps) @ fp
    lag = int(0.005 * SAMPLE_RATE)
    for j in np.flatnonzero(sims > args.fp_threshold)[
        np.argsort(-sims[sims > args.fp_threshold])
    ]:
        xc = signal.correlate(hd, heads[j], mode="full", method="fft")
        mid = len(heads[j]) - 1
        r = float(np.max(xc[mid - lag : mid + lag + 1]))
        if r > args.dup_threshold:
            return int(j), r
    return None, 0.0


class Progress:
    def __init__(self, name, total):
        self.name, self.total, self.t0 = name, total, time.time()

    def __call__(self, i, extra=""):
        if i == self.total or i % 25 == 0:
            end = "\n" if i == self.total else ""
            print(
                f"\r[{self.name}] {i}/{self.total} files, "
                f"{time.time() - self.t0:.1f} s {extra}",
                end=end,
                file=sys.stderr,
                flush=True,
            )


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "source", "group"])
        for r in rows:
            w.writerow([r["path"], r.get("label", ""), r["source"], r["group"]])


def safe(s):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--clip-seconds", type=float, default=2.0)
    ap.add_argument(
        "--fp-threshold",
        type=float,
        default=0.98,
        help="spectral-fingerprint cosine above which two clips are compared "
        "sample by sample",
    )
    ap.add_argument(
        "--dup-threshold",
        type=float,
        default=0.95,
        help="normalised waveform cross-correlation (first 1 s, lag <= 5 ms) "
        "above which a clip is a duplicate of an earlier one and dropped",
    )
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.time()
    n = int(round(args.clip_seconds * SAMPLE_RATE))

    lab = labelled_items()
    pool = pool_items()
    if args.out.exists():
        if not args.overwrite:
            raise SystemExit(f"error: {args.out} exists (use --overwrite)")
        for sub in ("pool", "labelled"):
            shutil.rmtree(args.out / sub, ignore_errors=True)
    (args.out / "pool").mkdir(parents=True, exist_ok=True)
    (args.out / "labelled").mkdir(parents=True, exist_ok=True)

    # ---- labelled: one clip per sample file
    lab_rows, lab_fp, lab_head, dropped = [], [], [], []
    prog = Progress("labelled", len(lab))
    unreadable = []
    for i, it in enumerate(lab, 1):
        try:
            x, _ = load(it["file"])
        except (sf.LibsndfileError, RuntimeError) as e:
            unreadable.append({"file": str(it["file"]), "error": str(e)})
            continue
        seg = normalise(windows(x, n, 1)[0])
        fp, hd = fingerprint(seg), head(seg)
        j, r = find_duplicate(fp, hd, lab_fp, lab_head, args)
        if j is not None:
            dropped.append(
                {
                    "split": "labelled",
                    "file": str(it["file"]),
                    "duplicate_of": lab_rows[j]["file"],
                    "xcorr": r,
                }
            )
            prog(i)
            continue
        rel = (
            Path("labelled")
            / it["label"]
            / f"{safe(it['source'])}__{safe(it['file'].stem)}.wav"
        )
        (args.out / rel.parent).mkdir(parents=True, exist_ok=True)
        sf.write(args.out / rel, seg, SAMPLE_RATE, subtype="PCM_16")
        lab_rows.append({**it, "file": str(it["file"]), "path": str(rel)})
        lab_fp.append(fp)
        lab_head.append(hd)
        prog(i)

    # ---- pool: up to max_windows clips per file, minus near-duplicates of
    # labelled clips
    pool_rows, pool_fp, pool_head = [], [], []
    prog = Progress("pool", len(pool))
    for i, it in enumerate(pool, 1):
        try:
            x, _ = load_item(it)
        except (sf.LibsndfileError, RuntimeError) as e:  # e.g. lmms kick04.ogg
            unreadable.append({"file": str(it["file"]), "error": str(e)})
            continue
        for w, seg in enumerate(windows(x, n, it["max_windows"])):
            seg = normalise(seg)
            fp, hd = fingerprint(seg), head(seg)
            j, r = find_duplicate(fp, hd, lab_fp, lab_head, args)
            if (
                j is not None
            ):  # would leak a labelled recording into pre-training
                dropped.append(
                    {
                        "split": "pool",
                        "file": str(it["file"]),
                        "window": w,
                        "duplicate_of": lab_rows[j]["file"],
                        "xcorr": r,
                    }
                )
                continue
            k, r = find_duplicate(fp, hd, pool_fp, pool_head, args)
            if k is not None:
                dropped.append(
                    {
                        "split": "pool",
                        "file": str(it["file"]),
                        "window": w,
                        "duplicate_of": pool_rows[k]["file"],
                        "xcorr": r,
                    }
                )
                continue
            rel = (
                Path("pool")
                / safe(it["group"])
                / (f"{safe(it['source'])}__{safe(it['file'].stem)}__w{w}.wav")
            )
            (args.out / rel.parent).mkdir(parents=True, exist_ok=True)
            sf.write(args.out / rel, seg, SAMPLE_RATE, subtype="PCM_16")
            file_id = str(it["file"])
            if "sample" in it:  # one sample of a SoundFont
                file_id += f"#{it['sample']}"
            pool_rows.append({**it, "file": file_id, "path": str(rel)})
            pool_fp.append(fp)
            pool_head.append(hd)
        prog(i, f"-> {len(pool_rows)} clips")

    train = [r for r in lab_rows if r["group"] not in TEST_GROUPS]
    test = [r for r in lab_rows if r["group"] in TEST_GROUPS]
    write_csv(args.out / "pool.csv", pool_rows)
    write_csv(args.out / "labelled_all.csv", lab_rows)
    write_csv(args.out / "train.csv", train)
    write_csv(args.out / "test.csv", test)

    def count(rows, key):
        out = {}
        for r in rows:
            out[r[key]] = out.get(r[key], 0) + 1
        return dict(sorted(out.items()))

    info = {
        "sample_rate": SAMPLE_RATE,
        "clip_seconds": args.clip_seconds,
        "classes": CLASSES,
        "test_groups": TEST_GROUPS,
        "counts": {
            "pool": len(pool_rows),
            "pool_by_group": count(pool_rows, "group"),
            "pool_by_source": count(pool_rows, "source"),
            "pool_files_used": len({r["file"] for r in pool_rows}),
            "labelled": len(lab_rows),
            "train": len(train),
            "train_by_class": count(train, "label"),
            "test": len(test),
            "test_by_class": count(test, "label"),
            "labelled_by_group_class": {
                g: count([r for r in lab_rows if r["group"] == g], "label")
                for g in sorted({r["group"] for r in lab_rows})
            },
            "labelled_by_kit": count(lab_rows, "source"),
        },
        "dropped_near_duplicates": dropped,
        "unreadable_files_skipped": unreadable,
        "build_seconds": round(time.time() - t0, 1),
    }
    with open(args.out / "build_info.json", "w") as fh:
        json.dump(info, fh, indent=1)
    c = info["counts"]
    print(
        f"pool {c['pool']} clips from {c['pool_files_used']} files; "
        f"labelled {c['labelled']} (train {c['train']} "
        f"{c['train_by_class']}, test {c['test']} {c['test_by_class']}); "
        f"{len(dropped)} near-duplicates dropped, {len(unreadable)} "
        f"unreadable files skipped; {info['build_seconds']} s -> {args.out}"
    )


if __name__ == "__main__":
    main()
