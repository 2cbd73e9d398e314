"""`maskspec shard`: decode audio once into TFRecord shards."""

import click


@click.command()
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
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace shards already in --out. Without it they are refused; "
    "an interrupted run of the same command resumes either way.",
)
def shard(data, out, sample_rate, fmt, max_seconds, clips_per_shard,
          overwrite):  # fmt: skip
    """Decode audio once into TFRecord shards for fast pre-training.

    Each shard is written under a temporary name and renamed when whole;
    after a kill, the same command keeps the finished shards and writes the
    rest (no clip twice).
    """
    from keras_maskspec.data import write_shards

    try:
        info = write_shards(
            list(data),
            out,
            sample_rate=sample_rate,
            format=fmt,
            max_seconds=max_seconds,
            clips_per_shard=clips_per_shard,
            verbose=1,
            overwrite=overwrite,
        )
    except FileExistsError as exc:
        raise click.UsageError(str(exc)) from None
    count = info["bad_clips"].count
    click.echo(
        f"Wrote {info['num_clips']} clips ({info['seconds'] / 3600:.2f} h) "
        f"to {len(info['shards'])} shard(s) in {out}"
        + (f"; skipped {count} bad file(s)" if count else "")
    )
