"""`maskspec pretrain`: masked spectrogram pre-training."""

import json
import os

import click

from keras_maskspec.cli._common import err
from keras_maskspec.cli._common import one_line
from keras_maskspec.cli.overrides import parse_overrides
from keras_maskspec.cli.overrides import set_option

# The built-in corpus `maskspec pretrain` uses without --data: small enough
# for one epoch of the tiny preset in a couple of minutes on 2 CPU cores.
DEMO_NUM_CLIPS = 64
DEMO_CLIP_SECONDS = 2.0
DEFAULT_BATCH_SIZE = 16
PRESETS = ("maskspec_tiny", "maskspec_small", "maskspec_base")


@click.command()
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
@set_option(
    "Override any PretrainConfig field, e.g. --set mask_ratio=0.8 or "
    "--set encoder_overrides='{\"num_layers\": 2}'."
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

    overrides = parse_overrides(sets)
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
    if os.path.isfile(os.path.join(out, "config.json")) and not resume:
        raise click.UsageError(
            f"{out} already holds a run: pass --resume to continue it, or "
            "choose another --out."
        )

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

        err(f"Pre-training on {len(files)} {kind} from {', '.join(data)}")
    else:
        from keras_maskspec.data import synthetic_corpus

        train_data, _, _ = synthetic_corpus(
            num_clips,
            sample_rate=config.sample_rate,
            clip_seconds=config.clip_seconds,
            seed=config.seed,
        )
        err(
            f"Pre-training on the built-in synthetic corpus: {num_clips} "
            f"clips of {config.clip_seconds:g} s at {config.sample_rate} Hz"
        )
    err(
        f"Model {config.preset}, {config.epochs} epoch(s), batch "
        f"{config.batch_size}, run folder {out}"
    )
    from keras_maskspec.training import pretrain as run_pretrain

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
            f"{path}: {one_line(exc)}", param_hint="--config"
        ) from None
