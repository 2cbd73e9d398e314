"""`maskspec export`: a SavedModel that serves raw audio."""

import click

from keras_maskspec.cli._common import LoadedModel


@click.command()
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

    loaded = LoadedModel(model_path, labels=labels)
    if loaded.export is not None:
        raise click.UsageError(f"{model_path} is already a SavedModel export.")
    names = loaded.class_names if loaded.has_scores else None
    metadata = export_saved_model(
        loaded.keras_model, out, class_names=names, overwrite=overwrite
    )
    click.echo(
        f"Exported {metadata['model']} to {out} (outputs: "
        f"{', '.join(metadata['outputs'])}; {metadata['sample_rate']} Hz)"
    )
