"""Reading a run log: every line that parses, and the numbers of those that do not (a torn or damaged line).

Readers skip and count what they cannot read, and keep everything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inittui.core.errors import RunLogError
from inittui.core.events import Event, event_from_dict
from inittui.runlog.layout import CONFIG_FILE, EVENTS_FILE

try:  # optional (the "fast" extra): parses a long log's numbers about ten times faster than json
    from orjson import loads as _fast_loads
except ImportError:
    _fast_loads = None


@dataclass
class LogContents:
    """What could be read of a run log: its events, and the (1-based) numbers of lines that could not be."""

    events: list[Event] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


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
