"""Bookkeeping for clips that could not be read, and a callback to print it.

A pipeline never stops on one bad clip: readers raise `AudioReadError` with
one of the reasons below, the pipeline skips the clip, records why in a
`BadClipReport` and carries on. The report is exposed as
`dataset.bad_clip_report` on every dataset this package builds (pass one
`report=` to every epoch's pipeline to share it), and `BadClipLogger`
prints it at the end of each epoch and appends it to a `bad_clips.csv`
(`path,reason,epoch`, one row per bad file per epoch).
"""

import csv
import os
import threading

import keras

# Reasons a clip is skipped. Silence is not among them: it is valid audio.
UNREADABLE = "unreadable"
NOT_AUDIO = "not audio or corrupt"
EMPTY = "empty (no samples)"
NON_FINITE = "NaN/Inf samples"
CORRUPT_SHARD = "corrupt shard record (the rest of the shard unread)"


class AudioReadError(ValueError):
    """A clip could not be used; `reason` is one of the reasons above.

    Args:
        message: str. What went wrong, naming the file.
        reason: str. `UNREADABLE`, `NOT_AUDIO`, `EMPTY` or `NON_FINITE`.

    Examples:

    >>> AudioReadError("No samples in a.wav", EMPTY).reason
    'empty (no samples)'
    """

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


class BadClipReport:
    """Thread-safe tally of skipped clips with the first few paths.

    Decoding runs in parallel `tf.data` threads, so every update takes a lock.

    Args:
        max_examples: int. How many `(path, reason)` pairs to keep for
            the summary. Defaults to `5`.

    Examples:

    >>> report = BadClipReport(max_examples=2)
    >>> report.record("a.wav", NOT_AUDIO)
    >>> report.record("b.wav", EMPTY)
    >>> report.record("c.wav", EMPTY)
    >>> report.count
    3
    >>> report.counts_by_reason()[EMPTY]
    2
    >>> print(report.summary())
    3 bad clips skipped (empty (no samples): 2, not audio or corrupt: 1); \
first 2: a.wav (not audio or corrupt), b.wav (empty (no samples))
    """

    def __init__(self, max_examples=5):
        if int(max_examples) < 0:
            raise ValueError(
                "`max_examples` must be >= 0. "
                f"Received: max_examples={max_examples}"
            )
        self.max_examples = int(max_examples)
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        """Forgets everything recorded so far (called at each epoch end)."""
        with self._lock:
            self._count = 0
            self._by_reason = {}
            self._examples = []
            self._files = {}

    def record(self, path, reason):
        """Records one skipped clip.

        Args:
            path: str or bytes. The clip's path or id.
            reason: str. Why it was skipped.
        """
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        with self._lock:
            self._count += 1
            self._by_reason[reason] = self._by_reason.get(reason, 0) + 1
            if len(self._examples) < self.max_examples:
                self._examples.append((str(path), reason))
            self._files.setdefault(str(path), reason)

    @property
    def count(self):
        """Number of clips skipped since the last `reset()`."""
        return self._count

    @property
    def examples(self):
        """The first `max_examples` skipped `(path, reason)` pairs."""
        with self._lock:
            return list(self._examples)

    def files(self):
        """Every distinct bad file since the last `reset()`.

        Returns:
            list of `(path, reason)` in the order first seen (a file read
            twice in an epoch, e.g. when an epoch is filled from the next
            pass, is listed once).
        """
        with self._lock:
            return list(self._files.items())

    def counts_by_reason(self):
        """Returns a dict `reason -> count`."""
        with self._lock:
            return dict(self._by_reason)

    def summary(self):
        """Returns a one-line human-readable summary."""
        with self._lock:
            if not self._count:
                return "0 bad clips skipped"
            reasons = ", ".join(
                f"{reason}: {n}"
                for reason, n in sorted(self._by_reason.items())
            )
            first = ", ".join(f"{p} ({r})" for p, r in self._examples)
            noun = "clip" if self._count == 1 else "clips"
            text = f"{self._count} bad {noun} skipped ({reasons})"
            if first:
                text += f"; first {len(self._examples)}: {first}"
            return text

    def __repr__(self):
        return f"<BadClipReport: {self.summary()}>"


class BadClipLogger(keras.callbacks.Callback):
    """Prints a `BadClipReport` every epoch and keeps a `bad_clips.csv`.

    At each epoch end: one line (count, reasons, first paths) to
    `print_fn`, and, with `csv_path`, one row `path,reason,epoch` per
    distinct bad file appended to the CSV (header written when the file is
    new; a resumed run appends), flushed and fsynced so a kill keeps every
    finished epoch's rows. Epochs in the CSV count from 1, like Keras'
    progress bar.

    Args:
        report: a `BadClipReport`, or a dataset built by this package (its
            `bad_clip_report` attribute is used).
        csv_path: str. Where to append the rows, e.g.
            `os.path.join(run_dir, "bad_clips.csv")`. Defaults to `None`
            (print only).
        reset: bool. Whether to clear the report after printing, so each
            epoch reports its own clips. Defaults to `True`.
        print_fn: callable. Where the line goes. Defaults to `print`.
        quiet_when_clean: bool. Print nothing when no clip was skipped.
            Defaults to `True`.

    Examples:

    >>> import pathlib, tempfile
    >>> report = BadClipReport()
    >>> report.record("broken.flac", NOT_AUDIO)
    >>> path = os.path.join(tempfile.mkdtemp(), "bad_clips.csv")
    >>> logger = BadClipLogger(report, csv_path=path)
    >>> logger.on_epoch_end(0)
    Epoch 1: 1 bad clip skipped (not audio or corrupt: 1); first 1: \
broken.flac (not audio or corrupt)
    >>> report.count
    0
    >>> print(pathlib.Path(path).read_text().strip())
    path,reason,epoch
    broken.flac,not audio or corrupt,1
    """

    CSV_FIELDS = ("path", "reason", "epoch")

    def __init__(
        self,
        report,
        csv_path=None,
        reset=True,
        print_fn=print,
        quiet_when_clean=True,
    ):
        super().__init__()
        report = getattr(report, "bad_clip_report", report)
        if not isinstance(report, BadClipReport):
            raise TypeError(
                "`report` must be a BadClipReport or a dataset built by "
                f"keras_maskspec.data. Received: report={report!r}"
            )
        self.report = report
        self.csv_path = None if csv_path is None else os.fspath(csv_path)
        self.reset = reset
        self.print_fn = print_fn
        self.quiet_when_clean = quiet_when_clean

    def on_epoch_end(self, epoch, logs=None):
        if self.report.count or not self.quiet_when_clean:
            self.print_fn(f"Epoch {epoch + 1}: {self.report.summary()}")
        if self.csv_path is not None:
            self._append_rows(self.report.files(), epoch + 1)
        if self.reset:
            self.report.reset()

    def _append_rows(self, files, epoch):
        new = not os.path.exists(self.csv_path)
        if not files and not new:
            return
        folder = os.path.dirname(os.path.abspath(self.csv_path))
        os.makedirs(folder, exist_ok=True)
        with open(self.csv_path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(self.CSV_FIELDS)
            writer.writerows((path, reason, epoch) for path, reason in files)
            f.flush()
            os.fsync(f.fileno())
