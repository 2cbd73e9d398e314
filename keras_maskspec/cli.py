"""The `maskspec` command: pre-train, fine-tune, evaluate, embed, serve.

Run `maskspec --help` or `maskspec COMMAND --help`. The main job,
pre-training on the built-in synthetic corpus, is one line:

    maskspec pretrain --epochs 1 --out runs/demo

Errors a shell user can fix (a wrong path, an unknown recipe, an
unreadable config, a bad audio file) print one line on stderr and exit
with status 1 (usage mistakes: status 2); `maskspec --debug COMMAND ...`
shows the full traceback.
"""

import json
import os
import sys

import click

# The built-in corpus `maskspec pretrain` uses without --data: small enough
# for one epoch of the tiny preset in a couple of minutes on 2 CPU cores.
DEMO_NUM_CLIPS = 64
DEMO_CLIP_SECONDS = 2.0
DEFAULT_BATCH_SIZE = 16
PRESETS = ("maskspec_tiny", "maskspec_small", "maskspec_base")


# === Helpers ===


def _one_line(exc):
    """The message of an exception, as one line."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith("'"):
        text = text.strip("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    message = lines[0]
    if len(lines) > 1:
        message += " (run `maskspec --debug ...` for the details)"
    return message


class _Group(click.Group):
    """A group whose commands fail with one line, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if ctx.meta.get("maskspec.debug"):
                raise
            raise click.ClickException(_one_line(exc)) from None


