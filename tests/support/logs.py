"""Run logs for the tests: written by the engine, or from a list of events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import Event
from inittui.runlog.fold import RunFold
from inittui.runlog.writer import RunLog
from inittui.training.engine import Engine

from support.data import noise_mnist, random_mnist


def train_to_log(log_dir: Path, steps: int = 60, stats_every: int = 10, bins: int = 8, **overrides: Any) -> Path:
    """A real run log: the engine trains two small runs on random data and the run log writes it."""
    values: dict[str, Any] = dict(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], depth=2, width=8,
                                  steps=steps, epochs=None, stats_every=stats_every, histogram_bins=bins,
                                  batch_size=32, device="cpu", preset="compare")
    values.update(overrides)
    config = ExperimentConfig(**values)
    data = random_mnist(train=256, test=64)
    log = RunLog.create(log_dir, config, {"dataset": data.description})
    try:
        finished = Engine(config, data, log.write).run()
        assert finished.status == "done", finished.message
    finally:
        log.close()
    return log.run_dir


def write_events(parent: Path, events: Iterable[Event], config: ExperimentConfig) -> Path:
    """A run log holding exactly ``events``."""
    log = RunLog.create(parent, config, {"dataset": "synthetic"})
    try:
        for event in events:
            assert log.write(event)
    finally:
        log.close()
    return log.run_dir


def dashboard_log(parent: Path, steps: int, started: threading.Event | None = None, **overrides: Any) -> Path:
    """The dashboard tests' experiment (compare, 3 layers of 16) trained for ``steps`` into a run log; with
    ``started``, set at the first progress, each event written slowly, so that a viewer sees the log grow."""
    from support.dashboard import dashboard_config

    config = dashboard_config(steps=steps, **overrides)
    log = RunLog.create(parent, config, {"dataset": "random"})

    def emit(event: Event) -> None:
        log.write(event)
        if started is not None and event.type == "progress":
            started.set()
            time.sleep(0.01)

    try:
        finished = Engine(config, noise_mnist(), emit).run()
        assert finished.status == "done", finished.message
    finally:
        log.close()
    return log.run_dir


def folded(events: Iterable[Event]) -> RunFold:
    fold = RunFold()
    for event in events:
        fold.apply(event)
    return fold
