"""Loss and accuracy curves of every run overlaid, drawn in braille on the UI thread.

The cost of a frame is bounded by the plot's size, not by the data: each curve is first reduced to one
vertical span per pixel column (the minimum and maximum of the points that fall in it, joined to its
neighbours), so a million points, a spike or a run that diverged to 1e30 cost what a short curve costs.
Values beyond the y axis are drawn at its edge, and where a curve leaves the plot a ▲ or ▼ says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from inittui.ui.lines import LinesWidget, StyledLine
from inittui.ui.state import Series

# braille dot bits for the 4 rows (top to bottom) and 2 columns of a character cell, and the 256 characters
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
_BRAILLE = np.array([" "] + [chr(0x2800 + code) for code in range(1, 256)], dtype=object)
# _SPAN_BITS[dot column, first dot row, last dot row]: the dots of rows first..last in that column
_SPAN_BITS = np.array(
    [[[int(_DOT_BITS[a : b + 1, column].sum()) for b in range(4)] for a in range(4)] for column in range(2)],
    dtype=np.int64,
)
POINT = "●"
# the time cursor's step: a vertical line through the cells no curve uses
MARK, MARK_STYLE = "┊", "bold yellow"
ABOVE, BELOW = "▲", "▼"
MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 4, 2
# axes end within ±this: beyond it nothing can be told apart on a screen, and spans stay finite
AXIS_LIMIT = 1e300


@dataclass
class Curve:
    colour: str  # "#rrggbb", the run's colour
    series: Series  # or anything with ``x`` and ``y`` sequences of one length
    # points only (test accuracy, measured once an epoch), not a line through them
    scatter: bool = False


def tick_label(value: float, span: float) -> str:
    """A short label for an axis value; ``span`` is the axis length, which decides the precision."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or (magnitude < 1e-3 and span < 1e-2):
        return f"{value:.1e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    digits = max(0, min(3, 1 - math.floor(math.log10(span)))) if 0 < span < math.inf else 2
    return f"{value:.{digits}f}"


