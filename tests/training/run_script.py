"""Training runs the tests start in subprocesses (not a test module).

Usage: python run_script.py MODE RUN_DIR [EPOCHS]

- `resume`: a slow tiny pre-training run (sleeps per batch) that logs every
  epoch it begins to RUN_DIR/../epochs_begun.txt; the test SIGKILLs it.
- `mirrored`: pre-training under MirroredStrategy on 2 logical CPUs.
- `jax_data_parallel`: pre-training under keras.distribution.DataParallel.
- `multiworker`: one worker of a MultiWorkerMirroredStrategy run (TF_CONFIG
  set by the test).
"""

import os
import sys
import time

import numpy as np


def main():
    MODE, RUN_DIR = sys.argv[1], sys.argv[2]
    EPOCHS = int(sys.argv[3]) if len(sys.argv) > 3 else 2

    if MODE == "mirrored":
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
        "jax_data_parallel": "auto",
        "multiworker": "multiworker",
    }[MODE]

    config = PretrainConfig(
        preset="maskspec_test",
        batch_size=4,
        epochs=EPOCHS,
        warmup_epochs=1,
        jit_compile=False,
        strategy=STRATEGY,
        image_every=0,
        verbose=0,
    )
    audio = np.random.default_rng(0).normal(size=(8, 16000)).astype("float32")

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with open(os.path.join(RUN_DIR + "_epochs_begun.txt"), "a") as f:
                f.write(f"{epoch}\n")

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(float(os.environ.get("BATCH_SLEEP", "0")))

    if MODE == "resume":
        import keras_maskspec.training.run as run

        original = run._common_callbacks

        def with_log(*args, **kwargs):
            checkpoint, before, loggers = original(*args, **kwargs)
            return checkpoint, [EpochLog(), *before], loggers

        run._common_callbacks = with_log

    print("replicas", num_replicas(get_strategy(STRATEGY)), flush=True)
    model = pretrain(config, audio, RUN_DIR)
    weights = np.concatenate([np.ravel(w) for w in model.get_weights()])
    task = os.environ.get("TASK_INDEX", "0")
    np.save(f"{RUN_DIR}_weights_{task}.npy", weights)
    iterations = keras.ops.convert_to_numpy(model.optimizer.iterations)
    print("done", int(iterations), flush=True)


if __name__ == "__main__":
    main()
