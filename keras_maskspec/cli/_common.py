"""What several commands share: one-line errors, `--model` and audio input."""

import os

import click

from keras_maskspec.utils.cpus import usable_cpu_count


def one_line(exc):
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


def err(message):
    """Prints to stderr (stdout stays clean for --json)."""
    click.echo(message, err=True)


def progress(items, label):
    """A click progress bar on stderr."""
    return click.progressbar(
        items,
        label=label,
        file=click.get_text_stream("stderr"),
        show_pos=True,
    )


def read_label_file(path):
    """Class names, one per non-empty line."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def get_recipe(name):
    """The recipe `name`, or a `--recipe` usage error listing them."""
    from keras_maskspec.recipes import RECIPES

    if name not in RECIPES:
        raise click.BadParameter(
            f"unknown recipe {name!r}; choose one of "
            f"{', '.join(sorted(RECIPES))}.",
            param_hint="--recipe",
        )
    return RECIPES[name]


def model_option(help_text):
    """The required `--model` option, passed on as `model_path`.

    Examples:
    >>> from click.testing import CliRunner
    >>> @click.command()
    ... @model_option("A run folder.")
    ... def show(model_path):
    ...     click.echo(model_path)
    >>> CliRunner().invoke(show, ["--model", "runs/a"]).output
    'runs/a\\n'
    """
    return click.option("--model", "model_path", required=True, help=help_text)


def window_seconds_option(help_text):
    """The `--window-seconds` option (default 10 s) of inference commands.

    Examples:
    >>> from click.testing import CliRunner
    >>> @click.command()
    ... @window_seconds_option("Window length.")
    ... def show(window_seconds):
    ...     click.echo(window_seconds)
    >>> CliRunner().invoke(show, []).output
    '10.0\\n'
    """
    return click.option(
        "--window-seconds",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help=help_text,
    )


class LoadedModel:
    """A model given as --model: a run folder, a `.keras` file or an export.

    Keras models load through `keras_maskspec.training.run_dir.load_model`;
    SavedModel exports through `tf.saved_model.load`.
    """

    def __init__(self, path, labels=None):
        path = os.fspath(path)
        self.path = path
        self.export = None
        self.keras_model = None
        self.class_names = None
        if not os.path.exists(path):
            raise click.BadParameter(
                f"no such file or folder: {path}", param_hint="--model"
            )
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            import tensorflow as tf

            from keras_maskspec.export import load_metadata

            self.export = tf.saved_model.load(path)
            self.metadata = load_metadata(path)
            self.sample_rate = int(self.metadata["sample_rate"])
            self.outputs = list(self.metadata["outputs"])
            self.class_names = self.metadata.get("class_names")
        else:
            from keras_maskspec.inference import base_model
            from keras_maskspec.inference import encoder_of
            from keras_maskspec.inference import inference_model
            from keras_maskspec.training.run_dir import load_model

            if not os.path.isdir(path) and not path.endswith(".keras"):
                raise click.BadParameter(
                    "expected a run folder, a .keras file or a SavedModel "
                    f"export folder. Received: {path}",
                    param_hint="--model",
                )
            self.keras_model = base_model(load_model(path))
            self.infer = inference_model(self.keras_model)
            label_file = os.path.join(path, "labels.txt")
            if os.path.isdir(path) and os.path.isfile(label_file):
                self.class_names = read_label_file(label_file)
            self.sample_rate = int(encoder_of(self.keras_model).sample_rate)
            self.outputs = sorted(self.infer.output)
        if labels is not None:
            self.class_names = read_label_file(labels)

    @property
    def model(self):
        """What `inference.sliding_window_inference` takes."""
        return self.export if self.export is not None else self.infer

    @property
    def has_scores(self):
        return "probabilities" in self.outputs

    def frame_times(self, count):
        """Centre times (s) of `count` frame embeddings within a window."""
        if self.keras_model is not None:
            from keras_maskspec.inference import frame_times

            return frame_times(self.keras_model, count)
        import numpy as np

        step = float(self.metadata["frame_seconds"])
        # Exports of this package use 16-frame patches of 10 ms: centre 75 ms.
        return 7.5 * step / 16.0 + step * np.arange(count)

    def names(self, num_classes):
        """The class names, checked against the model's output count."""
        names = self.class_names
        if names is None:
            return [f"class_{i}" for i in range(num_classes)]
        if len(names) != num_classes:
            raise click.UsageError(
                f"{len(names)} labels for a model with {num_classes} "
                "outputs; check --labels."
            )
        return list(names)


def audio_files(paths):
    """Audio files of files, folders, manifests or patterns (no shards)."""
    from keras_maskspec.data import resolve_sources

    kind, files = resolve_sources(list(paths))
    if kind != "files":
        raise click.UsageError(
            "expected audio files or folders, not TFRecord shards."
        )
    return files


def input_clips(loaded, paths, label):
    """`load_clips` of the audio files in `paths`, at `loaded`'s rate."""
    return load_clips(audio_files(paths), loaded.sample_rate, label)


def load_clips(files, sample_rate, label):
    """Yields `(path, waveform)`, warning about (and skipping) bad files.

    `waveform` is an `AudioFileWindows`: a long file is read window by
    window as inference slices it, never whole.
    """
    from keras_maskspec.data import AudioFileWindows
    from keras_maskspec.data import AudioReadError

    skipped = []
    with progress(files, label) as bar:
        for path in bar:
            try:
                yield path, AudioFileWindows(path, sample_rate=sample_rate)
            except AudioReadError as exc:
                skipped.append(path)
                err(f"\nSkipped {path}: {one_line(exc)}")
    if skipped and len(skipped) == len(files):
        raise click.ClickException("no readable audio file.")


def device_summary():
    """The devices the Keras backend computes on, in a few words."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            devices = jax.devices()
            kind = devices[0].platform.upper()
            return f"{len(devices)} {kind}" if len(devices) > 1 else kind
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU ({torch.cuda.get_device_name(0)})"
            return f"CPU ({usable_cpu_count()} cores)"
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return f"{len(gpus)} GPU"
    except Exception:  # a banner never stops a run
        pass
    return f"CPU ({usable_cpu_count()} cores)"


def banner(command, preset, data, out):
    """Our one start-up line: backend, device, preset, data, run folder."""
    import keras

    err(
        f"maskspec {command} | backend {keras.backend.backend()} | device "
        f"{device_summary()} | preset {preset} | data {data} | run {out}"
    )


def human_size(num_bytes):
    """`1536` -> `'1.5 KB'`."""
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def print_run_sizes(run_dir):
    """Prints the size of each artefact of a run folder and the total."""
    from keras_maskspec.training.run_dir import artefact_sizes

    sizes = artefact_sizes(run_dir)
    total = sum(size for _, size in sizes)
    parts = ", ".join(f"{name} {human_size(size)}" for name, size in sizes)
    err(f"Run folder {run_dir}: {human_size(total)} ({parts})")