def nice_ticks(low: float, high: float, count: int) -> list[float]:
    """At most ``count`` round values (1, 2 or 5 × 10^k apart) between ``low`` and ``high``."""
    if count < 2 or not high > low or not 1e-300 < high - low < math.inf:
        return [low, high] if high > low else [low]
    raw = (high - low) / (count - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    return ticks[:count] or [low]


def _finite_range(arrays: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """The smallest and largest finite value, within ±AXIS_LIMIT so that every span is a finite number."""
    low, high = math.inf, -math.inf
    for values in arrays:
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if low > high:
        return None
    return max(low, -AXIS_LIMIT), min(high, AXIS_LIMIT)


def _as_array(values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (OverflowError, TypeError, ValueError):
        return np.empty(0)


def column_spans(
    lines: Sequence[tuple[np.ndarray, np.ndarray]], x_range: tuple[float, float], columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every line (x, y), the lowest and highest y it reaches in each of ``columns`` pixel columns.

    Returns two ``[lines, columns]`` arrays, +inf/-inf where a line has nothing. Points that fall in one column
    give their minimum and maximum; the segment joining two columns adds its values at the edges of every
    column it crosses, so the line stays connected and every spike survives. All lines at once: the cost
    is that of the points and the columns, not of a Python loop per point or per line.
    """
    count = len(lines)
    low = np.full((count, columns), np.inf)
    high = np.full((count, columns), -np.inf)
    if count == 0:
        return low, high
    x = np.concatenate([points_x for points_x, _ in lines])
    y = np.concatenate([points_y for _, points_y in lines])
    line = np.repeat(np.arange(count), [points_x.size for points_x, _ in lines])
    keep = np.isfinite(x) & ~np.isnan(y)
    x, y, line = x[keep], y[keep], line[keep]
    if x.size == 0:
        return low, high
    if np.any((x[1:] < x[:-1]) & (line[1:] == line[:-1])):  # a line not in order of x: sort it
        order = np.lexsort((x, line))
        x, y, line = x[order], y[order], line[order]
    x0, x1 = x_range
    scale = (columns - 1) / (x1 - x0) if x1 > x0 else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        position = np.nan_to_num((x - x0) * scale, nan=0.0)
    column = np.clip(np.rint(position), 0, columns - 1).astype(np.int64)

    key = line * columns + column  # nondecreasing: by line, then by column
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    group_line, group_column = line[starts], column[starts]
    first, last = y[starts], y[np.append(starts[1:], y.size) - 1]
    low[group_line, group_column] = np.minimum.reduceat(y, starts)
    high[group_line, group_column] = np.maximum.reduceat(y, starts)

    # segments from one occupied column of a line to its next: their values at the edges of every column
    joined = np.flatnonzero(group_line[1:] == group_line[:-1])
    if joined.size:
        left, right = group_column[joined], group_column[joined + 1]
        start, end = last[joined], first[joined + 1]
        lengths = right - left + 1
        segment = np.repeat(np.arange(joined.size), lengths)
        offsets = np.arange(segment.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at_column = left[segment] + offsets
        span = (right - left)[segment].astype(np.float64)
        # in order of line and column, so equal cells are neighbours: reduce each run of them at once
        cells = group_line[joined][segment] * columns + at_column
        runs = np.flatnonzero(np.diff(cells, prepend=-1))
        flat_low, flat_high = low.reshape(-1), high.reshape(-1)
        for edge in (-0.5, 0.5):
            at = np.clip(at_column + edge, left[segment], right[segment])
            with np.errstate(over="ignore", invalid="ignore"):
                value = start[segment] + (end - start)[segment] * (at - left[segment]) / span
            value = np.where(np.isnan(value), start[segment], value)  # inf - inf: the line stays put
            flat_low[cells[runs]] = np.minimum(flat_low[cells[runs]], np.minimum.reduceat(value, runs))
            flat_high[cells[runs]] = np.maximum(flat_high[cells[runs]], np.maximum.reduceat(value, runs))
    return low, high


class Canvas:
    """A plot area of ``width`` × ``height`` cells: braille dots per curve, the topmost curve wins a cell."""

    def __init__(self, width: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.width, self.height = width, height
        self.x_range, self.y_range = x_range, y_range
        self.codes = np.zeros((height, width), dtype=np.int64)
        self.glyphs = np.full((height, width), "", dtype=object)
        self.owner = np.full((height, width), -1, dtype=np.int64)

    def _pixel_rows(self, values: np.ndarray) -> np.ndarray:
        """Pixel rows counted from the top of the plot, clipped to it."""
        low, high = self.y_range
        pixels = self.height * 4
        with np.errstate(invalid="ignore", over="ignore"):
            rows = (high - values) / (high - low) * (pixels - 1)
        rows = np.nan_to_num(rows, nan=pixels - 1, posinf=pixels - 1, neginf=0.0)
        return np.clip(np.rint(rows), 0, pixels - 1).astype(np.int64)

    def lines(self, indices: Sequence[int], lines: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Draw lines in order (later ones on top); ``indices`` name their colours."""
        if not lines:
            return
        low, high = column_spans(lines, self.x_range, self.width * 2)
        line, pixel_column = np.nonzero(low <= high)
        if line.size == 0:
            return
        top = self._pixel_rows(high[line, pixel_column])  # pixel rows from the top: top <= bottom
        bottom = self._pixel_rows(low[line, pixel_column])
        # one entry per cell row a span touches: its dots in that cell
        first_row, last_row = top // 4, bottom // 4
        count = last_row - first_row + 1
        entry = np.repeat(np.arange(line.size), count)
        cell_row = first_row[entry] + np.arange(entry.size) - np.repeat(np.cumsum(count) - count, count)
        dots = _SPAN_BITS[
            pixel_column[entry] % 2,
            np.clip(top[entry] - 4 * cell_row, 0, 3),
            np.clip(bottom[entry] - 4 * cell_row, 0, 3),
        ]
        cell = cell_row * self.width + pixel_column[entry] // 2
        # the two dot columns of a cell hold different bits, so adding them is or-ing them
        cells = self.height * self.width
        codes = np.bincount(line[entry] * cells + cell, weights=dots, minlength=len(lines) * cells).astype(np.int64)
        # the topmost (last drawn) line with a dot in a cell owns it
        owner = np.full(cells, -1, dtype=np.int64)
        np.maximum.at(owner, cell, line[entry])
        owned = np.flatnonzero(owner >= 0)
        self.codes.reshape(-1)[owned] = codes[owner[owned] * cells + owned]
        self.glyphs.reshape(-1)[owned] = ""
        self.owner.reshape(-1)[owned] = np.asarray(indices)[owner[owned]]
        # where a line leaves the plot: a mark at the edge, once per excursion
        for beyond, row, mark in ((high > self.y_range[1], 0, ABOVE), (low < self.y_range[0], self.height - 1, BELOW)):
            begins = beyond & ~np.pad(beyond, ((0, 0), (1, 0)))[:, :-1]
            which, column = np.nonzero(begins)
            self.glyphs[row, column // 2] = mark
            self.owner[row, column // 2] = np.asarray(indices)[which]

    def points(self, index: int, x: np.ndarray, y: np.ndarray) -> None:
        keep = np.isfinite(x) & ~np.isnan(y)
        x, y = x[keep], y[keep]
        if x.size == 0:
            return
        x0, x1 = self.x_range
        scale = (self.width - 1) / (x1 - x0) if x1 > x0 else 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            position = np.nan_to_num((x - x0) * scale, nan=0.0)
        column = np.clip(np.rint(position), 0, self.width - 1).astype(np.int64)
        row = self._pixel_rows(y) // 4
        self.glyphs[row, column] = POINT
        self.owner[row, column] = index

    def mark(self, index: int, x: float) -> None:
        """A vertical line at step ``x`` (owned by ``index``), in every cell of its column that is empty."""
        x0, x1 = self.x_range
        if not x0 <= x <= x1:
            return
        column = round((x - x0) / (x1 - x0) * (self.width - 1)) if x1 > x0 else 0
        empty = (self.codes[:, column] == 0) & (self.glyphs[:, column] == "")
        self.glyphs[empty, column] = MARK
        self.owner[empty, column] = index

    def styled_lines(self, colours: Sequence[str]) -> list[StyledLine]:
        """One line per cell row, consecutive cells of one curve in one run."""
        chars = np.where(self.glyphs != "", self.glyphs, _BRAILLE[self.codes])
        result = []
        for row in range(self.height):
            owners = self.owner[row]
            changes = np.flatnonzero(np.diff(owners)) + 1
            line: StyledLine = []
            for start, end in zip(np.concatenate(([0], changes)), np.concatenate((changes, [self.width]))):
                owner = int(owners[start])
                line.append(("".join(chars[row, start:end]), colours[owner] if owner >= 0 else ""))
            result.append(line)
        return result


def render_curves(
    curves: Sequence[Curve],
    width: int,
    height: int,
    title: str = "",
    *,
    ylim: tuple[float, float] | None = None,
    ycap: float | None = None,
    marker: float | None = None,
) -> list[StyledLine]:
    """The chart (title, y axis with labels, plot, x axis with labels): at most ``height`` lines of ``width``;
    ``marker``: a step marked by a vertical line (the time cursor's)."""
    if width < 1 or height < 1:
        return []
    lines: list[StyledLine] = [[(title[:width].center(width), "bold")]]
    plot_height = height - 3
    if plot_height < MIN_PLOT_HEIGHT:
        return lines

    arrays = []
    for curve in curves:
        x, y = _as_array(curve.series.x), _as_array(curve.series.y)
        arrays.append((x, y) if x.shape == y.shape else (np.empty(0), np.empty(0)))
    y_range = ylim
    if y_range is None:
        found = _finite_range([y for _, y in arrays])
        top = found[1] if found else 1.0
        if ycap is not None:
            top = min(top, ycap)
        low = 0.0 if ycap is not None or not found else min(found[0], 0.0)
        y_range = (low, top + 0.05 * (top - low) if top > low else low + max(1.0, abs(low)))
    x_range = _finite_range([x for x, _ in arrays]) or (0.0, 1.0)
    if not x_range[1] > x_range[0]:
        x_range = (x_range[0] - 0.5, x_range[0] + 0.5)

    y_ticks = nice_ticks(*y_range, count=max(2, min(6, plot_height // 3 + 1)))
    y_span = y_range[1] - y_range[0]
    labels = {
        round((y_range[1] - value) / y_span * (plot_height - 1)): tick_label(value, y_span) for value in y_ticks
    }
    label_width = max(len(label) for label in labels.values())
    plot_width = width - label_width - 1
    if plot_width < MIN_PLOT_WIDTH:
        return lines

    canvas = Canvas(plot_width, plot_height, x_range, y_range)
    # lines first, in order, then the points over them
    line_indices = [index for index, curve in enumerate(curves) if not curve.scatter]
    canvas.lines(line_indices, [arrays[index] for index in line_indices])
    for index, curve in enumerate(curves):
        if curve.scatter:
            canvas.points(index, *arrays[index])
    if marker is not None and math.isfinite(marker):
        canvas.mark(len(curves), marker)
    for row, plotted in enumerate(canvas.styled_lines([*(curve.colour for curve in curves), MARK_STYLE])):
        label = labels.get(row)
        lines.append([((label or "").rjust(label_width) + ("┤" if label is not None else "│"), "dim"), *plotted])

    x_span = x_range[1] - x_range[0]
    x_ticks = nice_ticks(*x_range, count=max(2, min(8, plot_width // 10)))
    axis = ["─"] * plot_width
    under = [" "] * width
    for value in x_ticks:
        column = round((value - x_range[0]) / x_span * (plot_width - 1))
        axis[column] = "┬"
        label = tick_label(value, x_span)
        start = max(0, min(label_width + 1 + column - len(label) // 2, width - len(label)))
        if len(label) <= width and all(c == " " for c in under[max(0, start - 1) : start + len(label) + 1]):
            under[start : start + len(label)] = label
    lines.append([(" " * label_width + "└" + "".join(axis), "dim")])
    lines.append([("".join(under).rstrip(), "dim")])
    return lines


class CurvePlot(LinesWidget):
    """Keeps the curves it was last given and draws them at its current size."""

    DEFAULT_CSS = """
    CurvePlot { width: 1fr; height: 1fr; }
    """

    def __init__(
        self, title: str, *, ylim: tuple[float, float] | None = None, ycap: float | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        # a fixed y range, or a ceiling so that one exploding run does not flatten the others
        self.ylim = ylim
        self.ycap = ycap
        self.curves: list[Curve] = []
        self.marker: float | None = None

    def mark(self, step: float | None) -> None:
        """Mark ``step`` with a vertical line (the time cursor), or nothing (None)."""
        if step != self.marker:
            self.marker = step
            self.refresh()

    def show(self, curves: list[Curve], title: str | None = None) -> None:
        self.curves = curves
        if title is not None:
            self.title = title
        self.refresh()

    def draw(self, width: int, height: int) -> list[StyledLine]:
        return render_curves(self.curves, width, height, self.title, ylim=self.ylim, ycap=self.ycap, marker=self.marker)
