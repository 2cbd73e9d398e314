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
@click.option(
    "--frame-stats",
    help="MaskSpec's per-mel-bin statistics: the authors' "
    "mean_std_128.npy, a frame_stats.npz/JSON file, or 'audioset' (read "
    "without running any code in the file).",
)
@click.option("--encoder-only", is_flag=True, help="Keep only the encoder.")
@click.option(
    "--to",
    "layout",
    type=click.Choice(["run", "preset"]),
    default="run",
    show_default=True,
    help="run: a run folder (encoder.keras, model.keras, config.json) for "
    "maskspec's commands; preset: a keras-hub style preset folder "
    "(config.json, model.weights.h5, metadata.json) that "
    "MaskSpecEncoder/MaskSpecClassifier.from_preset(FOLDER) loads.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a previous conversion in --out (otherwise a non-empty "
    "--out is an error).",
)
def convert(
    source,
    checkpoint,
    out,
    labels,
    num_heads,
    frame_stats,
    encoder_only,
    layout,
    overwrite,
):
    """Convert an authors' PyTorch checkpoint (.pth) into a run folder,
    or (--to preset) a keras-hub style preset folder for `from_preset`.

    The weights are mapped by name and checked by shape; the converted
    model's outputs match the PyTorch model's on the same waveform.
    """
    from keras_maskspec.convert import convert_to_preset
    from keras_maskspec.convert import convert_to_run_dir

    kwargs = {"encoder_only": True} if encoder_only else {}
    if num_heads is not None:
        kwargs["num_heads"] = num_heads
    if frame_stats is not None:
        kwargs["frame_stats"] = frame_stats
    write = convert_to_preset if layout == "preset" else convert_to_run_dir
    model = write(
        checkpoint, source, out, labels=labels, overwrite=overwrite, **kwargs
    )
    click.echo(
        f"Converted {checkpoint} to {type(model).__name__} in {out}"
        + (" (preset folder)" if layout == "preset" else "")
    )
