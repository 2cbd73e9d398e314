"""`maskspec predict`: top labels of audio files."""

import json

import click

from keras_maskspec.cli._common import LoadedModel
from keras_maskspec.cli._common import input_clips
from keras_maskspec.cli._common import model_option
from keras_maskspec.cli._common import window_seconds_option


@click.command()
@model_option("A SavedModel export folder (or a fine-tuned run folder).")
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
@window_seconds_option(
    "Longer files are scored in overlapping windows of this length "
    "(hop: half a window) and the window probabilities averaged."
)
def predict(model_path, files, top_k, as_json, labels, window_seconds):
    """Top labels with probabilities for audio files."""
    from keras_maskspec.inference import sliding_window_inference

    loaded = LoadedModel(model_path, labels=labels)
    if not loaded.has_scores:
        raise click.UsageError(
            f"{model_path} is an encoder without a classifier head; use "
            "`maskspec embed` for its embeddings."
        )
    results = []
    for path, waveform in input_clips(loaded, files, "Predicting"):
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
