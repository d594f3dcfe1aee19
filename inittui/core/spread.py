"""A number over the seeds of a seed group: its mean and spread, and how it reads (standard library only)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def percent_spread(values: Sequence[float], digits: int = 1) -> str:
    """Shares as percent over the seeds: ``91.2 ± 0.3 %``; one value is itself, ``91.2 %``."""
    mean, std = mean_and_std([100 * value for value in values])
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if len(values) > 1 else "") + " %"
