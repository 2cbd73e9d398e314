import keras
import pytest

from keras_maskspec.data import bad_clips


def test_report_counts_reasons_and_keeps_first_paths():
    report = bad_clips.BadClipReport(max_examples=2)
    for i in range(5):
        report.record(f"clip{i}.wav".encode(), bad_clips.NOT_AUDIO)
    report.record("nan.wav", bad_clips.NON_FINITE)
    assert report.count == 6
    assert report.counts_by_reason() == {
        bad_clips.NOT_AUDIO: 5,
        bad_clips.NON_FINITE: 1,
    }
    assert [p for p, _ in report.examples] == ["clip0.wav", "clip1.wav"]
    assert "6 bad clips" in report.summary() and "clip1.wav" in repr(report)
    report.reset()
    assert report.count == 0 and report.summary() == "0 bad clips skipped"


def test_report_rejects_negative_examples():
    with pytest.raises(ValueError, match="max_examples=-1"):
        bad_clips.BadClipReport(max_examples=-1)


def test_logger_prints_and_resets_each_epoch():
    report = bad_clips.BadClipReport()
    lines = []
    logger = bad_clips.BadClipLogger(report, print_fn=lines.append)
    assert isinstance(logger, keras.callbacks.Callback)
    logger.on_epoch_end(0)
    assert lines == []
    report.record("a.wav", bad_clips.EMPTY)
    logger.on_epoch_end(1)
    expected = (
        f"Epoch 2: 1 bad clip skipped ({bad_clips.EMPTY}: 1); "
        f"first 1: a.wav ({bad_clips.EMPTY})"
    )
    assert lines == [expected]
    assert report.count == 0


def test_logger_takes_a_dataset_and_rejects_other_objects():
    class FakeDataset:
        bad_clip_report = bad_clips.BadClipReport()

    logger = bad_clips.BadClipLogger(FakeDataset())
    assert logger.report is FakeDataset.bad_clip_report
    with pytest.raises(TypeError, match="report=42"):
        bad_clips.BadClipLogger(42)


def test_logger_appends_one_row_per_bad_file_per_epoch(tmp_path):
    import csv

    report = bad_clips.BadClipReport(max_examples=1)
    path = tmp_path / "run" / "bad_clips.csv"
    lines = []
    logger = bad_clips.BadClipLogger(report, csv_path=path,
                                     print_fn=lines.append)  # fmt: skip
    odd = 'dir [1]/a, "b".wav'
    # Read twice in one epoch (filled from the next pass): one row.
    report.record(odd, bad_clips.NOT_AUDIO)
    report.record(odd, bad_clips.NOT_AUDIO)
    report.record("z.wav", bad_clips.EMPTY)
    logger.on_epoch_end(0)
    logger.on_epoch_end(1)  # a clean epoch adds no row
    report.record("z.wav", bad_clips.EMPTY)
    # A resumed run appends to the same file.
    bad_clips.BadClipLogger(report, csv_path=path,
                            print_fn=lines.append).on_epoch_end(2)  # fmt: skip
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["path", "reason", "epoch"],
        [odd, bad_clips.NOT_AUDIO, "1"],
        ["z.wav", bad_clips.EMPTY, "1"],
        ["z.wav", bad_clips.EMPTY, "3"],
    ]
    assert lines[0].startswith("Epoch 1: 3 bad clips skipped")
    assert lines[1].startswith("Epoch 3: 1 bad clip skipped")
