"""`maskspec convert`: an authors' PyTorch checkpoint into a run folder."""

import click


@click.command()
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
