"""End-to-end smoke run of the real-audio benchmark (issue 17).

Builds the corpus from the Debian packages (`build_corpus.py`, about a
minute) unless `MASKSPEC_REAL_AUDIO_CORPUS` names a built one, then runs
`run.py --smoke` in a subprocess: tiny model, 4 pre-training steps, probes
at steps 0 and 4, statistics, plots. Skips when a package is missing.

    pytest benchmarks/real_audio/real_audio_smoke_test.py -m large
"""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_PATHS = {
    "hydrogen-drumkits": "/usr/share/hydrogen/data/drumkits/BJA_Pacific",
    "hydrogen-data": "/usr/share/hydrogen/data/drumkits/GMRockKit",
    "hydrogen-drumkits-effects": (
        "/usr/share/hydrogen/data/drumkits/belofilms_GuitarStrums"
    ),
    "sonic-pi-samples": "/usr/share/sonic-pi/samples",
    "lmms-common": "/usr/share/lmms/samples/drums",
    "klettres-data": "/usr/share/klettres/en",
    "fluid-soundfont-gm": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
}
CORPUS = os.environ.get("MASKSPEC_REAL_AUDIO_CORPUS")


def _skip_reason():
    # A benchmark, not a backend test: run once per CI run (TF job).
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return "runs in the TensorFlow job only"
    if CORPUS:
        if not (Path(CORPUS) / "pool.csv").exists():
            return f"MASKSPEC_REAL_AUDIO_CORPUS={CORPUS} has no pool.csv"
        return None
    missing = [
        p for p, path in PACKAGE_PATHS.items() if not Path(path).exists()
    ]
    if missing:
        return (
            f"Debian packages missing: {' '.join(missing)} (apt-get install "
            "-y --no-install-recommends $(cat benchmarks/real_audio/"
            "apt-packages.txt))"
        )
    return None


