"""`maskspec pretrain`: masked spectrogram pre-training."""

import json
import os

import click

from keras_maskspec.cli._common import banner
from keras_maskspec.cli._common import err
from keras_maskspec.cli._common import one_line
from keras_maskspec.cli._common import print_run_sizes
from keras_maskspec.cli.overrides import parse_overrides
from keras_maskspec.cli.overrides import set_option

# The demo `maskspec pretrain` runs without --data: the test-sized model on
# the built-in corpus, 64 steps (4 passes, a new random mask each time) at a
# demo learning rate, so that one epoch shows the loss falling (1.2 -> 0.8)
# in about a minute on 2 CPU cores, most of it start-up and graph building.
DEMO_NUM_CLIPS = 256
DEMO_CLIP_SECONDS = 2.0
DEMO_PRESET = "maskspec_test"
DEMO_STEPS = 64
DEMO_LEARNING_RATE = 2e-3
DEMO_WARMUP_EPOCHS = 0.1
DEFAULT_BATCH_SIZE = 16
PRESETS = (
    "maskspec_test",
    "maskspec_tiny",
    "maskspec_small",
    "maskspec_base",
    "audiomae_base",
)


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
    help=f"Model size.  [default: {DEMO_PRESET} on the built-in corpus, "
    "else maskspec_tiny]",
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
    "model.keras, encoder.keras. If it holds a run, that run continues (a "
    "larger --epochs extends a finished one); a folder with other files is "
    "refused.",
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
    hidden=True,
    help="Accepted for compatibility: a run in --out always continues.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Start over: move the run in --out aside to <out>.old-<time> "
    "(nothing is deleted).",
)
@click.option(
    "--keep-checkpoints",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Newest checkpoints kept in --out/checkpoints.",
)
@click.option(
    "--keep-checkpoint-every",
    type=click.IntRange(min=1),
    help="Also keep (pin) every K-th epoch's checkpoint.",
)
@click.option(
    "--save-optimizer",
    is_flag=True,
    help="Keep the optimizer state in the final model.keras (the "
    "checkpoints always have it).",
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
    restart,
    keep_checkpoints,
    keep_checkpoint_every,
    save_optimizer,
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
    from keras_maskspec.training import run_dir as run_dir_lib
    from keras_maskspec.training.config import PretrainConfig

    overrides = parse_overrides(sets)
    if config_path is not None:
        config = _read_config(PretrainConfig, config_path)
    else:
        config = PretrainConfig(
            preset="maskspec_tiny",
            batch_size=DEFAULT_BATCH_SIZE,
            clip_seconds=10.0,
        )
        if not data:
            config = config.replace(
                preset=DEMO_PRESET,
                clip_seconds=DEMO_CLIP_SECONDS,
                steps_per_epoch=DEMO_STEPS,
                learning_rate=DEMO_LEARNING_RATE,
                warmup_epochs=DEMO_WARMUP_EPOCHS,
                # The cosine ends with the demo (not on the paper's
                # 400-epoch horizon), so its learning rate decays too.
                schedule_epochs=None,
                # XLA compilation outlasts the demo's few steps.
                jit_compile=False,
                # Statistics of the synthetic clips themselves: AudioSet's
                # table does not fit them (its empty top mel bins would
                # multiply the clips' energy there by ~23; issue 17).
                frame_stats="train",
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
        "checkpoint_every": keep_checkpoint_every,
    }
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = config.replace(**overrides)
    # The data is read at the front end's rate (16 kHz for audiomae_base).
    sample_rate = config.audio_sample_rate()
    # Refuse a folder of the user's own files before any work; a run
    # there continues (or, with --restart, is moved aside first).
    run_dir_lib.check_run_dir(out)
    if restart and run_dir_lib.is_run_dir(out):
        err(f"Moved the previous run to {run_dir_lib.move_aside(out)}")
    done = run_dir_lib.finished_epochs(out)

    if data:
        from keras_maskspec.data import BadClipReport
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

        # One report for every epoch's pipeline: the run prints it after
        # each epoch and keeps `bad_clips.csv` in the run folder.
        report = BadClipReport()

        def train_data(epoch):
            return pretraining_dataset(
                list(data),
                sample_rate=sample_rate,
                clip_seconds=config.clip_seconds,
                batch_size=config.batch_size,
                seed=config.seed + epoch,
                training=True,
                report=report,
                crop=config.data_crop(),
            )

        train_data.bad_clip_report = report
        # Un-augmented clips for `frame_stats="train"` (one pass, capped at
        # `stats_max_clips`) and for the check that fixed statistics fit.
        stats_data = pretraining_dataset(
            list(data),
            sample_rate=sample_rate,
            clip_seconds=config.clip_seconds,
            batch_size=config.batch_size,
            seed=config.seed,
            training=False,
            report=BadClipReport(),
            crop=config.data_crop(),
        )

        described = f"{len(files)} {kind} from {', '.join(data)}"
    else:
        from keras_maskspec.data import synthetic_corpus

        stats_data = None  # the arrays themselves

        train_data, _, _ = synthetic_corpus(
            num_clips,
            sample_rate=sample_rate,
            clip_seconds=config.clip_seconds,
            seed=config.seed,
        )
        described = (
            f"built-in synthetic corpus: {num_clips} clips of "
            f"{config.clip_seconds:g} s at {sample_rate} Hz"
        )
    banner("pretrain", config.preset, described, out)
    state = f"continuing after epoch {done}" if done else "new run"
    err(
        f"{config.epochs} epoch(s), batch {config.batch_size}, {state} in {out}"
    )
    from keras_maskspec.training import pretrain as run_pretrain

    model = run_pretrain(
        config,
        train_data,
        out,
        keep_checkpoints=keep_checkpoints,
        save_optimizer=save_optimizer,
        stats_data=stats_data,
    )
    examples = files[:3] if data and kind == "files" else ()
    pictures = _draw_pictures(model, out, examples, config.clip_seconds)
    print_run_sizes(out)
    click.echo(f"Done. Encoder: {os.path.join(out, 'encoder.keras')}")
    for path in pictures:
        click.echo(f"Picture: {path}")


def _draw_pictures(model, out, files, clip_seconds):
    """`reconstruction.png` (the first audio files of --data, or 3
    synthetic clips the demo did not train on) and `loss.png` in the run
    folder; their paths."""
    from keras_maskspec.cli.show import example_clips
    from keras_maskspec.training.plotting import plot_loss
    from keras_maskspec.training.plotting import plot_model_reconstructions

    clips, titles = example_clips(
        files, 3, model.encoder.sample_rate, clip_seconds
    )
    paths = [os.path.join(out, "reconstruction.png")]
    plot_model_reconstructions(model, clips, paths[0], titles=titles)
    if os.path.isfile(os.path.join(out, "steps.csv")):
        paths.append(plot_loss(out, path=os.path.join(out, "loss.png")))
    return paths


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