def _parse_sets(pairs, option="--set"):
    """`("a=1", "b=x")` -> `{"a": 1, "b": "x"}` (values read as JSON)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"expected KEY=VALUE. Received: {pair!r}", param_hint=option
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        overrides[key.strip().replace("-", "_")] = parsed
    return overrides


def _err(message):
    click.echo(message, err=True)


def _progress(items, label):
    """A click progress bar on stderr (stdout stays clean for --json)."""
    return click.progressbar(
        items,
        label=label,
        file=click.get_text_stream("stderr"),
        show_pos=True,
    )


def _read_label_file(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


class _LoadedModel:
    """A model given as --model: a run dir, a `.keras` file or an export."""

    def __init__(self, path, labels=None):
        import keras

        path = os.fspath(path)
        self.path = path
        self.export = None
        self.keras_model = None
        self.class_names = None
        if not os.path.exists(path):
            raise click.BadParameter(
                f"no such file or folder: {path}", param_hint="--model"
            )
        if os.path.isdir(path) and os.path.isfile(
            os.path.join(path, "saved_model.pb")
        ):
            import tensorflow as tf

            from keras_maskspec.export import load_metadata

            self.export = tf.saved_model.load(path)
            self.metadata = load_metadata(path)
            self.sample_rate = int(self.metadata["sample_rate"])
            self.outputs = list(self.metadata["outputs"])
            self.class_names = self.metadata.get("class_names")
        else:
            if os.path.isdir(path):
                self.keras_model = self._load_run(path)
                label_file = os.path.join(path, "labels.txt")
                if os.path.isfile(label_file):
                    self.class_names = _read_label_file(label_file)
            elif path.endswith(".keras"):
                self.keras_model = keras.saving.load_model(path, compile=False)
            else:
                raise click.BadParameter(
                    "expected a run folder, a .keras file or a SavedModel "
                    f"export folder. Received: {path}",
                    param_hint="--model",
                )
            from keras_maskspec.inference import _base_model
            from keras_maskspec.inference import inference_model

            base = _base_model(self.keras_model)
            self.keras_model = base
            self.infer = inference_model(base)
            encoder = getattr(base, "encoder", base)
            self.sample_rate = int(encoder.sample_rate)
            self.outputs = sorted(self.infer.output)
        if labels is not None:
            self.class_names = _read_label_file(labels)

    @staticmethod
    def _load_run(path):
        import keras

        from keras_maskspec.training.run import load_run

        for name in ("model.keras", "encoder.keras"):
            file = os.path.join(path, name)
            if os.path.isfile(file):
                return keras.saving.load_model(file, compile=False)
        return load_run(path)

    @property
    def model(self):
        """What `sliding_window_inference` takes."""
        return self.export if self.export is not None else self.infer

    @property
    def has_scores(self):
        return "probabilities" in self.outputs

    def names(self, num_classes):
        names = self.class_names
        if names is None:
            return [f"class_{i}" for i in range(num_classes)]
        if len(names) != num_classes:
            raise click.UsageError(
                f"{len(names)} labels for a model with {num_classes} "
                "outputs; check --labels."
            )
        return list(names)


def _audio_files(paths):
    from keras_maskspec.data import resolve_sources

    kind, files = resolve_sources(list(paths))
    if kind != "files":
        raise click.UsageError(
            "expected audio files or folders, not TFRecord shards."
        )
    return files


def _load_clips(files, sample_rate, label):
    """Yields `(path, waveform)`, warning about (and skipping) bad files."""
    from keras_maskspec.data import AudioReadError
    from keras_maskspec.data import load_audio

    skipped = []
    with _progress(files, label) as bar:
        for path in bar:
            try:
                yield path, load_audio(path, sample_rate=sample_rate)
            except AudioReadError as exc:
                skipped.append(path)
                _err(f"\nSkipped {path}: {_one_line(exc)}")
    if skipped and len(skipped) == len(files):
        raise click.ClickException("no readable audio file.")


# === Commands ===


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show full tracebacks instead of one-line errors.",
)
@click.version_option(package_name="keras-maskspec", prog_name="maskspec")
@click.pass_context
def cli(ctx, debug):
    """MaskSpec: masked spectrogram pre-training for audio, in Keras 3.

    \b
    Pre-train on the built-in synthetic corpus (a couple of minutes on CPU):
      maskspec pretrain --epochs 1 --out runs/demo
      maskspec show runs/demo --out reconstruction.png
    Fine-tune and evaluate with a recipe, then serve:
      maskspec finetune --recipe esc50 --data ESC-50-master --init runs/demo
      maskspec export --model runs/esc50/fold1 --out exports/esc50/1
      maskspec predict --model exports/esc50/1 dog.wav

    The Keras backend comes from KERAS_BACKEND (tensorflow, jax or torch).
    """
    ctx.meta["maskspec.debug"] = debug


@cli.command()
@click.option(
    "--data",
    multiple=True,
    metavar="PATH",
    help="Audio files, folders, manifests (.txt/.csv), glob patterns or "
    "TFRecord shards; repeat for several. Default: the built-in synthetic "
    f"corpus ({DEMO_NUM_CLIPS} clips of {DEMO_CLIP_SECONDS:g} s).",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default=None,
    help="Encoder size.  [default: maskspec_tiny]",
)
@click.option("--epochs", type=click.IntRange(min=1), help="[default: 80]")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help=f"Global batch size.  [default: {DEFAULT_BATCH_SIZE}; paper: 512]",
)
@click.option(
    "--clip-seconds",
    type=click.FloatRange(min=0.1),
    help="Clip length; longer files are randomly cropped.  [default: "
    f"{DEMO_CLIP_SECONDS:g} for the synthetic corpus, else 10]",
)
@click.option(
    "--num-clips",
    type=click.IntRange(min=1),
    default=DEMO_NUM_CLIPS,
    show_default=True,
    help="Size of the synthetic corpus (without --data).",
)
@click.option(
    "--steps-per-epoch",
    type=click.IntRange(min=1),
    help="Batches per epoch.  [default: one pass over the data; required "
    "for TFRecord shards]",
)
@click.option(
    "--out",
    default="runs/pretrain",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Run folder: config.json, checkpoints/, metrics.csv, logs/, "
    "model.keras, encoder.keras.",
)
@click.option(
    "--strategy",
    type=click.Choice(["auto", "none", "mirrored", "multiworker", "tpu"]),
    help="Distribution strategy.  [default: auto]",
)
@click.option(
    "--mixed-precision",
    type=click.Choice(["float32", "mixed_bfloat16", "mixed_float16"]),
    help="Dtype policy of the transformer.  [default: float32]",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run already in --out (otherwise an existing run is "
    "an error).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="A PretrainConfig JSON file; the options above override it.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any PretrainConfig field, e.g. --set mask_ratio=0.8 or "
    "--set encoder_overrides='{\"num_layers\": 2}'.",
)
@click.option("--seed", type=int, help="[default: 0]")
def pretrain(
    data,
    preset,
    epochs,
    batch_size,
    clip_seconds,
    num_clips,
    steps_per_epoch,
    out,
    strategy,
    mixed_precision,
    resume,
    config_path,
    sets,
    seed,
):
    """Pre-train a MaskSpec encoder (masked spectrogram prediction).

    Without --data this trains on a built-in synthetic corpus of tones,
    chirps, noise bursts and clicks, generated on the fly: a demo and a
    smoke test of the whole pipeline. The progress bar, checkpoints after
    every epoch, metrics.csv and TensorBoard logs (--out/logs) follow the
    run; `maskspec show --out x.png RUN_DIR` draws what the model
    reconstructs.
    """
    from keras_maskspec.training.config import PretrainConfig

    overrides = _parse_sets(sets)
    if config_path is not None:
        config = _read_config(PretrainConfig, config_path)
    else:
        config = PretrainConfig(
            preset="maskspec_tiny",
            batch_size=DEFAULT_BATCH_SIZE,
            clip_seconds=DEMO_CLIP_SECONDS if not data else 10.0,
            # XLA compilation of the 20-block graph outlasts a demo epoch.
            jit_compile="auto" if data else False,
        )
    flags = {
        "preset": preset,
        "epochs": epochs,
        "batch_size": batch_size,
        "clip_seconds": clip_seconds,
        "steps_per_epoch": steps_per_epoch,
        "strategy": strategy,
        "mixed_precision": mixed_precision,
        "seed": seed,
    }
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = config.replace(**overrides)
    _check_run_dir(out, resume)

    if data:
        from keras_maskspec.data import pretraining_dataset
        from keras_maskspec.data import resolve_sources

        kind, files = resolve_sources(list(data))
        if config.steps_per_epoch is None:
            if kind != "files":
                raise click.UsageError(
                    "TFRecord shards have no known length: pass "
                    "--steps-per-epoch."
                )
            if len(files) < config.batch_size:
                raise click.UsageError(
                    f"{len(files)} audio files is less than one batch "
                    f"(--batch-size {config.batch_size})."
                )
            config = config.replace(
                steps_per_epoch=len(files) // config.batch_size
            )

        def train_data(epoch):
            return pretraining_dataset(
                list(data),
                sample_rate=config.sample_rate,
                clip_seconds=config.clip_seconds,
                batch_size=config.batch_size,
                seed=config.seed + epoch,
                training=True,
            )

        _err(f"Pre-training on {len(files)} {kind} from {', '.join(data)}")
    else:
        from keras_maskspec.data import synthetic_corpus

        train_data, _, _ = synthetic_corpus(
            num_clips,
            sample_rate=config.sample_rate,
            clip_seconds=config.clip_seconds,
            seed=config.seed,
        )
        _err(
            f"Pre-training on the built-in synthetic corpus: {num_clips} "
            f"clips of {config.clip_seconds:g} s at {config.sample_rate} Hz"
        )
    _err(
        f"Model {config.preset}, {config.epochs} epoch(s), batch "
        f"{config.batch_size}, run folder {out}"
    )
    from keras_maskspec.training.run import pretrain as run_pretrain

    run_pretrain(config, train_data, out, resume=True)
    click.echo(f"Done. Encoder: {os.path.join(out, 'encoder.keras')}")
    click.echo(f"Next: maskspec show {out} --out reconstruction.png")


def _read_config(cls, path):
    if not os.path.isfile(path):
        raise click.BadParameter(f"no such file: {path}", param_hint="--config")
    try:
        return cls.from_json(path)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})",
            param_hint="--config",
        ) from None
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(
            f"{path}: {_one_line(exc)}", param_hint="--config"
        ) from None


def _check_run_dir(out, resume):
    has_run = os.path.isfile(os.path.join(out, "config.json"))
    if has_run and not resume:
        raise click.UsageError(
            f"{out} already holds a run: pass --resume to continue it, or "
            "choose another --out."
        )


@cli.command()
@click.option("--recipe", required=True, help="Recipe name, e.g. esc50.")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="The data set folder, in its official layout.",
)
@click.option(
    "--init",
    type=click.Path(exists=True),
    help="Pre-training run folder to start from.  [default: random init]",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Output folder: one run folder per fold/channel and metrics.json.",
)
@click.option(
    "--smoke", is_flag=True, help="Tiny model, a few steps: checks the wiring."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a FinetuneConfig field or recipe option, e.g. "
    "--set epochs=10 --set folds=[1].",
)
def finetune(recipe, data, init, out, smoke, sets):
    """Fine-tune with a recipe's protocol (the paper's settings)."""
    recipe_obj = _get_recipe(recipe)
    metrics = recipe_obj.finetune(
        data, init=init, out=out, smoke=smoke, **_parse_sets(sets)
    )
    click.echo(json.dumps(metrics, indent=2, sort_keys=True))
    if out:
        _err(f"Metrics written to {os.path.join(out, 'metrics.json')}")


def _get_recipe(name):
    from keras_maskspec.recipes import RECIPES
    from keras_maskspec.recipes import get_recipe

    if name not in RECIPES:
        raise click.BadParameter(
            f"unknown recipe {name!r}; choose one of "
            f"{', '.join(sorted(RECIPES))}.",
            param_hint="--recipe",
        )
    return get_recipe(name)


@cli.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True),
    help="A fine-tuned run folder or a finetune --out folder.",
)
@click.option("--recipe", required=True, help="Recipe name, e.g. esc50.")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="The data set folder, in its official layout.",
)
@click.option(
    "--probe",
    type=click.Choice(["linear", "knn"]),
    help="Probe the frozen encoder instead of using the model's head.",
)
@click.option("--smoke", is_flag=True, help="A few clips, short crops.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Metrics JSON file.  [default: MODEL/metrics_RECIPE.json]",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a FinetuneConfig field or recipe option.",
)
def evaluate(model_path, recipe, data, probe, smoke, out, sets):
    """Score a trained model on a data set's test split(s)."""
    recipe_obj = _get_recipe(recipe)
    metrics = recipe_obj.evaluate(
        model_path, data, smoke=smoke, probe=probe, **_parse_sets(sets)
    )
    text = json.dumps(metrics, indent=2, sort_keys=True)
    click.echo(text)
    if out is None and os.path.isdir(model_path):
        suffix = f"_{probe}" if probe else ""
        out = os.path.join(model_path, f"metrics_{recipe}{suffix}.json")
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
        _err(f"Metrics written to {out}")


