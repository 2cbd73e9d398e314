"""The `Recipe` base class: paper defaults + data wiring + evaluation.

A recipe knows one data set: how to read its official layout (`read`),
which train/eval runs make up the paper's protocol (`runs`: the five
ESC-50 folds, the three DCASE channels, ...), how to score predictions
(`score`) and how to combine the runs (`summarize`). Training itself is
`keras_maskspec.training.finetune`; a recipe only builds the config and the
`tf.data` pipelines and calls it.
"""

import copy
import json
import os
import shutil
import tempfile

import numpy as np

from keras_maskspec.training import metrics as metrics_lib
from keras_maskspec.training.config import FinetuneConfig
from keras_maskspec.utils import files
from keras_maskspec.utils import jsonable

# A model that fits a 2-core CI machine, a few steps: `smoke=True`.
SMOKE_CONFIG = {
    "preset": "maskspec_test",
    "epochs": 1,
    "steps_per_epoch": 2,
    "batch_size": 2,
    "warmup_epochs": 0,
    "clip_seconds": 0.5,
    "patchout": 4,
    "freq_mask_param": 8,
    "time_mask_param": 8,
    "drop_path_rate": 0.0,
    "samples_per_epoch": 4,
    "jit_compile": False,
    "image_every": 0,
    "verbose": 0,
}
# Clips per split in smoke runs.
SMOKE_CLIPS = 8


