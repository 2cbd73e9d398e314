"""`maskspec embed`: scene and frame embeddings of audio files, to .npz."""

import click

from keras_maskspec.cli._common import LoadedModel
from keras_maskspec.cli._common import input_clips
from keras_maskspec.cli._common import model_option
from keras_maskspec.cli._common import window_seconds_option


@click.command()
@model_option("A run folder, a .keras file or a SavedModel export folder.")
@click.argument("inputs", nargs=-1, required=True, metavar="FILES_OR_DIR...")
@click.option(
    "--out",
    default="embeddings.npz",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Output .npz file.",
)
@window_seconds_option(
    "Long files are embedded in back-to-back windows of this length "
    "(the last one flush with the end of the file)."
)
def embed(model_path, inputs, out, window_seconds):
    """Scene and per-frame embeddings of audio files, to an .npz file.

    \b
    The .npz holds:
      files            (n,)        the input paths
      scene            (n, D)      one embedding per file (mean over
                                   windows)
      frame_embeddings (total, D)  one per time patch (160 ms), all files
      frame_times      (total,)    centre of each frame, seconds
      frame_offsets    (n + 1,)    file i owns rows offsets[i]:offsets[i+1]
    """
    import numpy as np

    from keras_maskspec.inference import clip_embeddings

    loaded = LoadedModel(model_path)
    names, scenes, frames, times, offsets = [], [], [], [], [0]
    clips = input_clips(loaded, inputs, "Embedding")
    for path, waveform in clips:
        result = clip_embeddings(
            loaded.model, waveform, window_seconds, times=loaded.frame_times
        )
        names.append(path)
        scenes.append(result["embedding"])
        frames.append(result["frame_embeddings"])
        times.append(result["frame_times"])
        offsets.append(offsets[-1] + len(result["frame_times"]))
    scene = np.stack(scenes).astype("float32")
    np.savez(
        out,
        files=np.asarray(names),
        scene=scene,
        frame_embeddings=np.concatenate(frames).astype("float32"),
        frame_times=np.concatenate(times),
        frame_offsets=np.asarray(offsets, "int64"),
    )
    click.echo(
        f"Wrote {out}: {len(names)} files, scene {scene.shape}, "
        f"{offsets[-1]} frames"
    )
