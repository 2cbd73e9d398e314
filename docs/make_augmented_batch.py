"""Draws `docs/augmented_batch.png`: one augmented training batch.

What a fine-tuning recipe feeds the model: synthetic 5 s clips (the
package's test corpus) through `classification_dataset` with the ESC-50
recipe's waveform augmentation (integer gain -7..6 dB, extra augment, roll
+-50 samples on the 10 s buffer, waveform mixup with a partner from the
whole set, Beta(2, 2), rate 0.5), drawn by `plot_augmented_batch` with the
default front end. Recipes write the same picture of their own first batch
to TensorBoard (`data/augmented_batch`) and `<run>/augmented_batch.png`.

Run from the repository root: `python docs/make_augmented_batch.py`.
"""

import os
import tempfile

from keras_maskspec.data import classification_dataset
from keras_maskspec.data import synthetic
from keras_maskspec.layers import LogMelSpectrogram
from keras_maskspec.training.plotting import plot_augmented_batch

HERE = os.path.dirname(os.path.abspath(__file__))


def main(path=os.path.join(HERE, "augmented_batch.png"), clips=6):
    folder = tempfile.mkdtemp(prefix="augmented_batch_")
    manifest = synthetic.write_synthetic_corpus(
        folder, num_clips=14, sample_rate=32000, clip_seconds=5.0
    )
    ds = classification_dataset(
        manifest,
        num_classes=len(synthetic.CLASS_NAMES),
        sample_rate=32000,
        clip_seconds=5.0,
        batch_size=clips,
        seed=0,
        mixup_rate=0.5,
        mixup_alpha=2.0,
        gain_db=7,
        roll_samples=50,
        extra_augment=True,
        container_seconds=10.0,
    )
    waveforms, labels = next(iter(ds))
    return plot_augmented_batch(
        waveforms.numpy(),
        LogMelSpectrogram(),
        labels.numpy(),
        path,
        class_names=list(synthetic.CLASS_NAMES),
        title="one augmented training batch (ESC-50 recipe augmentation)",
    )


if __name__ == "__main__":
    print(main())
