"""`maskspec show`: a picture of what a pre-trained model reconstructs."""

import json
import os

import click

from keras_maskspec.cli._common import audio_files
from keras_maskspec.cli.pretrain import DEMO_CLIP_SECONDS


@click.command()
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
@click.option(
    "--view",
    type=click.Choice(["denormalised", "raw"]),
    default="denormalised",
    show_default=True,
    help="denormalised: each predicted patch rescaled with the true "
    "patch's mean and spread (MAE's pictures); raw: the model's output as "
    "it is, beside the per-patch normalised target.",
)
def show(run_dir, out, data, num_clips, clip_seconds, view):
    """Draw what a pre-trained model reconstructs, as a PNG panel.

    For each clip: the log-mel input, what the encoder sees (hidden patches
    grey), the reconstruction, and the input with the hidden patches
    filled in from the reconstruction. A note on the picture says what
    comes from the input and what from the model (with normalised targets
    the default view borrows every patch's mean and spread from the input;
    --view raw shows the prediction alone).
    """
    from keras_maskspec.models import MaskSpecPretrainer
    from keras_maskspec.training.plotting import plot_model_reconstructions
    from keras_maskspec.training.run_dir import load_model

    model = load_model(run_dir)
    if not isinstance(model, MaskSpecPretrainer):
        raise click.UsageError(
            f"{run_dir} holds a {type(model).__name__}, not a pre-training "
            "run: `show` draws reconstructions of a pre-trained model."
        )
    encoder = model.encoder
    if clip_seconds is None:
        clip_seconds = _run_clip_seconds(run_dir)
    clips, titles = example_clips(
        data, num_clips, encoder.sample_rate, clip_seconds
    )
    plot_model_reconstructions(model, clips, out, titles=titles, view=view)
    click.echo(f"Wrote {out} ({len(clips)} clips, {view} view)")


def example_clips(data, num_clips, sample_rate, clip_seconds):
    """Clips to draw: the first audio files of `data`, or (without data)
    synthetic clips the demo run never trained on (seed 12345).

    Returns:
        `(clips, titles)`: an array `(num_clips, samples)` and one title
        per clip.

    Examples:
    >>> clips, titles = example_clips((), 2, 16000, 0.5)
    >>> clips.shape, titles[1]
    ((2, 8000), 'held-out synthetic clip 1: chord')
    """
    import numpy as np

    samples = round(clip_seconds * sample_rate)
    if data:
        from keras_maskspec.data import load_audio

        files = audio_files(data)[:num_clips]
        clips = np.stack(
            [
                load_audio(p, sample_rate=sample_rate, num_samples=samples)
                for p in files
            ]
        )
        return clips, [os.path.basename(p) for p in files]
    from keras_maskspec.data import synthetic_corpus

    clips, labels, class_names = synthetic_corpus(
        num_clips, sample_rate, clip_seconds, seed=12345
    )
    titles = [f"held-out synthetic clip {i}: {class_names[y]}" for i, y in
              enumerate(labels)]  # fmt: skip
    return clips, titles


def _run_clip_seconds(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            return float(json.load(f).get("clip_seconds", DEMO_CLIP_SECONDS))
    except (OSError, ValueError):
        return DEMO_CLIP_SECONDS
