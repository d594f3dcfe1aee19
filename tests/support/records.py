"""Run records and the events that carry them, built compactly."""

from __future__ import annotations

from inittui.core.config import RunSpec
from inittui.core.events import RunRecord


def record(run_id: int, init: str, activation: str, status: str = "running", step: int = 0, **numbers) -> RunRecord:
    """A run's record: ``record(0, "he", "relu", "done", 10, best_test_acc=0.93)``."""
    return RunRecord(run_id, RunSpec(init, activation), status, step, **numbers)
