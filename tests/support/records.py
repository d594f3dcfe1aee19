"""Run records and the events that carry them, built compactly."""

from __future__ import annotations

from inittui.core.config import RunSpec
from inittui.core.events import HISTOGRAM_KINDS, Histogram, LayerStat, RunRecord


def record(run_id: int, init: str, activation: str, status: str = "running", step: int = 0, **numbers) -> RunRecord:
    """A run's record: ``record(0, "he", "relu", "done", 10, best_test_acc=0.93)``."""
    return RunRecord(run_id, RunSpec(init, activation), status, step, **numbers)


def layer(std: float = 1.0, dead: float | None = None, saturated: float | None = None, bins: int = 4) -> LayerStat:
    """One hidden layer's statistics: ``std`` and the shares given, flat histograms of every source."""
    histogram = Histogram(-1.0, 1.0, [10] * bins)
    return LayerStat(0.0, std, dead, saturated, std, 0.1, 0.1, 0.01, {kind: histogram for kind in HISTOGRAM_KINDS})
