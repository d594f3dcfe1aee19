"""The one bounded curve type: a run's values over its steps, decimated by min and max into a fixed number of
buckets whatever the length of the run. numpy only: the live dashboard, ``inittui view`` and every other
reader of a run feed it the same way, so a run draws the same however it is read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Column:
    """What one screen column of a curve shows: the range of values that fell in it, and their mean."""

    step: float  # the middle of the steps it covers
    minimum: float
    maximum: float
    mean: float


class MinMaxSeries:
    """A curve over integer steps in at most ``capacity`` buckets of ``width`` steps each.

    A bucket keeps the minimum, the maximum, the sum and the count of the finite values that fell in it, so a
    spike survives any amount of decimation. When a step lands beyond the last bucket, buckets merge in pairs
    (``width`` doubles): memory is flat for a run of any length. Plain lists, so that adding a value is cheap;
    :meth:`columns` reads them with numpy.
    """

    def __init__(self, capacity: int = 2048, expected_steps: int = 0) -> None:
        """``expected_steps``: how long the curve is known to grow; buckets start that wide, so that no value
        is placed finely only to be merged later (a reader of a finished log knows its length)."""
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, got {capacity}")
        self.capacity = capacity
        self.expected_steps = expected_steps
        self.clear()

    def clear(self) -> None:
        self.width = 1
        while self.capacity * self.width <= self.expected_steps:
            self.width *= 2
        self.minimum = [math.inf] * self.capacity
        self.maximum = [-math.inf] * self.capacity
        self.total = [0.0] * self.capacity
        self.count = [0] * self.capacity
        self.last_step: int | None = None

    def __len__(self) -> int:
        """How many buckets hold at least one value."""
        return self.capacity - self.count.count(0)

    def add(self, step: int, value: float) -> None:
        self.add_chunk(step, value, value, value, 1)

    def add_chunk(self, step: int, minimum: float, maximum: float, total: float, count: int) -> None:
        """Values already reduced to min, max, sum and count, all placed at ``step``."""
        if count <= 0 or step < 0 or not (math.isfinite(minimum) and math.isfinite(maximum) and math.isfinite(total)):
            return
        step = int(step)
        while step >= self.capacity * self.width:
            self._merge_pairs()
        bucket = step // self.width
        if minimum < self.minimum[bucket]:
            self.minimum[bucket] = minimum
        if maximum > self.maximum[bucket]:
            self.maximum[bucket] = maximum
        self.total[bucket] += total
        self.count[bucket] += count
        if self.last_step is None or step > self.last_step:
            self.last_step = step

    def extend(self, first_step: int, values: Sequence[float | None]) -> None:
        """Consecutive per-step values from ``first_step``; None and non-finite values are gaps.

        A chunk no longer than a bucket goes whole into the bucket of its last step (at most one bucket off,
        far below a screen column); a longer one, only while buckets are narrow, is split at their edges.
        Raises TypeError for a value that is not a number (a damaged log line).
        """
        count = len(values)
        if first_step < 0 or count == 0:
            return
        last_step = first_step + count - 1
        while last_step >= self.capacity * self.width:
            self._merge_pairs()
        width = self.width
        if count <= width:
            self._add_values(last_step, values)
            return
        cut = 0
        while cut < count:
            end = min(((first_step + cut) // width + 1) * width - first_step, count)
            self._add_values(first_step + end - 1, values[cut:end])
            cut = end

    def _add_values(self, step: int, values: Sequence[float | None]) -> None:
        try:
            total = math.fsum(values)  # fast path: every value a finite number
            known = values if math.isfinite(total) else None
        except TypeError:
            known = None
        if known is None:
            known = [v for v in values if v is not None and math.isfinite(v)]
            if not known:
                return
            total = math.fsum(known)
            if not math.isfinite(total):
                return
        bucket = step // self.width
        low, high = min(known), max(known)
        if low < self.minimum[bucket]:
            self.minimum[bucket] = low
        if high > self.maximum[bucket]:
            self.maximum[bucket] = high
        self.total[bucket] += total
        self.count[bucket] += len(known)
        if self.last_step is None or step > self.last_step:
            self.last_step = step

    def _merge_pairs(self) -> None:
        half = self.capacity // 2
        pad = [0] * half
        self.minimum = [min(a, b) for a, b in zip(self.minimum[0::2], self.minimum[1::2])] + [math.inf] * half
        self.maximum = [max(a, b) for a, b in zip(self.maximum[0::2], self.maximum[1::2])] + [-math.inf] * half
        self.total = [a + b for a, b in zip(self.total[0::2], self.total[1::2])] + [0.0] * half
        self.count = [a + b for a, b in zip(self.count[0::2], self.count[1::2])] + pad
        self.width *= 2

    def columns(self, width: int, start: float | None = None, stop: float | None = None) -> list[Column | None]:
        """The curve at ``width`` columns spanning steps [start, stop] (default: 0 to the last step).

        Each column holds the min and max of every bucket whose middle falls in it, so spikes survive; None
        where no value fell.
        """
        if width <= 0:
            return []
        count = np.array(self.count)
        filled = np.flatnonzero(count)
        result: list[Column | None] = [None] * width
        if filled.size == 0:
            return result
        start = 0.0 if start is None else float(start)
        stop = float(self.last_step if stop is None else stop)
        span = max(stop - start, 1e-9)
        middles = (filled + 0.5) * self.width - 0.5
        inside = (middles >= start - 0.5) & (middles <= stop + 0.5)
        filled, middles = filled[inside], middles[inside]
        if filled.size == 0:
            return result
        index = np.clip(((middles - start) / span * width).astype(np.int64), 0, width - 1)
        # buckets are in step order, so each column's buckets are one contiguous run
        starts = np.concatenate(([0], np.flatnonzero(np.diff(index)) + 1))
        minimum = np.minimum.reduceat(np.array(self.minimum)[filled], starts)
        maximum = np.maximum.reduceat(np.array(self.maximum)[filled], starts)
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduceat(np.array(self.total)[filled], starts)
        counts = np.add.reduceat(count[filled], starts)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = total / counts
        # a sum of huge values can overflow; the mean still lies between the extremes
        mean = np.clip(np.where(np.isnan(mean), minimum, mean), minimum, maximum)
        for position, column in enumerate(index[starts].tolist()):
            result[column] = Column(
                start + (column + 0.5) * span / width,
                float(minimum[position]),
                float(maximum[position]),
                float(mean[position]),
            )
        return result