@cli.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A run folder, a .keras file or a SavedModel export folder.",
)
@click.argument("inputs", nargs=-1, required=True, metavar="FILES_OR_DIR...")
@click.option(
    "--out",
    default="embeddings.npz",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Output .npz file.",
)
@click.option(
    "--window-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Long files are embedded in consecutive windows of this length.",
)
def embed(model_path, inputs, out, window_seconds):
    """Scene and per-frame embeddings of audio files, to an .npz file.

    \b
    The .npz holds:
      files            (n,)        the input paths
      scene            (n, D)      one embedding per file (length-weighted
                                   mean over windows)
      frame_embeddings (total, D)  one per time patch (160 ms), all files
      frame_times      (total,)    centre of each frame, seconds
      frame_offsets    (n + 1,)    file i owns rows offsets[i]:offsets[i+1]
    """
    import numpy as np

    from keras_maskspec.inference import _as_callable

    loaded = _LoadedModel(model_path)
    fn, sample_rate, min_samples = _as_callable(loaded.model)
    frame_seconds = _frame_seconds(loaded)
    files = _audio_files(inputs)
    names, scenes, frames, times, offsets = [], [], [], [], [0]
    window = max(round(window_seconds * sample_rate), min_samples)
    for path, waveform in _load_clips(files, sample_rate, "Embedding"):
        if waveform.shape[0] < min_samples:
            waveform = np.pad(waveform, (0, min_samples - waveform.shape[0]))
        pieces, weights, count = [], [], 0
        for start in range(0, waveform.shape[0], window):
            chunk = waveform[start : start + window]
            if chunk.shape[0] < min_samples:  # a tail under one patch
                break
            out_chunk = fn(chunk[None])
            pieces.append(out_chunk["embedding"][0])
            weights.append(chunk.shape[0])
            frame = out_chunk["frame_embeddings"][0]
            frames.append(frame)
            count += frame.shape[0]
            times.append(start / sample_rate + frame_seconds(frame.shape[0]))
        scenes.append(np.average(np.stack(pieces), axis=0, weights=weights))
        names.append(path)
        offsets.append(offsets[-1] + count)
    np.savez(
        out,
        files=np.asarray(names),
        scene=np.stack(scenes).astype("float32"),
        frame_embeddings=np.concatenate(frames).astype("float32"),
        frame_times=np.concatenate(times),
        frame_offsets=np.asarray(offsets, "int64"),
    )
    click.echo(
        f"Wrote {out}: {len(names)} files, scene {np.stack(scenes).shape}, "
        f"{offsets[-1]} frames"
    )


