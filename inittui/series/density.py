"""A layer's distribution over time: its histograms at every statistics step, in a fixed number of columns
and bins whatever the length of the run (numpy only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_LARGEST = float(np.finfo(np.float64).max)

@lru_cache(maxsize=16)
def _unit_edges(bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, bins + 1)


@lru_cache(maxsize=16)
def _grid_edges(bins: int) -> np.ndarray:
    return np.arange(bins + 1, dtype=np.float64)


@dataclass
class DensityGrid:
    """A plain snapshot of a :class:`DistributionHistory` for drawing: lists only.

    ``density[c][b]`` is the mean fraction of values in bin ``b`` over the statistics steps of column ``c``
    (an empty list where the column's steps had no counts); bin 0 starts at ``low``, the last ends at ``high``.
    """

    low: float
    high: float
    density: list[list[float]] = field(default_factory=list)
    first_steps: list[int] = field(default_factory=list)
    last_steps: list[int] = field(default_factory=list)
    # the mean of the measured std over each column's steps; None where none was finite
    std: list[float | None] = field(default_factory=list)
    steps_per_column: int = 1

    @property
    def columns(self) -> int:
        return len(self.first_steps)


class DistributionHistory:
    """One layer's histogram over time, in at most ``capacity`` columns of ``bins`` bins each.

    Columns: each holds ``span`` statistics steps (the mean of their normalised histograms). When the last
    column is full and there is no room for another, columns merge in pairs and ``span`` doubles.

    Bins: every histogram in the run log carries its own range (fixed for sigmoid and tanh, from the data for
    the others). All columns share one bin axis on a grid anchored at the first histogram's low edge with
    bin width ``unit``: the first histogram's own bin width, doubled whenever a later histogram reaches beyond
    the ``bins`` bins held. Doubling merges aligned pairs of grid bins, so stored columns re-bin exactly; a
    histogram whose bins do not lie on the grid is spread over it in proportion to the overlap (its values are
    taken as uniform within each of its bins). The range only grows: the axis never moves under old columns.
    """

    def __init__(self, capacity: int = 128, bins: int = 64) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, got {capacity}")
        if bins < 4 or bins % 2:
            raise ValueError(f"bins must be an even number >= 4, got {bins}")
        self.capacity = capacity
        self.bins = bins
        self.clear()

    def clear(self) -> None:
        self.span = 1
        self.count = 0  # columns in use; the last may be partly filled
        self.sums = np.zeros((self.capacity, self.bins), dtype=np.float32)
        self.weights = np.zeros(self.capacity, dtype=np.int64)  # steps with counts, per column
        self.steps = np.zeros(self.capacity, dtype=np.int64)  # steps of any kind, per column
        self.first_step = np.zeros(self.capacity, dtype=np.int64)
        self.last_step = np.zeros(self.capacity, dtype=np.int64)
        # running means, not sums, so that huge stds cannot overflow
        self.std_mean = np.zeros(self.capacity)
        self.std_count = np.zeros(self.capacity, dtype=np.int64)
        # the grid: bin i of the array spans origin + (start + i) * unit ... + unit
        self.origin = 0.0
        self.unit = 0.0
        self.start = 0
        # the first histogram's range in grid bins [native_low, native_high): always shown
        self.native: tuple[int, int] = (0, 0)

    @property
    def steps_recorded(self) -> int:
        return int(self.steps[: self.count].sum())

    def add(self, step: int, low: float, high: float, counts: Sequence[float], std: float | None = None) -> None:
        """One statistics step's histogram: ``counts`` over equal bins spanning [low, high].

        Non-finite or negative counts count as 0; a histogram with no counts, or a range that is not finite
        (or wider than the largest float), still takes its place in time (and its std), with no density.
        """
        try:
            values = np.asarray(counts, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            values = np.zeros(0)
        values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
        total = float(values.sum())
        usable = values.size > 0 and total > 0 and math.isfinite(total) and math.isfinite(high - low)
        column = self._open_column(int(step))
        if usable:
            if high <= low:  # a point (or a reversed range): a sliver next to it, on the side that cannot overflow
                sliver = max(abs(low) * 1e-12, 1e-300)
                low, high = (low - sliver, low) if low > 0 else (low, low + sliver)
            if self.unit == 0.0:
                self._anchor(low, high, values.size)
            if self._make_room(low, high):
                self.sums[column] += self._on_grid(low, high, values / total).astype(np.float32)
                self.weights[column] += 1
        if std is not None and math.isfinite(std) and std >= 0:
            self.std_count[column] += 1
            self.std_mean[column] += (std - self.std_mean[column]) / self.std_count[column]

    # ------------------------------------------------------------------ columns over time
    def _open_column(self, step: int) -> int:
        if self.count and self.steps[self.count - 1] < self.span:
            column = self.count - 1
        else:
            if self.count == self.capacity:
                self._merge_columns()
            column = self.count
            self.count += 1
            self.first_step[column] = step
        self.steps[column] += 1
        self.last_step[column] = step
        return column

    def _merge_columns(self) -> None:
        half = self.capacity // 2
        self.sums[:half] = self.sums.reshape(half, 2, self.bins).sum(axis=1)
        pairs = self.std_count.reshape(half, 2)
        totals = pairs.sum(axis=1)
        weights = pairs / np.maximum(totals, 1)[:, None]
        self.std_mean[:half] = (self.std_mean.reshape(half, 2) * weights).sum(axis=1)
        for array in (self.weights, self.steps, self.std_count):
            array[:half] = array.reshape(half, 2).sum(axis=1)
        self.first_step[:half] = self.first_step[0::2]
        self.last_step[:half] = self.last_step[1::2]
        for array in (self.sums, self.weights, self.steps, self.std_mean, self.std_count, self.first_step, self.last_step):
            array[half:] = 0
        self.count = half
        self.span *= 2

    # ------------------------------------------------------------------ the bin axis
    def _anchor(self, low: float, high: float, source_bins: int) -> None:
        self.origin = low
        # never 0, so that grid coordinates exist
        self.unit = max((high - low) / source_bins, 5e-324)
        self.start = 0
        native = source_bins
        while native > self.bins:  # more source bins than we hold: coarser grid
            self.unit *= 2
            native = -(-native // 2)
        self.native = (0, native)

    def _grid_span(self, low: float, high: float) -> tuple[float, float]:
        """[low, high] in grid-bin coordinates; infinite where a coordinate overflows."""
        shift = self.origin / self.unit  # Python floats: an overflow is inf, not an error
        return low / self.unit - shift, high / self.unit - shift

    def _occupied(self) -> tuple[int, int] | None:
        """Grid bins [first, last + 1) holding anything in any column, or None."""
        if self.count == 0:
            return None
        used = np.flatnonzero(self.sums[: self.count].any(axis=0))
        if used.size == 0:
            return None
        return self.start + int(used[0]), self.start + int(used[-1]) + 1

    def _needed(self, low: float, high: float) -> tuple[int, int] | None:
        """Grid bins [first, last) that must be held for [low, high] and all that is stored; None if the
        range is too wide for the grid's numbers (it must coarsen first)."""
        first, last = self._grid_span(low, high)
        if not (math.isfinite(first) and math.isfinite(last)):
            return None
        need_low, need_high = math.floor(first), math.ceil(last)
        for kept in (self._occupied(), self.native):
            if kept is not None:
                need_low, need_high = min(need_low, kept[0]), max(need_high, kept[1])
        return need_low, need_high

    def _make_room(self, low: float, high: float) -> bool:
        """Shift or coarsen the grid until [low, high] and everything stored fit in ``bins`` bins."""
        first, last = self._grid_span(low, high)
        if self.start <= first and last <= self.start + self.bins:
            return True  # inside the window, where everything stored already is
        for _ in range(8):
            need = self._needed(low, high)
            if need is not None and need[1] - need[0] <= self.bins:
                self._shift_to(self._window_start(*need))
                return True
            try:
                self._coarsen(self._doublings(low, high, need))
            except OverflowError:  # a unit beyond the largest float: this range cannot be held
                return False
        return False

    def _doublings(self, low: float, high: float, need: tuple[int, int] | None) -> int:
        """How many times the unit must double for ``need`` (or, where it overflowed, [low, high]) to fit."""
        room = (self.bins - 2) / 2
        if need is not None:
            return max(1, math.ceil(math.log2((need[1] - need[0]) / (2 * room))))
        # distances from the origin in units, through logarithms, since they overflow as floats
        farthest = max(math.log2(max(abs(x / 2 - self.origin / 2), 1e-300)) + 1 for x in (low, high))
        stored = math.log2(abs(self.start) + self.bins)
        estimate = max(farthest - math.log2(self.unit), stored) + 1 - math.log2(room)
        return max(1, math.ceil(estimate)) if math.isfinite(estimate) else 1

    def _window_start(self, need_low: int, need_high: int) -> int:
        """Keep the window where it is when it already covers what is needed; else centre the need in it."""
        if self.start <= need_low and need_high <= self.start + self.bins:
            return self.start
        return need_low - (self.bins - (need_high - need_low)) // 2

    def _shift_to(self, start: int) -> None:
        offset = start - self.start
        if offset == 0:
            return
        shifted = np.zeros_like(self.sums)
        if abs(offset) < self.bins:
            if offset > 0:
                shifted[:, : self.bins - offset] = self.sums[:, offset:]
            else:
                shifted[:, -offset:] = self.sums[:, : self.bins + offset]
        self.sums = shifted
        self.start = start

    def _coarsen(self, doublings: int) -> None:
        """Bin width × 2^doublings: grid bin g becomes bin g // 2^doublings, exactly (for one doubling, bins
        2j and 2j+1 become bin j)."""
        unit = math.ldexp(self.unit, doublings)  # raises OverflowError before anything changes
        factor = 2**doublings
        new_start = self.start // factor
        targets = [(self.start + i) // factor - new_start for i in range(self.bins)]
        merged = np.zeros_like(self.sums)
        np.add.at(merged, (slice(None), targets), self.sums)
        self.sums = merged
        self.start = new_start
        self.unit = unit
        self.native = (self.native[0] // factor, -(-self.native[1] // factor))

    def _on_grid(self, low: float, high: float, fractions: np.ndarray) -> np.ndarray:
        """The fractions of a histogram over [low, high] spread onto the window's bins by overlap.

        Worked out in grid units (small numbers once the window holds the range), so that a range as wide
        as the floats does not overflow.
        """
        first, last = self._grid_span(low, high)
        if not last - first > 1e-9:  # narrower than the grid can tell apart: all in one bin
            spread = np.zeros(self.bins)
            spread[min(max(math.floor(first) - self.start, 0), self.bins - 1)] = fractions.sum()
            return spread
        t = _unit_edges(fractions.size)
        source_edges = first + (last - first) * t
        cumulative = np.empty(fractions.size + 1)
        cumulative[0] = 0.0
        np.cumsum(fractions, out=cumulative[1:])
        grid_edges = _grid_edges(self.bins) + self.start
        spread = np.interp(grid_edges, source_edges, cumulative)
        return spread[1:] - spread[:-1]

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> DensityGrid:
        """The columns as plain lists, the bins trimmed to what was ever seen (never narrower than the first
        histogram's range)."""
        if self.count == 0 or self.unit == 0.0:
            grid = DensityGrid(0.0, 1.0, steps_per_column=self.span)
            grid.first_steps = self.first_step[: self.count].tolist()
            grid.last_steps = self.last_step[: self.count].tolist()
            grid.density = [[] for _ in range(self.count)]
            grid.std = self._std_list()
            return grid
        occupied = self._occupied() or self.native
        first = max(min(occupied[0], self.native[0]), self.start)
        last = min(max(occupied[1], self.native[1]), self.start + self.bins)
        weights = self.weights[: self.count]
        sums = self.sums[: self.count, first - self.start : last - self.start].astype(np.float64)
        density = sums / np.maximum(weights, 1)[:, None]
        rows = density.tolist()
        for column in np.flatnonzero(weights == 0).tolist():
            rows[column] = []
        with np.errstate(over="ignore"):
            bounds = np.clip([self.origin + first * self.unit, self.origin + last * self.unit], -_LARGEST, _LARGEST)
        return DensityGrid(
            low=float(bounds[0]),
            high=float(bounds[1]),
            density=rows,
            first_steps=self.first_step[: self.count].tolist(),
            last_steps=self.last_step[: self.count].tolist(),
            std=self._std_list(),
            steps_per_column=self.span,
        )

    def _std_list(self) -> list[float | None]:
        counts = self.std_count[: self.count].tolist()
        return [float(m) if c else None for m, c in zip(self.std_mean[: self.count].tolist(), counts)]


def onto_range(counts: Sequence[float], low: float, high: float, new_low: float, new_high: float,
               bins: int) -> list[float] | None:
    """A histogram over [low, high] re-binned onto ``bins`` equal bins over [new_low, new_high] ⊇ [low, high],
    each source bin's count spread over the new bins it overlaps (exact where the bins nest; within one
    source bin's width elsewhere). None where the ranges or the counts cannot be worked with (not finite, not
    nested, a total beyond the floats)."""
    values = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        span = new_high - new_low
        # counts whose total is beyond the floats (a damaged line, never a real histogram) cannot be re-binned
        if not (values.size and bins > 0 and math.isfinite(span) and span > 0
                and new_low <= low < high <= new_high and math.isfinite(values.sum())):
            return None
        if (low, high) == (new_low, new_high) and values.size == bins:
            return values.tolist()  # the same bins: as they are, not interpolated
        # in units of the new range, so that bounds as wide as the floats do not overflow
        first, last = (low - new_low) / span * bins, (high - new_low) / span * bins
    if not last - first > 1e-9:  # narrower than the new bins can tell apart: all in one
        result = np.zeros(bins)
        result[min(max(math.floor(first), 0), bins - 1)] = values.sum()
        return result.tolist()
    cumulative = np.concatenate(([0.0], np.cumsum(values / (values.max() or 1.0))))
    spread = np.interp(_grid_edges(bins), first + (last - first) * _unit_edges(values.size), cumulative)
    return (np.diff(spread) * (values.max() or 1.0)).tolist()
