"""The one bounded curve type: a run's values over its steps, decimated by min and max into a fixed number of
buckets whatever the length of the run. numpy only: the live dashboard, ``inittui view`` and every other
reader of a run feed it the same way (through :mod:`inittui.runlog.fold`), so a run draws the same however
it is read.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    # steps, lowest, highest and mean values of the columns of a curve that hold a value
    Envelope = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

# numpy is imported by the methods that read the buckets, not here: a fold without curves (``inittui runs``)
# builds empty curves and never reads one, and would otherwise spend a third of its start-up loading numpy


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
    spike survives any amount of decimation; ±inf (a run that diverged) counts as an extreme but not in the
    mean, and NaN and None are gaps. When a step lands beyond the last bucket, buckets merge in pairs
    (``width`` doubles): memory is flat for a run of any length. Buckets start one step wide, so a run's first
    steps are drawn finely however long it is meant to be. :attr:`version` changes with every change, so that
    what :meth:`envelope` drew is drawn again only when the curve changed.

    The buckets are typed arrays (:mod:`array`): adding a value is as cheap as in a list, and numpy reads them
    without a copy (:meth:`view`).
    """

    def __init__(self, capacity: int = 2048) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, got {capacity}")
        self.capacity = capacity
        self.version = 0
        # what envelopes() last computed for this curve, and for which (version, width, start, stop)
        self._drawn: tuple[tuple[int, int, float, float], Envelope] | None = None
        self.clear()

    def clear(self) -> None:
        self.width = 1
        self.minimum = array("d", [math.inf]) * self.capacity
        self.maximum = array("d", [-math.inf]) * self.capacity
        self.total = array("d", [0.0]) * self.capacity
        self.count = array("q", [0]) * self.capacity
        self.last_step: int | None = None
        self.version += 1

    def view(self, name: str) -> np.ndarray:
        """The buckets' ``minimum``, ``maximum``, ``total`` or ``count`` as a numpy array over the same memory."""
        import numpy as np

        buffer = getattr(self, name)
        return np.frombuffer(buffer, dtype=np.int64 if buffer.typecode == "q" else np.float64)

    def _filled(self) -> np.ndarray:
        """The buckets holding at least one value, finite or infinite."""
        import numpy as np

        return np.flatnonzero(self.view("minimum") <= self.view("maximum"))

    def __len__(self) -> int:
        """How many buckets hold at least one value."""
        return int(self._filled().size)

    def add(self, step: int, value: float | None) -> None:
        """One value at ``step``; None and non-finite values are gaps."""
        if step >= 0:
            self.extend(step, [value])

    def extend(self, first_step: int, values: Sequence[float | None]) -> None:
        """Consecutive per-step values from ``first_step``; None and NaN are gaps.

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
        bucket = step // self.width
        try:
            total = math.fsum(values)  # fast path: every value a finite number
            finite = values if math.isfinite(total) else None
        except (TypeError, ValueError, OverflowError):  # None, inf and -inf together, or a sum beyond floats
            finite = None
        if finite is None:
            finite = [v for v in values if v is not None and math.isfinite(v)]
            # ±inf is a value beyond any axis (a run that diverged): an extreme, but no part of the mean
            extremes = [*finite, *(v for v in values if v is not None and math.isinf(v))]
            if not extremes:
                return
            low, high = min(extremes), max(extremes)
            total = sum(finite)  # never raises: finite values too large to add make inf
            if not math.isfinite(total):
                finite = []
        else:
            low, high = min(finite), max(finite)
        if low < self.minimum[bucket]:
            self.minimum[bucket] = low
        if high > self.maximum[bucket]:
            self.maximum[bucket] = high
        if finite:
            self.total[bucket] += total
            self.count[bucket] += len(finite)
        if self.last_step is None or step > self.last_step:
            self.last_step = step
        self.version += 1

    def _merge_pairs(self) -> None:
        import numpy as np

        half = self.capacity // 2
        for name, merge, empty in (("minimum", np.minimum, math.inf), ("maximum", np.maximum, -math.inf),
                                   ("total", np.add, 0.0), ("count", np.add, 0)):
            buckets = self.view(name)  # written in place: the arrays' own memory
            buckets[:half] = merge(buckets[0::2], buckets[1::2])
            buckets[half:] = empty
        self.width *= 2
        self.version += 1

    def shrunk(self, capacity: int) -> MinMaxSeries:
        """A copy in at most ``capacity`` buckets, buckets merged in pairs only as far as its steps need: a past
        life of a run keeps its shape at a fraction of the memory."""
        copy = MinMaxSeries(self.capacity)
        copy.width, copy.last_step = self.width, self.last_step
        for name in ("minimum", "maximum", "total", "count"):
            setattr(copy, name, array(getattr(self, name).typecode, getattr(self, name)))
        while copy.last_step is not None and copy.last_step >= capacity * copy.width:
            copy._merge_pairs()
        copy.capacity = min(capacity, self.capacity)
        for name in ("minimum", "maximum", "total", "count"):
            setattr(copy, name, getattr(copy, name)[: copy.capacity])
        return copy

    def value_at(self, step: int) -> float | None:
        """The mean of the bucket holding ``step``, or of the last filled bucket before it; None before the first."""
        if self.last_step is None or step < 0:
            return None
        import numpy as np

        bucket = min(step, self.last_step) // self.width
        filled = np.flatnonzero(self.view("minimum")[: bucket + 1] <= self.view("maximum")[: bucket + 1])
        if filled.size == 0:
            return None
        index = int(filled[-1])
        if self.count[index] == 0:  # only infinite values
            return float(self.maximum[index] if self.maximum[index] > 0 else self.minimum[index])
        mean = self.total[index] / self.count[index]
        return float(min(max(mean, self.minimum[index]), self.maximum[index]))

    def envelope(self, width: int, start: float, stop: float) -> Envelope:
        """The curve at ``width`` columns spanning steps [start, stop]: for each column that holds a value, its
        middle step, and the lowest, highest and mean value of the buckets whose middle falls in it (so spikes
        survive). What a chart draws; computed again only when the curve changed (see :func:`envelopes`)."""
        return envelopes([self], width, start, stop)[0]

    def columns(self, width: int, start: float | None = None, stop: float | None = None) -> list[Column | None]:
        """:meth:`envelope` as one entry per column (default: steps 0 to the last), None where nothing fell."""
        if width <= 0:
            return []
        start = 0.0 if start is None else float(start)
        stop = float(self.last_step or 0) if stop is None else float(stop)
        result: list[Column | None] = [None] * width
        span = max(stop - start, 1e-9)
        for step, low, high, mean in zip(*(array.tolist() for array in self.envelope(width, start, stop))):
            result[min(int((step - start) / span * width), width - 1)] = Column(step, low, high, mean)
        return result


def envelopes(curves: Sequence[MinMaxSeries], width: int, start: float, stop: float) -> list[Envelope]:
    """:meth:`MinMaxSeries.envelope` of every curve, those that changed since they were last drawn computed
    together: one pass of numpy over all their buckets, so sixty curves cost about what one does."""
    start, stop = float(start), float(stop)
    stale = [curve for curve in curves
             if curve._drawn is None or curve._drawn[0] != (curve.version, width, start, stop)]
    for capacity in {curve.capacity for curve in stale}:
        group = [curve for curve in stale if curve.capacity == capacity]
        for curve, envelope in zip(group, _compute(group, width, start, stop)):
            curve._drawn = ((curve.version, width, start, stop), envelope)
    return [curve._drawn[1] for curve in curves]  # type: ignore[index]


def _compute(curves: list[MinMaxSeries], width: int, start: float, stop: float) -> list[Envelope]:
    """The envelopes of curves of one capacity, their buckets stacked ``[curves, capacity]``."""
    import numpy as np

    empty = np.empty(0)
    if width <= 0:
        return [(empty, empty, empty, empty) for _ in curves]
    minimum = np.stack([curve.view("minimum") for curve in curves])
    maximum = np.stack([curve.view("maximum") for curve in curves])
    widths = np.array([curve.width for curve in curves], dtype=np.float64)[:, None]
    span = max(stop - start, 1e-9)
    middles = (np.arange(minimum.shape[1]) + 0.5)[None, :] * widths - 0.5
    inside = (minimum <= maximum) & (middles >= start - 0.5) & (middles <= stop + 0.5)
    rows, buckets = np.nonzero(inside)  # by curve, then by bucket: each column's buckets one contiguous run
    if rows.size == 0:
        return [(empty, empty, empty, empty) for _ in curves]
    column = np.clip(((middles[rows, buckets] - start) / span * width).astype(np.int64), 0, width - 1)
    key = rows * width + column
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    low = np.minimum.reduceat(minimum[rows, buckets], starts)
    high = np.maximum.reduceat(maximum[rows, buckets], starts)
    total = np.stack([curve.view("total") for curve in curves])[rows, buckets]
    count = np.stack([curve.view("count") for curve in curves])[rows, buckets]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean = np.add.reduceat(total, starts) / np.add.reduceat(count, starts)
    # no finite value (only ±inf), or a sum of huge values that overflowed: the mean stays in the range
    mean = np.clip(np.where(np.isnan(mean), low, mean), low, high)
    steps = start + (column[starts] + 0.5) * span / width
    bounds = np.searchsorted(rows[starts], np.arange(len(curves) + 1))
    return [tuple(array[a:b] for array in (steps, low, high, mean)) for a, b in zip(bounds[:-1], bounds[1:])]  # type: ignore[misc]
