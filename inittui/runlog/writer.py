"""Writing a run log: ``config.json`` once, then ``events.jsonl``, append-only, one JSON line per event.

Each event is flushed as it is written, so a crash or a kill loses at most the line being written. When
writing fails (a full disk, an I/O error) the log is cut back to its last complete line and writing stops;
the writer says so and training goes on.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from inittui.core.config import ExperimentConfig
from inittui.core.errors import RunLogError
from inittui.core.events import Event
from inittui.runlog.layout import CONFIG_FILE, EVENTS_FILE


def ensure_log_dir(log_dir: Path) -> Path:
    """Create ``log_dir`` if needed and check that files can be written in it; RunLogError says why not."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=log_dir):
            pass
    except OSError as error:
        raise RunLogError(f"cannot write run logs in {log_dir}: {error.strerror or error}") from None
    return log_dir


def open_append(path: Path) -> BinaryIO:
    """The events file, opened for appending without a buffer: each write goes to the system at once."""
    return open(path, "ab", buffering=0)


class RunLog:
    """Writes one experiment's log; safe to call :meth:`write` from the training thread."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, extra: dict[str, Any] | None = None) -> None:
        self.run_dir = run_dir
        header = {
            "config": config.to_dict(),
            "created": datetime.now().isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **(extra or {}),
        }
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / CONFIG_FILE).write_text(json.dumps(header, indent=2) + "\n")
            self._file: BinaryIO | None = open_append(run_dir / EVENTS_FILE)
            self._complete_bytes = self._file.seek(0, os.SEEK_END)
        except OSError as error:
            raise RunLogError(f"cannot write the run log in {run_dir}: {error.strerror or error}") from None
        self.lines_written = 0
        self._last_event: Event | None = None
        # why writing stopped, one line for the user; None while the log is complete
        self.failure: str | None = None

    @classmethod
    def create(cls, log_dir: Path, config: ExperimentConfig, extra: dict[str, Any] | None = None) -> RunLog:
        """A new run directory named by date, time and preset."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{config.preset}"
        run_dir = log_dir / name
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = log_dir / f"{name}-{suffix}"
        return cls(run_dir, config, extra)

    @property
    def path(self) -> Path:
        return self.run_dir / EVENTS_FILE

    def write(self, event: Event) -> bool:
        """Append ``event`` as one line; False once writing has failed (see :attr:`failure`)."""
        if self._file is None:
            return self.failure is None
        data = memoryview((event.to_json() + "\n").encode("utf-8"))
        try:
            while data:
                data = data[self._file.write(data) :]
        except OSError as error:
            self._fail(error, f"writing line {self.lines_written + 1} ({event.type})")
            return False
        self._complete_bytes += len(data.obj)
        self.lines_written += 1
        self._last_event = event
        return True

    def last_line(self) -> str:
        """The last complete line, described: ``line 1234 (progress, step 560)``."""
        if self._last_event is None:
            return "no line"
        step = getattr(self._last_event, "step", None)
        at_step = f", step {step}" if step is not None else ""
        return f"line {self.lines_written} ({self._last_event.type}{at_step})"

    def _fail(self, error: OSError, what: str) -> None:
        if self.failure is None:
            self.failure = (
                f"{what} of {self.path} failed: {error.strerror or error}; the log ends at {self.last_line()}"
            )
        if self._file is None:
            return
        try:
            # a line half written is no line: cut it off, so the log ends with a complete one
            os.ftruncate(self._file.fileno(), self._complete_bytes)
        except (OSError, ValueError):
            pass
        try:
            self._file.close()
        except OSError:
            pass
        self._file = None

    def close(self) -> None:
        """Flush the log to the disk and close it; a failure is recorded in :attr:`failure`, never raised."""
        if self._file is None:
            return
        try:
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as error:
            self._fail(error, "closing")
        self._file = None
