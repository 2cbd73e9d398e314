"""Audio files, a fine-tuned run and its export, shared by the CLI tests."""

import numpy as np
import pytest
import soundfile as sf

from keras_maskspec import MaskSpecClassifier
from keras_maskspec import MaskSpecEncoder
from tests.cli.helpers import LABELS
from tests.cli.helpers import run
from tests.test_case import tone_batch


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    clips = tone_batch(2, 1.0, sample_rate=16000)
    for i, clip in enumerate(clips):
        sf.write(str(folder / f"clip{i}.wav"), clip, 16000)
    # A 3.5 s file: several windows in predict/embed.
    long = tone_batch(1, 3.5, sample_rate=32000, seed=3)[0]
    sf.write(str(folder / "long.flac"), long, 32000)
    return folder


@pytest.fixture(scope="session")
def classifier_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finetuned")
    encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=1)
    model = MaskSpecClassifier(encoder, num_classes=3, seed=1)
    rng = np.random.default_rng(0)
    model.head.set_weights(
        [rng.normal(size=w.shape) for w in model.head.get_weights()]
    )
    model.save(str(folder / "model.keras"))
    encoder.save(str(folder / "encoder.keras"))
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return folder


@pytest.fixture(scope="session")
def exported(classifier_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "1"
    result = run("export", "--model", classifier_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Exported MaskSpecClassifier" in result.output
    return out
