"""The run log: ``config.json`` and an append-only ``events.jsonl`` per experiment.

Each event is one JSON line, flushed as it is written, so a crash or a kill loses at most the line being
written; readers ignore a torn last line.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import platformdirs

from inittui.config import ExperimentConfig
from inittui.events import Evaluation, Event, ExperimentFinished, event_from_dict

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"


class RunLogError(Exception):
    """A run directory that cannot be found or read; the message is one line for the user."""


def default_log_dir() -> Path:
    return Path(platformdirs.user_data_dir("inittui")) / "runs"


class RunLog:
    """Writes one experiment's log; safe to call :meth:`write` from the training thread."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, extra: dict[str, Any] | None = None) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        header = {
            "config": config.to_dict(),
            "created": datetime.now().isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **(extra or {}),
        }
        (run_dir / CONFIG_FILE).write_text(json.dumps(header, indent=2) + "\n")
        self._file: IO[str] | None = open(run_dir / EVENTS_FILE, "a", encoding="utf-8")

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

    def write(self, event: Event) -> None:
        if self._file is None:
            return
        self._file.write(event.to_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def _parse_lines(lines: list[str], final_is_complete: bool) -> list[Event]:
    events = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            events.append(event_from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            if number == len(lines) - 1 and not final_is_complete:
                break  # torn last line: the writer was killed mid-line
            raise RunLogError(f"line {number + 1} of the run log is not an inittui event") from None
    return events


def read_events(run_dir: Path) -> list[Event]:
    """Every complete event of a run log, in order."""
    path = Path(run_dir) / EVENTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RunLogError(f"cannot read {path}: {error.strerror}") from None
    return _parse_lines(text.split("\n"), final_is_complete=text.endswith("\n"))


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RunLogError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise RunLogError(f"{path} is not valid JSON") from None


def follow_events(run_dir: Path, should_stop: Callable[[], bool], poll_s: float = 0.2) -> Iterator[Event]:
    """Yield events as another process appends them, until ``should_stop()`` or a finished event."""
    path = Path(run_dir) / EVENTS_FILE
    with open(path, encoding="utf-8") as file:
        pending = ""
        while not should_stop():
            chunk = file.read()
            if not chunk:
                time.sleep(poll_s)
                continue
            pending += chunk
            *complete, pending = pending.split("\n")
            for event in _parse_lines(complete, final_is_complete=True):
                yield event
                if isinstance(event, ExperimentFinished):
                    return


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
    header = read_config(run_dir)
    names = list(header.get("config", {}).get("runs", []))
    best: dict[str, float] = {}
    status = None
    id_to_name = dict(enumerate(names))
    for event in read_events(run_dir):
        if isinstance(event, Evaluation):
            for run_id, accuracy in zip(event.run_ids, event.test_acc):
                name = id_to_name.get(run_id, f"run {run_id}")
                if accuracy is not None and accuracy > best.get(name, -1.0):
                    best[name] = accuracy
        elif isinstance(event, ExperimentFinished):
            status = event.status
            id_to_name.update({r.id: r.name for r in event.results})
        elif hasattr(event, "runs") and isinstance(getattr(event, "runs"), list):
            id_to_name.update({r.id: r.name for r in event.runs})
    if status is None:
        same_host = header.get("host") == socket.gethostname()
        status = "running" if same_host and _process_alive(int(header.get("pid", -1))) else "interrupted"
    return RunSummary(run_dir, header.get("created", "?"), header.get("config", {}).get("preset", "?"), names, best, status)


def list_runs(log_dir: Path) -> list[RunSummary]:
    """Every readable run under ``log_dir``, oldest first."""
    summaries = []
    for run_dir in sorted(Path(log_dir).glob("*")):
        if (run_dir / EVENTS_FILE).exists() and (run_dir / CONFIG_FILE).exists():
            try:
                summaries.append(summarise_run(run_dir))
            except RunLogError:
                continue
    return summaries