def _run(args):
    proc = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus, built once per test session (or the one named by
    `MASKSPEC_REAL_AUDIO_CORPUS`).

    Under pytest-xdist the large tests may land on different workers; the
    first to get the lock builds the corpus in the session's shared base
    folder (into a side folder, renamed when complete), the other reuses it.
    """
    if CORPUS:
        return Path(CORPUS)
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by all workers of this session
    path = root / "real_audio_corpus"
    with open(root / "real_audio_corpus.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = root / f"real_audio_corpus.partial-{os.getpid()}"
            _run([HERE / "build_corpus.py", "--out", partial])
            partial.rename(path)
    return path


@pytest.mark.large
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_smoke_run(tmp_path, corpus):
    out = tmp_path / "out"
    _run([HERE / "run.py", "--smoke", "--corpus", corpus, "--out", out])
    results = json.loads((out / "results.json").read_text())
    assert (out / "learning_curve.png").stat().st_size > 0
    probes = results["runs"]["0"]["probes"]
    assert sorted(probes, key=int) == ["0", "4"]
    n = results["num_labelled"]
    for step in probes.values():
        for feature in ("mean_norm", "mean_prenorm", "cls_norm"):
            assert len(step[feature]["pred"]) == n
            assert 0.0 <= step[feature]["accuracy"] <= 1.0
    # Pre-training changed the encoder: its probe predictions moved.
    assert probes["0"]["mean_norm"]["pred"] != probes["4"]["mean_norm"]["pred"]
    diff = results["summary"]["mean_norm"]["4"]["difference_vs_random"]
    low, high = diff["bootstrap_ci95"]["accuracy"]
    assert low <= diff["accuracy"]["mean"] <= high
    assert len(results["runs"]["0"]["pretrain"]["losses"]) == 2


def test_guitar_strum_names_parse():
    sys.path.insert(0, str(HERE))
    import build_guitar_task as guitar

    assert guitar.parse("Asharp minro7b5_DOWN_03.flac") == (
        "Bflat", "m7b5", "down"
    )  # fmt: skip
    assert guitar.parse("Bflat major_00.flac") == ("Bflat", "major", "plain")
    assert guitar.parse("Dsharp minor7b5_02wav.flac") == (
        "Eflat", "m7b5", "plain"
    )  # fmt: skip
    assert guitar.parse("Gsharp minor_UP_01.flac") == ("Aflat", "minor", "up")
    assert guitar.parse("drumkit.xml") is None


def _experiment():
    sys.path.insert(0, str(HERE))
    import run

    return run


def test_probe_units_keep_groups_whole():
    run = _experiment()
    groups = np.array(list("dbcabdaec"))
    assert run.probe_units(groups, 0).tolist() == [3, 1, 2, 0, 1, 3, 0, 4, 2]
    units = run.probe_units(groups, 2)
    for g in set(groups):  # a group never straddles two folds
        assert len(set(units[groups == g])) == 1
    assert sorted(set(units)) == [0, 1]
    with pytest.raises(ValueError, match="probe_folds"):
        run.probe_units(groups, 6)  # more folds than the 5 groups


def test_unit_probe_matches_scikit_learn_cross_val_predict():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import PredefinedSplit
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    run = _experiment()
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(60, 5))
    y = (feats[:, 0] + rng.normal(scale=0.5, size=60) > 0).astype(int)
    groups = np.array([f"g{i % 7}" for i in range(60)])
    for folds in (0, 3):
        units = run.probe_units(groups, folds)
        oracle = cross_val_predict(
            make_pipeline(StandardScaler(), LogisticRegression(C=1.0)),
            feats,
            y,
            cv=PredefinedSplit(units),
        )
        assert run.unit_probe(feats, y, units, 1.0).tolist() == (
            oracle.tolist()
        )
        only = run.unit_probe(feats, y, units, 1.0, only=1)
        assert (only[units == 1] == oracle[units == 1]).all()
        assert (only[units != 1] == -1).all()


def test_few_label_probe_matches_scikit_learn_cross_validate():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    run = _experiment()
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(80, 4))
    y = (feats[:, 1] + rng.normal(scale=0.7, size=80) > 0).astype(int)
    units = run.probe_units(np.array([f"g{i % 9}" for i in range(80)]), 4)
    for m in (1, 2):
        # Fold u is predicted by a probe fitted on folds u+1..u+m (mod 4).
        cv = [
            (
                np.flatnonzero(np.isin(units, (u + 1 + np.arange(m)) % 4)),
                np.flatnonzero(units == u),
            )
            for u in range(4)
        ]
        fitted = cross_validate(
            make_pipeline(StandardScaler(), LogisticRegression(C=0.5)),
            feats,
            y,
            cv=cv,
            return_estimator=True,
        )["estimator"]
        oracle = np.zeros_like(y)
        for (_, test), estimator in zip(cv, fitted):
            oracle[test] = estimator.predict(feats[test])
        ours = run.unit_probe(feats, y, units, 0.5, train=m)
        assert ours.tolist() == oracle.tolist()
    # m = K - 1 is the ordinary probe on all other folds.
    assert run.unit_probe(feats, y, units, 0.5, train=3).tolist() == (
        run.unit_probe(feats, y, units, 0.5).tolist()
    )
    with pytest.raises(ValueError, match="probe_train_folds"):
        run.unit_probe(feats, y, units, 0.5, train=4)
    # `probe` takes C and m from a run's config (`--set probe_train_folds=1`);
    # a config written before the key existed probes on all other folds.
    cfg = {**run.FULL, "probe_c": 0.5, "probe_train_folds": 1}
    assert run.probe(cfg, feats, y, units).tolist() == (
        run.unit_probe(feats, y, units, 0.5, train=1).tolist()
    )
    old = {k: v for k, v in cfg.items() if k != "probe_train_folds"}
    assert run.probe(old, feats, y, units).tolist() == (
        run.unit_probe(feats, y, units, 0.5).tolist()
    )


def test_label_fraction_plot(tmp_path):
    run = _experiment()

    def result(folds, train, acc):
        entry = {"accuracy": {"mean": acc, "ci95": [acc - 0.02, acc + 0.02]}}
        return {
            "config": {"probe_folds": folds, "probe_train_folds": train},
            "runs": {"0": {}, "1": {}},
            "summary": {"mean_norm": {"0": entry, "600": entry}},
        }

    assert run.label_fraction({"probe_folds": 8, "probe_train_folds": 1}) == (
        0.125
    )
    assert run.label_fraction({"probe_folds": 4}) == 0.75  # all others
    assert run.label_fraction({"probe_folds": 0}) is None  # unknown K
    assert run.label_fraction({"probe_folds": 0, "probe_train_folds": 2}) is (
        None
    )
    path = tmp_path / "labels.png"
    run.plot_label_fractions([result(4, 1, 0.6), result(2, None, 0.7)], path)
    assert path.stat().st_size > 10_000
    with pytest.raises(SystemExit, match="probe_folds"):
        run.plot_label_fractions([result(0, None, 0.7)], path)


@pytest.mark.large
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_guitar_task_smoke_run(tmp_path, corpus):
    task = tmp_path / "guitar"
    _run([HERE / "build_guitar_task.py", "--corpus", corpus, "--out", task,
          "--label", "direction"])  # fmt: skip
    pool = (task / "pool.csv").read_text()
    assert "GuitarStrums" not in pool  # the labelled strums left the pool
    out = tmp_path / "out"
    # In-domain pool: one pre-training per fold, on the pool plus the
    # other fold's strums (README, seventh session).
    folds = ["--set", "probe_folds=2", "--set", "pool_adds_labelled=true"]
    _run([HERE / "run.py", "--smoke", "--corpus", task, "--out", out, *folds])
    results = json.loads((out / "results.json").read_text())
    assert results["classes"] == ["down", "plain", "up"]
    assert len(results["groups"]) == 25  # one group per chord
    pred = results["runs"]["0"]["probes"]["4"]["mean_norm"]["pred"]
    assert len(pred) == results["num_labelled"] > 250
    assert min(pred) >= 0  # every clip predicted by its own fold's probe
    folds = results["runs"]["0"]["pretrain"]["folds"]
    assert len(folds) == 2 and all(len(f["losses"]) == 2 for f in folds)
    assert sorted(results["runs"]["0"]["drum_loss"]) == [
        "0_fold0", "0_fold1", "4_fold0", "4_fold1"
    ]  # fmt: skip
