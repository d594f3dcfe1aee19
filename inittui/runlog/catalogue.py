"""The catalogue of past runs that ``inittui runs`` prints: what each run log's header and events say."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from inittui.core.errors import RunLogError
from inittui.core.events import Evaluation, ExperimentFinished, ExperimentStarted, RunsChanged
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import read_config, read_log


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
