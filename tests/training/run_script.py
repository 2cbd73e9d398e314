"""Training runs the tests start in subprocesses (not a test module).

Usage: python run_script.py MODE RUN_DIR [EPOCHS]

- `resume`: a slow tiny pre-training run (sleeps per batch) that logs every
  epoch it begins to RUN_DIR/../epochs_begun.txt; the test SIGKILLs it, or
  it SIGKILLs itself where `KILL_AT` says: `data:N` (epoch N's checkpoint
  file written, not yet renamed), `metadata:N` (renamed, metadata not yet
  switched) or `batch:N` (after the first batch of epoch N).
- `mirrored`: pre-training under MirroredStrategy on 2 logical CPUs.
- `mirrored_finetune`: fine-tuning with both mixups (the pipeline's
  waveform mixup and the model's spectrogram mixup) under the same.
- `jax_data_parallel`: pre-training under keras.distribution.DataParallel.
- `multiworker`: one worker of a MultiWorkerMirroredStrategy run (TF_CONFIG
  set by the test).
"""

import json
import os
import signal
import sys
import time

import numpy as np


def main():
    MODE, RUN_DIR = sys.argv[1], sys.argv[2]
    EPOCHS = int(sys.argv[3]) if len(sys.argv) > 3 else 2

    if MODE in ("mirrored", "mirrored_finetune"):
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )

    import keras

    from keras_maskspec.training import PretrainConfig
    from keras_maskspec.training import get_strategy
    from keras_maskspec.training import num_replicas
    from keras_maskspec.training import pretrain

    STRATEGY = {
        "resume": "none",
        "mirrored": "mirrored",
        "mirrored_finetune": "mirrored",
        "jax_data_parallel": "auto",
        "multiworker": "multiworker",
    }[MODE]

    config = PretrainConfig(
        preset="maskspec_test",
        batch_size=4,
        epochs=EPOCHS,
        # The schedule ends with the run (not the paper's 400-epoch horizon)
        # so the resume tests can check the lr reaches its floor.
        schedule_epochs=EPOCHS,
        min_learning_rate=1e-6,
        warmup_epochs=1,
        jit_compile=False,
        strategy=STRATEGY,
        image_every=0,
        verbose=0,
    )
    audio = np.random.default_rng(0).normal(size=(8, 16000)).astype("float32")
    if MODE == "mirrored_finetune":
        from keras_maskspec.training import FinetuneConfig
        from keras_maskspec.training import finetune

        ft_config = FinetuneConfig(
            preset="maskspec_test", num_classes=2, multi_label=False,
            batch_size=4, epochs=EPOCHS, warmup_epochs=1, jit_compile=False,
            strategy=STRATEGY, mixup_alpha=0.3, mixup_rate=1.0, patchout=0,
            extra_augment=False, image_every=0, verbose=0,
        )  # fmt: skip
        print("replicas", num_replicas(get_strategy(STRATEGY)), flush=True)
        labels = np.array([0, 1] * 4)
        model = finetune(ft_config, None, (audio, labels), RUN_DIR)
        weights = np.concatenate([np.ravel(w) for w in model.get_weights()])
        assert np.isfinite(weights).all()
        iterations = keras.ops.convert_to_numpy(model.optimizer.iterations)
        print("done", int(iterations), flush=True)
        return

    point, _, kill_epoch = os.environ.get("KILL_AT", "").partition(":")
    kill_epoch = int(kill_epoch or 0)

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            with open(os.path.join(RUN_DIR + "_epochs_begun.txt"), "a") as f:
                f.write(f"{epoch}\n")

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(float(os.environ.get("BATCH_SLEEP", "0")))
            if point == "batch" and self.epoch + 1 == kill_epoch:
                die()

    from keras_maskspec.training import callbacks as cbs

    if point == "data":
        write = cbs.RunCheckpoint._write_weights

        def write_then_die(self, path):
            write(self, path)
            if self._current_epoch == kill_epoch:
                die()

        cbs.RunCheckpoint._write_weights = write_then_die
    if point == "metadata":
        write_text = cbs.atomic_write_text

        def die_before_metadata(path, text):
            if path.endswith("training_metadata.json"):
                if json.loads(text)["epoch"] == kill_epoch:
                    die()
            write_text(path, text)

        cbs.atomic_write_text = die_before_metadata

    if MODE == "resume":
        import keras_maskspec.training.run as run

        original = run._common_callbacks

        def with_log(*args, **kwargs):
            checkpoint, before, loggers = original(*args, **kwargs)
            return checkpoint, [EpochLog(), *before], loggers

        run._common_callbacks = with_log

    strategy = get_strategy(STRATEGY)
    if MODE == "multiworker":
        # One cluster rendezvous per process: `pretrain` gets this strategy.
        assert get_strategy(STRATEGY) is strategy
    print("replicas", num_replicas(strategy), flush=True)
    model = pretrain(config, audio, RUN_DIR)
    weights = np.concatenate([np.ravel(w) for w in model.get_weights()])
    task = os.environ.get("TASK_INDEX", "0")
    np.save(f"{RUN_DIR}_weights_{task}.npy", weights)
    iterations = keras.ops.convert_to_numpy(model.optimizer.iterations)
    print("done", int(iterations), flush=True)


if __name__ == "__main__":
    main()