def _frame_seconds(loaded):
    """`count -> centre times (s)` of frame embeddings within a window."""
    import numpy as np

    if loaded.keras_model is not None:
        from keras_maskspec.inference import frame_times

        return lambda count: frame_times(loaded.keras_model, count)
    step = float(loaded.metadata["frame_seconds"])
    # Exports of this package use 16-frame patches of 10 ms: centre 75 ms.
    first = 7.5 * step / 16.0
    return lambda count: first + step * np.arange(count)


@cli.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A SavedModel export folder (or a fine-tuned run folder).",
)
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option(
    "--top-k", type=click.IntRange(min=1), default=5, show_default=True
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON, not a table."
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Class names, one per line (overrides those stored with the model).",
)
@click.option(
    "--window-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Longer files are scored in overlapping windows of this length "
    "(hop: half a window) and the window probabilities averaged.",
)
def predict(model_path, files, top_k, as_json, labels, window_seconds):
    """Top labels with probabilities for audio files."""
    from keras_maskspec.inference import sliding_window_inference

    loaded = _LoadedModel(model_path, labels=labels)
    if not loaded.has_scores:
        raise click.UsageError(
            f"{model_path} is an encoder without a classifier head; use "
            "`maskspec embed` for its embeddings."
        )
    results = []
    for path, waveform in _load_clips(
        _audio_files(files), loaded.sample_rate, "Predicting"
    ):
        out = sliding_window_inference(
            loaded.model, waveform, window_seconds=window_seconds
        )
        probabilities = out["mean"]["probabilities"]
        names = loaded.names(len(probabilities))
        order = probabilities.argsort()[::-1][:top_k]
        results.append(
            {
                "file": path,
                "windows": len(out["starts"]),
                "labels": [
                    {"label": names[i], "score": float(probabilities[i])}
                    for i in order
                ],
            }
        )
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    width = max(len(r["file"]) for r in results)
    click.echo(f"{'file':<{width}}  rank  {'score':>6}  label")
    for result in results:
        for rank, item in enumerate(result["labels"], 1):
            name = result["file"] if rank == 1 else ""
            click.echo(
                f"{name:<{width}}  {rank:>4}  {item['score']:6.3f}  "
                f"{item['label']}"
            )


