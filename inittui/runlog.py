"""The run log: ``config.json`` and an append-only ``events.jsonl`` per experiment.

Each event is one JSON line, flushed as it is written, so a crash or a kill loses at most the line being
written. Readers skip and count what they cannot read (a torn or damaged line), and keep everything else.
When writing fails (a full disk, an I/O error) the log is cut back to its last complete line and writing
stops; the writer says so and training goes on.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs

from inittui.config import ExperimentConfig
from inittui.events import Evaluation, Event, ExperimentFinished, ExperimentStarted, RunsChanged, event_from_dict

try:  # optional (the "fast" extra): parses a long log's numbers about ten times faster than json
    from orjson import loads as _fast_loads
except ImportError:
    _fast_loads = None

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"


class RunLogError(Exception):
    """A run directory that cannot be found or read; the message is one line for the user."""


def default_log_dir() -> Path:
    return Path(platformdirs.user_data_dir("inittui")) / "runs"


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


@dataclass
class LogContents:
    """What could be read of a run log: its events, and the (1-based) numbers of lines that could not be."""

    events: list[Event] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


@dataclass
class SkippedLines:
    """Lines of a followed log that could not be read (damaged or cut), by their 1-based numbers."""

    lines: list[int]


def describe_lines(numbers: list[int], shown: int = 8) -> str:
    """``line 37``, ``lines 37, 52 and 90``, or the first few of many and how many in all."""
    if len(numbers) == 1:
        return f"line {numbers[0]:,}"
    if len(numbers) <= shown:
        return f"lines {', '.join(f'{n:,}' for n in numbers[:-1])} and {numbers[-1]:,}"
    return f"lines {', '.join(f'{n:,}' for n in numbers[:shown])}, … ({len(numbers):,} in all)"


def _parse_json(raw: bytes) -> object:
    if _fast_loads is not None:
        try:
            return _fast_loads(raw)
        except ValueError:
            pass  # NaN, Infinity, huge integers, deep nesting: the standard parser has the last word
    return json.loads(raw.decode("utf-8"))


def parse_line(line: bytes) -> Event | None:
    """The event on one line, or None if the line is not one (damaged, cut, or not inittui's): the one decoder
    of every reader of run logs (``read_log`` and the log index)."""
    try:
        data = _parse_json(line)
        return event_from_dict(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def read_log(run_dir: Path) -> LogContents:
    """Every event of a run log that can be read, in order, and which lines could not be."""
    path = Path(run_dir) / EVENTS_FILE
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RunLogError(f"cannot read {path}: {error.strerror}") from None
    contents = LogContents()
    # a last line without its newline was cut while being written: counted as skipped, like a damaged one
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        event = parse_line(line)
        if event is None:
            contents.skipped.append(number)
        else:
            contents.events.append(event)
    return contents


def read_events(run_dir: Path) -> list[Event]:
    """Every readable event of a run log, in order (damaged lines skipped)."""
    return read_log(run_dir).events


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RunLogError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise RunLogError(f"{path} is not valid JSON") from None
    if not isinstance(header, dict):
        raise RunLogError(f"{path} is not an inittui run header")
    return header


def resolve_run_dir(spec: str, log_dir: Path) -> Path:
    """``latest`` means the newest run under ``log_dir``; anything else is a path to a run directory."""
    if spec == "latest":
        runs = sorted(p for p in log_dir.glob("*") if (p / EVENTS_FILE).exists())
        if not runs:
            raise RunLogError(f"no runs in {log_dir} yet; start one with: inittui train --headless")
        return max(runs, key=lambda p: (p / CONFIG_FILE).stat().st_mtime)
    path = Path(spec).expanduser()
    if not (path / EVENTS_FILE).exists():
        raise RunLogError(f"{path} is not a run directory (no {EVENTS_FILE} in it)")
    return path


@dataclass
class RunSummary:
    run_dir: Path
    created: str
    preset: str
    runs: list[str]
    best_test_acc: dict[str, float]
    status: str
    # lines of events.jsonl that could not be read
    skipped_lines: int = 0
    # why config.json could not be read, if it could not
    header_problem: str = ""


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def summarise_run(run_dir: Path) -> RunSummary:
    """What ``inittui runs`` says of one run: whatever of its header and log can be read."""
    try:
        header, header_problem = read_config(run_dir), ""
    except RunLogError as error:
        header, header_problem = {}, str(error)
    config = header.get("config") if isinstance(header.get("config"), dict) else {}
    names = [str(name) for name in config.get("runs", [])] if isinstance(config.get("runs"), list) else []
    best: dict[str, float] = {}
    status = None
    id_to_name = dict(enumerate(names))
    contents = read_log(run_dir)
    unusable = 0
    for event in contents.events:
        try:
            if isinstance(event, Evaluation):
                for run_id, accuracy in zip(event.run_ids, event.test_acc):
                    name = id_to_name.get(run_id, f"run {run_id}")
                    if accuracy is not None and accuracy > best.get(name, -1.0):
                        best[name] = accuracy
            elif isinstance(event, ExperimentFinished):
                status = str(event.status)
                id_to_name.update({r.id: r.name for r in event.results})
            elif isinstance(event, (ExperimentStarted, RunsChanged)):
                id_to_name.update({r.id: r.name for r in event.runs})
        except (TypeError, ValueError, AttributeError):
            unusable += 1  # valid JSON of the wrong shape: as good as a damaged line
    if status is None:
        same_host = header.get("host") == socket.gethostname()
        pid = header.get("pid")
        status = "running" if same_host and isinstance(pid, int) and _process_alive(pid) else "interrupted"
    return RunSummary(
        run_dir,
        str(header.get("created", "?")),
        str(config.get("preset", "?")),
        names,
        best,
        status,
        skipped_lines=len(contents.skipped) + unusable,
        header_problem=header_problem,
    )


def list_runs(log_dir: Path) -> list[RunSummary]:
    """Every readable run under ``log_dir``, oldest first."""
    summaries = []
    for run_dir in sorted(Path(log_dir).glob("*")):
        if (run_dir / EVENTS_FILE).is_file():
            try:
                summaries.append(summarise_run(run_dir))
            except RunLogError:
                continue  # events.jsonl itself cannot be read (permissions): nothing to list
    return summaries
