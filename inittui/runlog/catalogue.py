"""Past runs as ``inittui runs`` lists them and ``inittui view`` heads them: a run log read whole through the
log index and the one fold of events, so that both say the same status, runs and skipped lines."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inittui.core.config import ExperimentConfig
from inittui.core.errors import RunLogError
from inittui.core.events import Event, ExperimentStarted, experiment_runs
from inittui.runlog.fold import RunFold
from inittui.runlog.index import LogIndex
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import read_config


@dataclass
class ReadRun:
    """A whole run log: its header (empty where config.json cannot be read, and why), its events folded, and
    the index that read them (the skipped lines)."""

    run_dir: Path
    header: dict[str, Any]
    fold: RunFold
    index: LogIndex
    header_problem: str = ""

    @property
    def status(self) -> str:
        return log_status(self.fold, self.header)


def started_from_header(header: dict[str, Any]) -> ExperimentStarted | None:
    """An ExperimentStarted as far as ``config.json`` tells it (no device), or None if it cannot be read."""
    try:
        config = ExperimentConfig.from_dict(header["config"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return ExperimentStarted(
        config=header["config"],
        device="",
        device_name="device not recorded (first log line damaged)",
        dataset=str(header.get("dataset", "")),
        total_steps=config.total_steps(),
        steps_per_epoch=config.steps_per_epoch(),
        runs=experiment_runs(config),
        time=0.0,
    )


def read_run(run_dir: Path, *, curves: bool = True) -> ReadRun:
    """Read ``run_dir``'s log to its last complete line (RunLogError if events.jsonl cannot be read); without
    ``curves``, the runs' curves are left empty (:class:`RunFold`)."""
    try:
        header, problem = read_config(run_dir), ""
    except RunLogError as error:
        header, problem = {}, str(error)
    index = LogIndex.of(run_dir)
    fold = RunFold(curves=curves)

    def apply(event: Event) -> None:
        if not fold.experiment.config and not isinstance(event, ExperimentStarted):
            # the log's first line is lost: what it said is rebuilt from config.json, as the viewer does
            started = started_from_header(header)
            if started is not None:
                fold.apply(started)
        fold.apply(event)

    try:
        index.update(apply)  # the newest statistics step too, as the viewer reads it
    except OSError as error:
        raise RunLogError(f"cannot read {index.path}: {error.strerror or error}") from None
    if not fold.experiment.config:  # an empty log
        started = started_from_header(header)
        if started is not None:
            fold.apply(started)
    read = ReadRun(Path(run_dir), header, fold, index, problem)
    if read.status != "running":
        index.end()  # nobody is writing the last line: if it is cut, it is damaged
    return read


def writer_alive(header: dict[str, Any]) -> bool:
    """Whether the process that wrote the log (``pid`` in config.json) is still running on this host."""
    pid = header.get("pid")
    if header.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_status(fold: RunFold, header: dict[str, Any]) -> str:
    """done, stopped or error as the log's last event says; without one, running while its writer lives,
    else interrupted."""
    if fold.experiment.finished is not None:
        return fold.experiment.finished.status
    return "running" if writer_alive(header) else "interrupted"


@dataclass
class RunSummary:
    run_dir: Path
    created: str
    preset: str
    # the runs of the experiment as it ended (or stands), by name
    runs: list[str]
    # per name of a run as the experiment ended (or stands), each run's best test accuracy over its lives under
    # that name (one value per seed of its group): a run's lives under another initialiser or activation are not
    # the run listed
    best_test_acc: dict[str, list[float]] = field(default_factory=dict)
    status: str = "interrupted"
    # lines of events.jsonl that could not be read
    skipped_lines: int = 0
    # why config.json could not be read, if it could not
    header_problem: str = ""


def summarise_run(run_dir: Path) -> RunSummary:
    """What ``inittui runs`` says of one run: whatever of its header and log can be read."""
    run = read_run(run_dir, curves=False)
    config = run.header.get("config") if isinstance(run.header.get("config"), dict) else {}
    folded = list(run.fold.runs.values())
    if folded:
        names = [folded_run.record.name for folded_run in folded]
    else:  # no line names the runs: the header does
        names = [str(name) for name in config.get("runs", [])] if isinstance(config.get("runs"), list) else []
    by_run: dict[tuple[str, int], float] = {}
    for folded_run in folded:
        name = folded_run.record.name
        for life in folded_run.lives:
            accuracy, key = life.record.best_test_acc, (life.record.name, folded_run.id)
            if life.record.name == name and accuracy is not None and accuracy > by_run.get(key, -1.0):
                by_run[key] = accuracy
    best: dict[str, list[float]] = {}
    for (name, _), accuracy in by_run.items():
        best.setdefault(name, []).append(accuracy)
    return RunSummary(
        run.run_dir,
        str(run.header.get("created", "?")),
        str(run.fold.experiment.preset or config.get("preset", "?")),
        names,
        best,
        run.status,
        skipped_lines=run.index.skipped,
        header_problem=run.header_problem,
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