class Recipe:
    """One data set's fine-tuning (and evaluation) protocol.

    Subclasses set the class attributes and implement `read` and `runs`.

    Attributes:
        name: str. Registry name (`get_recipe(name)`).
        title: str. Human-readable data set name.
        task: str. One-line task description.
        metric: str. Headline metric key of the result dict.
        paper: dict. Paper results by preset name (for READMEs/reports).
        hours: float. Estimated single-GPU hours of the full run (base).
        config_defaults: dict. `FinetuneConfig` fields this recipe changes.
        option_defaults: dict. Recipe-only options (folds, channels, ...).
        smoke_options: dict. Options replaced in smoke runs.
    """

    name = None
    title = None
    task = ""
    metric = "accuracy"
    paper = {}
    hours = None
    config_defaults = {}
    option_defaults = {}
    smoke_options = {}
    smoke_config = {}

    # === Configuration ===

    def default_config(self):
        """The paper's `FinetuneConfig` for this data set.

        Examples:
        >>> from keras_maskspec.recipes import get_recipe
        >>> get_recipe("esc50").default_config().patchout
        100
        """
        return FinetuneConfig().replace(**copy.deepcopy(self.config_defaults))

    def defaults(self):
        """All defaults as a JSON-ready dict (what `config.json` holds).

        The class attributes are the one source of a recipe's defaults;
        `recipes/<name>/config.json` is this dict, written by
        `write_config` (a test checks the two agree).

        Examples:
        >>> from keras_maskspec.recipes import get_recipe
        >>> sorted(get_recipe("esc50").defaults())
        ['finetune', 'options', 'recipe']
        """
        return {
            "recipe": self.name,
            "finetune": jsonable(self.default_config().to_dict()),
            "options": jsonable(copy.deepcopy(self.option_defaults)),
        }

    def write_config(self, folder):
        """Writes `folder/config.json`: `defaults()`; returns its path.

        After changing a default, regenerate the checked-in file with
        `get_recipe(name).write_config(f"recipes/{name}")` (a test fails
        until it agrees).

        Examples:
        >>> import os, tempfile
        >>> from keras_maskspec.recipes import get_recipe
        >>> path = get_recipe("esc50").write_config(tempfile.mkdtemp())
        >>> os.path.basename(path)
        'config.json'
        """
        path = os.path.join(folder, "config.json")
        files.atomic_write_text(
            path, json.dumps(self.defaults(), indent=2, sort_keys=True) + "\n"
        )
        return path

    def resolve(self, smoke=False, **overrides):
        """`(FinetuneConfig, options)` after smoke settings and overrides.

        Args:
            smoke: bool. Apply the tiny-model smoke settings first.
            **overrides: `FinetuneConfig` fields or recipe options; an
                unknown name is an error listing the known ones.

        Examples:
        >>> from keras_maskspec.recipes import get_recipe
        >>> config, options = get_recipe("esc50").resolve(epochs=3, folds=[2])
        >>> config.epochs, options["folds"]
        (3, [2])
        """
        config = self.default_config()
        options = copy.deepcopy(self.option_defaults)
        if smoke:
            config = config.replace(**{**SMOKE_CONFIG, **self.smoke_config})
            options.update(copy.deepcopy(self.smoke_options))
        fields = set(config.to_dict())
        unknown = sorted(set(overrides) - fields - set(options))
        if unknown:
            raise ValueError(
                f"Unknown {self.name} setting(s) {unknown}. Known: "
                f"{sorted(fields | set(options))}. Received: "
                f"overrides={overrides}"
            )
        config = config.replace(
            **{k: v for k, v in overrides.items() if k in fields}
        )
        for key, value in overrides.items():
            if key in options:
                # `--set folds=2` means the one fold 2.
                if isinstance(options[key], list) and not isinstance(
                    value, list
                ):
                    value = [value]
                options[key] = value
        return config, options

    # === Layout hooks (subclasses) ===

    def read(self, data):
        """Parses the official layout under `data`."""
        raise NotImplementedError

    def runs(self, data, options):
        """Yields `(run_name, train_clips, eval_clips, data_kwargs)`."""
        raise NotImplementedError

    def score(self, y_true, y_score):
        """Metrics of one run's predictions, as a dict of floats."""
        if self.default_config().multi_label:
            return metrics_lib.multilabel_metrics(y_true, y_score)
        return {"accuracy": metrics_lib.accuracy(y_true, y_score)}

    def summarize(self, per_run):
        """Combines per-run results `{name: {"metrics", "y_true", ...}}`."""
        if len(per_run) == 1:
            return dict(next(iter(per_run.values()))["metrics"])
        return {name: r["metrics"] for name, r in per_run.items()}

    # === Data ===

    def dataset(self, clips, config, training, seed=0, **kwargs):
        """The `tf.data` pipeline of a `ClipSet` under `config`.

        Training pipelines get the config's waveform augmentation (the
        authors' chain: integer gain, extra augment, roll on the 10 s
        buffer, mixup with a partner from the whole training set) and
        class-balanced sampling, and repeat; evaluation pipelines are
        deterministic, centre-cropped (`crop="start"`: from the start) and
        keep every clip. Spectrogram mixup (`mixup_alpha`) happens in the
        model.
        """
        from keras_maskspec import data as data_lib

        balanced = bool(training and config.class_balanced)
        mixup = bool(training and config.mixup_rate)
        if not clips.multi_label:
            # Mixup (waveform here, spectrogram in the model) needs soft
            # (one-hot) targets; the classifier's loss and accuracy take ids
            # and one-hot labels alike.
            kwargs.setdefault("one_hot", mixup or bool(config.mixup_alpha))
        kwargs.setdefault("crop", config.data_crop(training))
        kwargs.setdefault("copies", config.replica_copies)  # training only
        ds = data_lib.classification_dataset(
            clips.files,
            clips.labels,
            num_classes=clips.num_classes,
            multi_label=clips.multi_label,
            sample_rate=config.audio_sample_rate(),
            clip_seconds=config.clip_seconds,
            batch_size=config.batch_size,
            shuffle=training,
            seed=seed,
            training=training,
            mixup_rate=config.mixup_rate if mixup else 0.0,
            mixup_alpha=config.wave_mixup_alpha,
            gain_db=config.gain_db,
            roll_seconds=config.roll_seconds,
            roll_samples=config.roll_samples,
            extra_augment=config.extra_augment,
            container_seconds=config.container_seconds,
            balanced=balanced,
            samples_per_epoch=config.samples_per_epoch if balanced else None,
            **kwargs,
        )
        if training:
            report = ds.bad_clip_report
            ds = ds.repeat()
            ds.bad_clip_report = report
        return ds

    def steps_per_epoch(self, clips, config):
        """Batches per epoch: the config's, else one pass (or the
        class-balanced draw count) over `clips`, times `replica_copies`."""
        if config.steps_per_epoch:
            return int(config.steps_per_epoch)
        count = len(clips)
        if config.class_balanced and config.samples_per_epoch:
            count = int(config.samples_per_epoch)
        return max(1, count * config.replica_copies // config.batch_size)

    def _limit(self, clips, smoke):
        return clips.head(SMOKE_CLIPS) if smoke else clips

    # === Fine-tuning and evaluation ===

    def finetune(self, data, init=None, out=None, smoke=False, **overrides):
        """Fine-tunes on `data` with the paper's protocol; returns metrics.

        Args:
            data: str. The data set folder in its official layout.
            init: `None` (random init of `config.preset`), the run directory
                of a pre-training run, or a `MaskSpecEncoder` (copied per
                run so folds/channels start from the same weights).
            out: str or `None`. Output folder: one run directory per run
                (`fold1/`, `left/`, ...) and `metrics.json`. `None` trains
                in a temporary folder that is removed afterwards.
            smoke: bool. Tiny model, a few steps, short clips.
            **overrides: `FinetuneConfig` fields or recipe options.

        Returns:
            dict of metrics (see the recipe's README), JSON-ready.
        """
        from keras_maskspec import training
        from keras_maskspec.training.callbacks import EpochTestScores

        config, options = self.resolve(smoke=smoke, **overrides)
        if isinstance(init, os.PathLike):
            init = os.fspath(init)
        owned = out is None
        out = (
            tempfile.mkdtemp(prefix=f"maskspec_{self.name}_") if owned else out
        )
        os.makedirs(out, exist_ok=True)
        try:
            per_run = {}
            missing = 0
            for run_name, train, test, kwargs in self.runs(data, options):
                missing = max(missing, train.missing + test.missing)
                train, test = (
                    self._limit(train, smoke),
                    self._limit(test, smoke),
                )
                run_config = config.replace(
                    num_classes=train.num_classes,
                    multi_label=train.multi_label,
                )
                run_config = run_config.replace(
                    steps_per_epoch=self.steps_per_epoch(train, run_config)
                )
                train_ds = self.dataset(
                    train, run_config, True, seed=run_config.seed, **kwargs
                )
                test_ds = self.dataset(test, run_config, False, **kwargs)
                # Per-bin statistics from the un-augmented training clips
                # (computed once, cached in the run folder).
                stats_ds = None
                if run_config.frame_stats == "train":
                    # The authors' statistics read each clip from its start.
                    stats_ds = self.dataset(
                        train, run_config, False, **{**kwargs, "crop": "start"}
                    )
                # The authors score the test split after every epoch and
                # report the best; we report it beside the final model's.
                scores = EpochTestScores(test_ds, self.score)
                # No per-epoch validation inside `fit`: Keras warns at the
                # end of every pass over a dataset of unknown length (clips
                # that fail to decode are skipped). Scored exactly below.
                # A `MaskSpecEncoder` init is rebuilt by `finetune`, which
                # copies its weights: every run starts from the same ones.
                model = training.finetune(
                    run_config,
                    init,
                    train_ds,
                    os.path.join(out, run_name),
                    stats_data=stats_ds,
                    callbacks=[scores],
                )
                per_run[run_name] = self._predict(model, test_ds, train)
                best = scores.best(self.metric)
                if best is not None:
                    per_run[run_name]["metrics"]["best_over_epochs"] = best
            result = self._finish(per_run, missing)
            if not owned:
                files.atomic_write_text(
                    os.path.join(out, "metrics.json"),
                    json.dumps(result, indent=2, sort_keys=True),
                )
            return result
        finally:
            if owned:
                shutil.rmtree(out, ignore_errors=True)

    def evaluate(self, model, data, smoke=False, probe=None, **overrides):
        """Scores a trained model (or probes a frozen encoder) on `data`.

        Args:
            model: a fine-tuned classifier, the output folder of
                `finetune` (one run directory per run), a dict
                `{run_name: classifier}`, or, with `probe`, a
                `MaskSpecEncoder` / pre-training run directory.
            data: str. The data set folder.
            smoke: bool. Smoke settings (short clips, few clips).
            probe: `None`, `"linear"` or `"knn"`: instead of the model's
                own head, fit a linear classifier / kNN on mean-pooled
                frozen encoder tokens of each run's training clips.
            **overrides: `FinetuneConfig` fields or recipe options (e.g.
                `folds=[1]`, `clip_seconds=10.0`).

        Returns:
            dict of metrics.
        """
        config, options = self.resolve(smoke=smoke, **overrides)
        per_run = {}
        missing = 0
        cache = {}
        # One classifier (object or run dir) is scored on its own, first,
        # run only: an ESC-50 fold-1 model has seen the other folds.
        single = not isinstance(model, dict) and not (
            isinstance(model, (str, os.PathLike))
            and not os.path.exists(os.path.join(model, "config.json"))
        )
        for run_name, train, test, kwargs in self.runs(data, options):
            train, test = self._limit(train, smoke), self._limit(test, smoke)
            missing = max(missing, train.missing + test.missing)
            run_config = config.replace(
                num_classes=train.num_classes, multi_label=train.multi_label
            )
            if probe is not None:
                from keras_maskspec.training import probe as probe_lib

                encoder = _as_encoder(model)
                per_run[run_name] = probe_lib.probe_clips(
                    encoder,
                    train,
                    test,
                    method=probe,
                    clip_seconds=run_config.clip_seconds,
                    batch_size=run_config.batch_size,
                    channels=kwargs.get("channels", "mono"),
                    cache=cache,
                    seed=run_config.seed,
                )
                per_run[run_name]["metrics"] = self.score(
                    per_run[run_name]["y_true"], per_run[run_name]["y_score"]
                )
                continue
            if single and per_run:
                break  # one model: its own (first) run only
            classifier = _as_classifier(model, run_name)
            if classifier is None:
                continue
            test_ds = self.dataset(test, run_config, False, **kwargs)
            per_run[run_name] = self._predict(classifier, test_ds, train)
        if not per_run:
            raise ValueError(
                f"No model for any {self.name} run. Pass a classifier, a "
                "dict {run_name: classifier} or a finetune output folder. "
                f"Received: model={model!r}"
            )
        return self._finish(per_run, missing)

    def _predict(self, model, test_ds, train):
        y_true, y_score = metrics_lib.predict_dataset(model, test_ds)
        y_score = np.asarray(y_score, np.float64)
        result = {"y_true": y_true, "y_score": y_score}
        result["metrics"] = self.score(y_true, y_score)
        return result

    def _finish(self, per_run, missing):
        summary = jsonable(self.summarize(per_run))
        summary.setdefault("missing_clips", int(missing))
        return summary


def _as_encoder(model):
    """A `MaskSpecEncoder` from an encoder, a model with `.encoder` or a
    run directory."""
    from keras_maskspec.models import MaskSpecEncoder
    from keras_maskspec.training.run_dir import load_encoder

    if isinstance(model, (str, os.PathLike)):
        return load_encoder(os.fspath(model))
    if isinstance(model, MaskSpecEncoder):
        return model
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, MaskSpecEncoder):
        return encoder
    raise ValueError(
        "Probing needs a MaskSpecEncoder, a model with `.encoder` or a run "
        f"directory. Received: model={model!r}"
    )


def _as_classifier(model, run_name):
    """The classifier of `run_name` from a model, a dict or a folder.

    Returns `None` when a dict or folder has nothing for `run_name`.
    """
    from keras_maskspec.training.run_dir import load_model

    if isinstance(model, dict):
        return model.get(run_name)
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        sub = os.path.join(folder, run_name)
        if os.path.isdir(sub):
            return load_model(sub)
        if os.path.exists(os.path.join(folder, "config.json")):
            return load_model(folder)
        return None
    return model


def softmax(logits, axis=-1):
    """Numerically stable softmax of a numpy array.

    Examples:
    >>> softmax(np.zeros((1, 4))).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    logits = np.asarray(logits, np.float64)
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(logits):
    """Logistic function of a numpy array.

    Examples:
    >>> sigmoid(np.zeros(2)).tolist()
    [0.5, 0.5]
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