@cli.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A run folder (fine-tuned: classifier; pre-trained: encoder) or a "
    ".keras file.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Export folder; for TF Serving a numbered version folder, e.g. "
    "exports/maskspec/1.",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Class names, one per line.  [default: RUN_DIR/labels.txt if any]",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing export.")
def export(model_path, out, labels, overwrite):
    """Export a SavedModel that serves raw audio (TF Serving ready).

    \b
    Signature serving_default:
      waveform  float32 [batch, samples] at the model's rate (32 kHz)
      ->  scores, probabilities (classifier), embedding, frame_embeddings
    \b
    Serve it:
      docker run -p 8501:8501 -v "$PWD/exports/maskspec:/models/maskspec" \\
          -e MODEL_NAME=maskspec tensorflow/serving
    """
    from keras_maskspec.export import export_saved_model

    loaded = _LoadedModel(model_path, labels=labels)
    if loaded.export is not None:
        raise click.UsageError(f"{model_path} is already a SavedModel export.")
    names = loaded.class_names
    if names is not None and not loaded.has_scores:
        names = None
    metadata = export_saved_model(
        loaded.keras_model, out, class_names=names, overwrite=overwrite
    )
    click.echo(
        f"Exported {metadata['model']} to {out} (outputs: "
        f"{', '.join(metadata['outputs'])}; {metadata['sample_rate']} Hz)"
    )


