"""Tiny fake copies of each data set's official on-disk layout.

Same folder structure, file names, CSV/TSV/npz formats and audio formats
(rates, channels, codecs) as the real downloads, with a handful of short
clips. Each builder returns the data folder.
"""

import csv
import json
import os

import numpy as np
import soundfile as sf


def _tone(seconds, rate, freq, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.normal(size=t.size)
    if channels == 1:
        return wave.astype(np.float32)
    # Different content per channel, so left/right/mid differ.
    other = 0.3 * np.sin(2 * np.pi * freq * 1.5 * t)
    return np.stack([wave, other], axis=1).astype(np.float32)


def _write(path, data, rate, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, data, rate, **kwargs)


def make_esc50(root, clips_per_fold=2, seconds=0.6):
    """ESC-50-master/: audio/{fold}-{src}-{take}-{target}.wav + meta."""
    root = os.path.join(root, "ESC-50-master")
    categories = ["dog", "rooster", "pig"]
    rows = []
    for fold in range(1, 6):
        for i in range(clips_per_fold):
            target = (fold + i) % len(categories)
            name = f"{fold}-{100000 + 10 * fold + i}-A-{target}.wav"
            _write(
                os.path.join(root, "audio", name),
                _tone(seconds, 44100, 200 * (target + 1), seed=fold * 10 + i),
                44100,
                subtype="PCM_16",
            )
            rows.append(
                [name, fold, target, categories[target],
                 "True" if target == 0 else "False",
                 str(100000 + 10 * fold + i), "A"]
            )  # fmt: skip
    os.makedirs(os.path.join(root, "meta"))
    with open(os.path.join(root, "meta", "esc50.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["filename", "fold", "target", "category", "esc10", "src_file",
             "take"]
        )  # fmt: skip
        writer.writerows(rows)
    return root


def make_speechcommands(root):
    """speech_commands_v0.02/: word folders, lists, _background_noise_."""
    root = os.path.join(root, "speech_commands_v0.02")
    words = ["down", "go", "yes"]
    speakers = ["0a7c2a8d", "1b4c9b89", "2aca1e72", "3bfd30e6"]
    lists = {"validation": [], "testing": []}
    for w, word in enumerate(words):
        for s, speaker in enumerate(speakers):
            name = f"{speaker}_nohash_0.wav"
            # Many real clips are shorter than 1 s.
            seconds = 1.0 if s % 2 else 0.4
            _write(
                os.path.join(root, word, name),
                _tone(seconds, 16000, 300 * (w + 1), seed=w * 10 + s),
                16000,
                subtype="PCM_16",
            )
            if s == 2:
                lists["validation"].append(f"{word}/{name}")
            elif s == 3:
                lists["testing"].append(f"{word}/{name}")
    for split, entries in lists.items():
        with open(os.path.join(root, f"{split}_list.txt"), "w") as f:
            f.write("\n".join(entries) + "\n")
    _write(
        os.path.join(root, "_background_noise_", "white_noise.wav"),
        np.random.default_rng(0)
        .normal(scale=0.1, size=32000)
        .astype("float32"),
        16000,
        subtype="PCM_16",
    )
    for name in ("LICENSE", "README.md"):
        open(os.path.join(root, name), "w").close()
    return root


DCASE_SCENES = ("airport", "bus", "park")


def make_dcase2019(root, seconds=0.6):
    """TAU-urban-acoustic-scenes-2019-development/: 48 kHz stereo 24-bit."""
    root = os.path.join(root, "TAU-urban-acoustic-scenes-2019-development")
    cities = ["barcelona", "helsinki"]
    rows = {"train": [], "evaluate": []}
    for s, scene in enumerate(DCASE_SCENES):
        for c, city in enumerate(cities):
            for segment in range(2):
                name = f"audio/{scene}-{city}-{c}-{segment * 10}-a.wav"
                _write(
                    os.path.join(root, *name.split("/")),
                    _tone(seconds, 48000, 250 * (s + 1), channels=2, seed=s),
                    48000,
                    subtype="PCM_24",
                )
                rows["evaluate" if c == 1 else "train"].append((name, scene))
    setup = os.path.join(root, "evaluation_setup")
    os.makedirs(setup)
    for split, entries in rows.items():
        with open(os.path.join(setup, f"fold1_{split}.csv"), "w") as f:
            f.write("filename\tscene_label\n")
            f.writelines(f"{name}\t{scene}\n" for name, scene in entries)
    with open(os.path.join(setup, "fold1_test.csv"), "w") as f:
        f.write("filename\n")
        f.writelines(f"{name}\n" for name, _ in rows["evaluate"])
    return root


def make_openmic2018(root, seconds=0.6):
    """openmic-2018/: npz (object sample_key), OGG 44.1 kHz stereo, splits."""
    root = os.path.join(root, "openmic-2018")
    instruments = [
        "accordion", "banjo", "bass", "cello", "clarinet", "cymbals",
        "drums", "flute", "guitar", "mallet_percussion", "mandolin", "organ",
        "piano", "saxophone", "synthesizer", "trombone", "trumpet",
        "ukulele", "violin", "voice",
    ]  # fmt: skip
    keys = [f"{100 + i:06d}_{3840 * (i + 1)}" for i in range(8)]
    rng = np.random.default_rng(0)
    y_mask = rng.random((len(keys), 20)) < 0.5
    y_mask[:, :2] = True  # every split has known labels of classes 0, 1
    y_true = np.where(y_mask, rng.random((len(keys), 20)), 0.5)
    y_true[::2, 0] = 0.9
    y_true[1::2, 0] = 0.1
    y_true[::2, 1] = 0.2
    y_true[1::2, 1] = 0.8
    for i, key in enumerate(keys):
        _write(
            os.path.join(root, "audio", key[:3], key + ".ogg"),
            _tone(seconds, 44100, 220 * (1 + i % 2), channels=2, seed=i),
            44100,
            format="OGG",
            subtype="VORBIS",
        )
    np.savez(
        os.path.join(root, "openmic-2018.npz"),
        X=rng.integers(0, 255, (len(keys), 10, 128)).astype(np.uint8),
        Y_true=y_true.astype(np.float32),
        Y_mask=y_mask,
        sample_key=np.array(keys, dtype=object),
    )
    with open(os.path.join(root, "class-map.json"), "w") as f:
        json.dump({name: i for i, name in enumerate(instruments)}, f)
    os.makedirs(os.path.join(root, "partitions"))
    for split, part in (("train", keys[:6]), ("test", keys[6:])):
        with open(
            os.path.join(root, "partitions", f"split01_{split}.csv"), "w"
        ) as f:
            f.write("\n".join(part) + "\n")
    return root


AUDIOSET_MIDS = [
    ("/m/09x0r", "Speech"),
    ("/m/05zppz", "Male speech, man speaking"),
    ("/m/04rlf", "Music"),
    ("/m/068hy", "Dog"),
]


def _segments(path, rows):
    with open(path, "w") as f:
        f.write("# Segments csv created Sun Mar  5 10:54:31 2017\n")
        f.write(
            f"# num_ytids={len(rows)}, num_segs={len(rows)}, "
            "num_unique_labels=4, num_positive_labels=5\n"
        )
        f.write("# YTID, start_seconds, end_seconds, positive_labels\n")
        for ytid, start, mids in rows:
            f.write(
                f'{ytid}, {start:.3f}, {start + 10:.3f}, "{",".join(mids)}"\n'
            )


def make_audioset(root, seconds=0.6):
    """AudioSet with PANNs layout (metadata/ + audios/<split>/Y<id>.wav)
    plus clips under other naming conventions; some clips are missing.

    Returns `(root, expected)` where `expected[split]` is the number of
    clips that exist on disk.
    """
    root = os.path.join(root, "audioset")
    meta = os.path.join(root, "metadata")
    os.makedirs(meta)
    with open(os.path.join(meta, "class_labels_indices.csv"), "w") as f:
        f.write("index,mid,display_name\n")
        for i, (mid, name) in enumerate(AUDIOSET_MIDS):
            f.write(f'{i},{mid},"{name}"\n')
    mids = [m for m, _ in AUDIOSET_MIDS]
    # 11-character ids, some starting with "-" or "_" or containing "_".
    splits = {
        "balanced_train": [
            ("-0RWZT-miFs", 420.0, [mids[0], mids[1]]),
            ("_abcdEFG_ij", 30.0, [mids[2]]),
            ("--4gqARaEJE", 0.0, [mids[3]]),
            ("a_b_c_d_e_f", 10.0, [mids[0], mids[3]]),
            ("MISSINGbal1", 0.0, [mids[2]]),
        ],
        "unbalanced_train": [
            ("Yk3mP0o9dXw", 20.0, [mids[2]]),
            ("zz_9-aB1c2D", 5.0, [mids[0]]),
            ("MISSINGunb1", 0.0, [mids[1]]),
        ],
        "eval": [
            ("e1_val_0001", 0.0, [mids[0], mids[2]]),
            ("-e2val00002", 30.0, [mids[3]]),
            ("_e3val00003", 40.0, [mids[1], mids[2]]),
            ("e4val000004", 0.0, [mids[3], mids[0]]),
            ("MISSINGevl1", 0.0, [mids[3]]),
        ],
    }
    names = {
        # PANNs / PaSST: audios/<split>/Y<YTID>.wav
        "-0RWZT-miFs": "audios/balanced_train_segments/Y-0RWZT-miFs.wav",
        "_abcdEFG_ij": "audios/balanced_train_segments/Y_abcdEFG_ij.wav",
        # <YTID>_<start>_<end>.wav
        "--4gqARaEJE": "downloads/--4gqARaEJE_0.000_10.000.wav",
        # <YTID>_<start>.flac
        "a_b_c_d_e_f": "downloads/a_b_c_d_e_f_10000.flac",
        # PANNs unbalanced parts; an id that itself starts with Y.
        "Yk3mP0o9dXw": (
            "audios/unbalanced_train_segments/"
            "unbalanced_train_segments_part00/YYk3mP0o9dXw.wav"
        ),
        "zz_9-aB1c2D": "downloads/zz_9-aB1c2D-5-15.wav",
        "e1_val_0001": "audios/eval_segments/Ye1_val_0001.wav",
        "-e2val00002": "audios/eval_segments/-e2val00002.wav",
        "_e3val00003": "audios/eval_segments/Y_e3val00003_40.000_50.000.flac",
        "e4val000004": "audios/eval_segments/e4val000004_0.wav",
    }
    expected = {}
    for split, rows in splits.items():
        _segments(os.path.join(meta, f"{split}_segments.csv"), rows)
        expected[split] = sum(ytid in names for ytid, _, _ in rows)
    for i, (ytid, path) in enumerate(sorted(names.items())):
        _write(
            os.path.join(root, *path.split("/")),
            _tone(seconds, 32000, 200 + 50 * i, seed=i),
            32000,
        )
    return root, expected
