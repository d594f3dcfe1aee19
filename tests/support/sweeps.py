"""Sweeps for tests: a sweep file, the synthetic MNIST directory the command line can load, the command run in
a subprocess, and what a finished sweep's logs hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from inittui.core.events import Evaluation, ExperimentFinished, ExperimentStarted, TrainProgress
from inittui.runlog.reader import read_events
from support.idx import write_mnist_files
from support.paths import ROOT


def write_sweep(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def full_size_mnist(directory: Path) -> Path:
    """Random IDX files with MNIST's counts (the command line checks them), raw so that they write fast."""
    return write_mnist_files(directory, 60_000, 10_000, gz=False)


def sweep_environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", **extra}


def start_sweep(arguments: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "inittui", "sweep", *arguments], env=env or sweep_environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_sweep(arguments: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inittui", "sweep", *arguments], env=env or sweep_environment(),
                          capture_output=True, text=True, timeout=timeout)


def sweep_dirs(log_dir: Path) -> list[Path]:
    return sorted(path for path in log_dir.glob("sweep-*") if path.is_dir())


def manifest(sweep_dir: Path) -> dict:
    return json.loads((sweep_dir / "sweep.json").read_text())


def wait_for(condition: Callable[[], object], timeout: float = 240, what: str = "a condition") -> object:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def measured(run_dir: Path) -> dict:
    """Every number training measured, by kind: each run's per-step losses and accuracies, test accuracies and
    losses. A progress event holds the steps since the last one, which a busy machine batches otherwise: the
    steps are joined, so only the numbers count, not where the chunks fell."""
    losses: dict[int, list[float | None]] = {}
    accuracies: dict[int, list[float | None]] = {}
    tests = []
    for event in read_events(run_dir):
        if isinstance(event, TrainProgress):
            for run, run_losses, run_accuracies in zip(event.run_ids, event.losses, event.accuracies):
                losses.setdefault(run, []).extend(run_losses)
                accuracies.setdefault(run, []).extend(run_accuracies)
        elif isinstance(event, Evaluation):
            tests.append((event.step, event.test_acc, event.test_loss))
    return {"losses": losses, "accuracies": accuracies, "tests": tests}


def assert_whole_log(run_dir: Path, steps: int) -> None:
    """One start, one finish, progress steps strictly rising to ``steps``: a complete log, no line twice."""
    events = read_events(run_dir)
    kinds = [type(event) for event in events]
    assert kinds.count(ExperimentStarted) == 1 and kinds[0] is ExperimentStarted
    assert kinds.count(ExperimentFinished) == 1 and kinds[-1] is ExperimentFinished
    finished = events[-1]
    assert finished.status == "done" and finished.step == steps
    progress = [event.step for event in events if isinstance(event, TrainProgress)]
    assert progress == sorted(set(progress)) and progress[-1] == steps