@cli.command()
@click.option(
    "--data",
    required=True,
    multiple=True,
    metavar="PATH",
    help="Audio files, folders, manifests or glob patterns; repeatable.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the TFRecord shards.",
)
@click.option("--sample-rate", type=int, default=32000, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pcm16", "flac"]),
    default="pcm16",
    show_default=True,
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0.1),
    help="Centre-crop longer files to this length.",
)
@click.option(
    "--clips-per-shard", type=click.IntRange(min=1), default=1024,
    show_default=True,
)  # fmt: skip
def shard(data, out, sample_rate, fmt, max_seconds, clips_per_shard):
    """Decode audio once into TFRecord shards for fast pre-training."""
    from keras_maskspec.data import write_shards

    info = write_shards(
        list(data),
        out,
        sample_rate=sample_rate,
        format=fmt,
        max_seconds=max_seconds,
        clips_per_shard=clips_per_shard,
        verbose=1,
    )
    bad = info["bad_clips"]
    count = len(bad) if hasattr(bad, "__len__") else 0
    click.echo(
        f"Wrote {info['num_clips']} clips ({info['seconds'] / 3600:.2f} h) "
        f"to {len(info['shards'])} shard(s) in {out}"
        + (f"; skipped {count} bad file(s)" if count else "")
    )


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    default="reconstruction.png",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="PNG file.",
)
@click.option(
    "--data",
    multiple=True,
    metavar="PATH",
    help="Audio files to show.  [default: clips of the synthetic corpus]",
)
@click.option(
    "--num-clips", type=click.IntRange(1, 16), default=3, show_default=True
)
@click.option(
    "--clip-seconds",
    type=click.FloatRange(min=0.1),
    help="[default: the run's clip length]",
)
def show(run_dir, out, data, num_clips, clip_seconds):
    """Draw what a pre-trained model reconstructs, as a PNG panel.

    For each clip: the log-mel input, what the encoder sees (hidden patches
    grey), the reconstruction, and the input with the hidden patches
    filled in from the reconstruction.
    """
    import numpy as np

    from keras_maskspec.models import MaskSpecPretrainer
    from keras_maskspec.training.plotting import figure_to_array
    from keras_maskspec.training.plotting import reconstruction_figure

    model = _LoadedModel._load_run(run_dir)
    if not isinstance(model, MaskSpecPretrainer):
        raise click.UsageError(
            f"{run_dir} holds a {type(model).__name__}, not a pre-training "
            "run: `show` draws reconstructions of a pre-trained model."
        )
    encoder = model.encoder
    if clip_seconds is None:
        clip_seconds = _run_clip_seconds(run_dir)
    samples = round(clip_seconds * encoder.sample_rate)
    if data:
        from keras_maskspec.data import load_audio

        files = _audio_files(data)[:num_clips]
        clips = np.stack(
            [
                load_audio(
                    p, sample_rate=encoder.sample_rate, num_samples=samples
                )
                for p in files
            ]
        )
        titles = [os.path.basename(p) for p in files]
    else:
        from keras_maskspec.data import synthetic_corpus

        clips, labels, class_names = synthetic_corpus(
            num_clips, encoder.sample_rate, clip_seconds, seed=12345
        )
        titles = [f"synthetic clip {i}: {class_names[y]}" for i, y in
                  enumerate(labels)]  # fmt: skip
    spec, mask, recon = model.reconstruct(clips)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for i in range(len(clips)):
        fig = reconstruction_figure(
            spec,
            mask,
            recon,
            encoder.sample_rate,
            encoder.frontend.hop_length,
            index=i,
            title=titles[i],
        )
        images.append(figure_to_array(fig))
        plt.close(fig)
    width = max(im.shape[1] for im in images)
    panel = np.concatenate(
        [
            np.pad(
                im,
                [(0, 0), (0, width - im.shape[1]), (0, 0)],
                constant_values=255,
            )
            for im in images
        ]
    )
    plt.imsave(out, panel)
    click.echo(f"Wrote {out} ({len(images)} clips)")


def _run_clip_seconds(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            return float(json.load(f).get("clip_seconds", DEMO_CLIP_SECONDS))
    except (OSError, ValueError):
        return DEMO_CLIP_SECONDS


@cli.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Choice(["maskspec", "audiomae"]),
    help="Whose checkpoint: the MaskSpec or the Audio-MAE authors'.",
)
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder to write (encoder.keras, model.keras, config.json).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Class names: AudioSet's class_labels_indices.csv or one per line.",
)
@click.option(
    "--num-heads",
    type=click.IntRange(min=1),
    help="Encoder attention heads, for widths other than the paper's "
    "(192/384/768: 3/6/12 heads).",
)
@click.option("--encoder-only", is_flag=True, help="Keep only the encoder.")
def convert(source, checkpoint, out, labels, num_heads, encoder_only):
    """Convert an authors' PyTorch checkpoint (.pth) into a run folder.

    The weights are mapped by name and checked by shape; the converted
    model's outputs match the PyTorch model's on the same waveform.
    """
    from keras_maskspec.convert import convert_to_run_dir

    kwargs = {"encoder_only": True} if encoder_only else {}
    if num_heads is not None:
        kwargs["num_heads"] = num_heads
    model = convert_to_run_dir(checkpoint, source, out, labels=labels, **kwargs)
    click.echo(f"Converted {checkpoint} to {type(model).__name__} in {out}")


def main(argv=None):
    """Entry point of the `maskspec` console script.

    Args:
        argv: list of str or `None` (the process arguments).

    Examples:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Usage: maskspec [OPTIONS] COMMAND [ARGS]...
    ...
    """
    # TensorFlow's C++ start-up chatter is noise in a shell tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        cli.main(args=argv, prog_name="maskspec", standalone_mode=True)
    except SystemExit as exc:
        if argv is None or exc.code:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
