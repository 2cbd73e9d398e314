"""`maskspec export`."""

from tests.cli.helpers import assert_one_line_error
from tests.cli.helpers import run


def test_classifier_export(exported):
    assert (exported / "saved_model.pb").exists()


def test_encoder_export_has_no_scores(classifier_run, audio_dir, tmp_path):
    out = tmp_path / "enc" / "1"
    result = run(
        "export", "--model", classifier_run / "encoder.keras", "--out", out
    )
    assert result.exit_code == 0, result.output
    assert "MaskSpecEncoder" in result.output
    predicted = run("predict", "--model", out, audio_dir / "clip0.wav")
    assert_one_line_error(predicted, "without a classifier head")
