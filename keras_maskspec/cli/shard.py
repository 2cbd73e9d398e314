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
