"""Loss and accuracy curves of every run overlaid, drawn in braille on the UI thread.

The cost of a frame is bounded by the plot's size, not by the data: each curve is first reduced to one
vertical span per pixel column (:mod:`inittui.ui.braille`), so a million points, a spike or a run that
diverged to 1e30 cost what a short curve costs. Values beyond the y axis are drawn at its edge, and where a
curve leaves the plot a ▲ or ▼ says so. The y axis can be logarithmic (ticks in real units: 0.1, 0.2, 1),
each line can be smoothed by an exponential moving average with the raw line faint behind it, and x can be
counted in epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any

import numpy as np

from inittui.core.format import short as format_number
from inittui.dashboard.views import Curve, LegendEntry, Points, SeedBand
from inittui.series.curve import MinMaxSeries, envelopes
from inittui.ui.braille import BRAILLE, column_spans, pixel_rows, rasterise
from inittui.ui.lines import LinesWidget, StyledLine

POINT = "●"
# the time cursor's step: a vertical line through the cells no curve uses
MARK, MARK_STYLE = "┊", "bold yellow"
ABOVE, BELOW = "▲", "▼"
MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 4, 2
# axes end within ±this: beyond it nothing can be told apart on a screen, and spans stay finite
AXIS_LIMIT = 1e300
# a log axis shows at most this many decades below its top: a run that reached 1e-30 is clipped and marked
MAX_LOG_DECADES = 6
# the weight of the past in the exponential moving average (TensorBoard's "smoothing"), and the number of
# points smoothed per matrix product
EMA_WEIGHT = 0.9
_EMA_BLOCK = 32
# with more runs than this, every run but the selected one is drawn dimmed
DIM_ABOVE = 6
# the legend takes a second line only where the plot keeps at least this many rows
LEGEND_ROOM = 10


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


def log_ticks(low: float, high: float, count: int) -> list[float]:
    """At most ``count`` round values in real units between 10**low and 10**high (``low`` and ``high`` are
    log10 values): whole decades, or 1-2-5 or 1..9 times a power of ten where there is room; within less than
    one such step, round linear values (2.25, 2.3, 2.35)."""
    if not (math.isfinite(low) and math.isfinite(high)) or count < 1:
        return []
    if high - low > count:  # many decades: every k-th one
        every = math.ceil((high - low) / max(count - 1, 1))
        return [10.0**e for e in range(math.ceil(low / every) * every, math.floor(high) + 1, every)][:count]
    first, last = math.floor(low), math.ceil(high)
    best: list[float] = []
    for multipliers in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [
            m * 10.0**e
            for e in range(first, last + 1)
            for m in multipliers
            if low - 1e-9 <= math.log10(m) + e <= high + 1e-9
        ]
        if len(ticks) > count:
            break
        best = ticks
    if len(best) >= 2:
        return best
    return [value for value in nice_ticks(10.0**low, 10.0**high, count) if value > 0]


@lru_cache(maxsize=4)
def _ema_weights(weight: float) -> tuple[np.ndarray, np.ndarray]:
    """For one block: weights[i, j], the share of value j in the average at i, and the share of the previous
    block's last average in each (made once: they cost more than the averaging)."""
    index = np.arange(_EMA_BLOCK)
    lag = index[:, None] - index[None, :]
    weights = np.where(lag >= 0, (1 - weight) * weight ** np.maximum(lag, 0), 0.0)
    return weights, weight ** (index + 1)


def ema(values: np.ndarray, weight: float = EMA_WEIGHT) -> np.ndarray:
    """The exponential moving average of ``values``, debiased as TensorBoard does: s_k = w·s_(k-1) + (1-w)·v_k
    over the finite values, each divided by 1 - w^(k+1). NaN and ±inf are passed through as they are and do
    not enter the average (the raw curve drawn behind shows them).

    Vectorised by blocks: within a block of B values the average is one product with a B×B matrix; then each
    block's start carries the previous block's last average, a scalar recurrence over the blocks only.
    """
    values = np.asarray(values, dtype=np.float64)
    result = values.copy()
    finite = np.isfinite(values)
    given = np.clip(values[finite], -AXIS_LIMIT, AXIS_LIMIT)
    if given.size == 0:
        return result
    block = _EMA_BLOCK
    weights, carried = _ema_weights(weight)
    padded = np.zeros(math.ceil(given.size / block) * block)
    padded[: given.size] = given
    averages = padded.reshape(-1, block) @ weights.T
    decay = weight**block
    # the average at each block's end, the carry included: last_b = own_b + w^B · last_(b-1)
    ends = accumulate(averages[:-1, -1].tolist(), lambda previous, own: own + decay * previous)
    averages += np.array([0.0, *ends])[:, None] * carried
    debiased = averages.reshape(-1)[: given.size] / (1 - weight ** np.arange(1, given.size + 1))
    result[finite] = debiased
    return result


def log_values(values: np.ndarray) -> np.ndarray:
    """log10 of every value: zero and negative values are -inf (below any log axis), NaN stays NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.where(values > 0, values, 1.0))
    return np.where(values > 0, logs, np.where(np.isnan(values), np.nan, -np.inf))


def _values(curve: Curve) -> list[np.ndarray]:
    """Every value a curve holds (a bounded curve's bucket extremes; each seed's, for a band)."""
    if isinstance(curve.series, Points):
        return [_as_array(curve.series.y)]
    result = []
    for series in curve.series.seeds if isinstance(curve.series, SeedBand) else [curve.series]:
        filled = np.flatnonzero(np.array(series.count))
        result.append(np.concatenate([np.array(series.minimum)[filled], np.array(series.maximum)[filled]]))
    return result


def spans_a_decade(curves: Sequence[Curve], ycap: float | None = None) -> bool:
    """Whether the positive finite values (up to ``ycap``) differ by more than 10×: log scale then reads best."""
    low, high = math.inf, 0.0
    for values in (values for curve in curves for values in _values(curve)):
        values = values[np.isfinite(values) & (values > 0)]
        if ycap is not None:
            values = np.minimum(values, ycap)
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    return high > 10 * low


def _extent(curve: Curve) -> float | None:
    """The last step a curve reaches, or None when it has nothing."""
    if isinstance(curve.series, MinMaxSeries):
        return None if curve.series.last_step is None else float(curve.series.last_step)
    if isinstance(curve.series, SeedBand):
        steps = [seed.last_step for seed in curve.series.seeds if seed.last_step is not None]
        return float(max(steps)) if steps else None
    x = _as_array(curve.series.x)
    x = x[np.isfinite(x)]
    return float(x.max()) if x.size else None


def curve_arrays(curves: Sequence[Curve], columns: int, start: float, stop: float) -> list[tuple[np.ndarray, ...]]:
    """For each curve, (x, y) of its line as drawn raw and (x, y) of its means, in steps, at ``columns``
    columns over [start, stop]: a bounded curve gives each column's lowest and highest value (its mean for
    smoothing); a seed band gives each column's lowest and highest value over its seeds and the mean over the
    seeds of their column means; points are drawn as they are, those in the steps shown."""
    bounded = [curve.series for curve in curves if isinstance(curve.series, MinMaxSeries)]
    drawn = iter(envelopes(bounded, columns, start, stop))
    result = []
    for curve in curves:
        if isinstance(curve.series, MinMaxSeries | SeedBand):
            series = curve.series
            bounds = next(drawn) if isinstance(series, MinMaxSeries) else _band(series, columns, start, stop)
            steps, low, high, mean = bounds
            result.append((np.repeat(steps, 2), np.column_stack((low, high)).reshape(-1), steps, mean))
            continue
        x, y = _as_array(curve.series.x), _as_array(curve.series.y)
        if x.shape != y.shape:
            x, y = np.empty(0), np.empty(0)
        inside = (x >= start) & (x <= stop)
        x, y = x[inside], y[inside]
        result.append((x, y, x, y))
    return result


def _band(band: SeedBand, columns: int, start: float, stop: float) -> tuple[np.ndarray, ...]:
    """(steps, low, high, mean) of a seed band at ``columns`` columns over [start, stop]: per column, the lowest
    and highest of its seeds there, and the mean of the seeds' means (a column's step is the same for every
    seed)."""
    seeds = envelopes(band.seeds, columns, start, stop)
    steps = np.concatenate([envelope[0] for envelope in seeds])
    if steps.size == 0:
        return steps, steps, steps, steps
    columns_at, where = np.unique(steps, return_inverse=True)
    low = np.full(len(columns_at), np.inf)
    high = np.full(len(columns_at), -np.inf)
    total = np.zeros(len(columns_at))
    count = np.zeros(len(columns_at))
    np.minimum.at(low, where, np.concatenate([envelope[1] for envelope in seeds]))
    np.maximum.at(high, where, np.concatenate([envelope[2] for envelope in seeds]))
    np.add.at(total, where, np.concatenate([envelope[3] for envelope in seeds]))
    np.add.at(count, where, 1.0)
    return columns_at, low, high, total / count


def render_legend(entries: Sequence[LegendEntry], total: int, width: int, max_lines: int = 1) -> list[StyledLine]:
    """At most ``max_lines`` lines: ``● name`` per entry in its colour, and how many of the ``total`` runs are
    not named."""
    lines: list[StyledLine] = [[]]
    used = named = 0
    for entry in entries:
        text = f"● {entry.label}"
        rest = total - named - 1
        last_line = len(lines) == max_lines
        gap = 2 if lines[-1] else 0
        if used + gap + len(text) + (len(f"  +{rest}") if rest and last_line else 0) > width:
            if last_line or not lines[-1]:
                break
            lines.append([])  # on the next line
            used, gap = 0, 0
            if len(text) + (len(f"  +{rest}") if rest and len(lines) == max_lines else 0) > width:
                break
        if gap:
            lines[-1].append(("  ", ""))
        lines[-1].append((text, f"bold {entry.colour}" if entry.selected else entry.colour))
        used += gap + len(text)
        named += 1
    if total > named:
        more = f"{'  ' if lines[-1] else ''}+{total - named}"
        lines[-1].append((more[: max(width - used, 0)], "dim"))
    return [line for line in lines if line]


def _epoch_ticks(low: float, high: float, count: int) -> list[float]:
    """Whole epochs between ``low`` and ``high``, 1, 2 or 5 × 10^k apart, at most ``count``."""
    raw = (high - low) / max(count - 1, 1)
    if raw > 1e15:  # beyond whole numbers a float can count: round values instead
        return nice_ticks(low, high, count)
    power = 10 ** max(math.floor(math.log10(raw)), 0) if raw > 0 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [float(e) for e in range(math.ceil(low / step) * step, math.floor(high) + 1, step)][:count] or [low]


def _curve_style(curve: Curve, dimmed: bool) -> str:
    if curve.selected:
        return f"bold {curve.colour}"
    return f"dim {curve.colour}" if dimmed else curve.colour


class Canvas:
    """A plot area of ``width`` × ``height`` cells: braille dots per curve, the topmost curve wins a cell."""

    def __init__(self, width: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.width, self.height = width, height
        self.x_range, self.y_range = x_range, y_range
        self.codes = np.zeros((height, width), dtype=np.int64)
        self.glyphs = np.full((height, width), "", dtype=object)
        self.owner = np.full((height, width), -1, dtype=np.int64)

    def lines(self, indices: Sequence[int], lines: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Draw lines in order (later ones on top); ``indices`` name their styles."""
        if not lines:
            return
        low, high = column_spans(lines, self.x_range, self.width * 2)
        code, owner = rasterise(low, high, self.y_range, self.width, self.height)
        owned = owner >= 0
        self.codes[owned] = code[owned]
        self.glyphs[owned] = ""
        self.owner[owned] = np.asarray(indices)[owner[owned]]
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
        row = pixel_rows(y, self.y_range, self.height * 4) // 4
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

    def styled_lines(self, styles: Sequence[str]) -> list[StyledLine]:
        """One line per cell row, consecutive cells of one curve in one run."""
        chars = np.where(self.glyphs != "", self.glyphs, BRAILLE[self.codes])
        result = []
        for row in range(self.height):
            owners = self.owner[row]
            changes = np.flatnonzero(np.diff(owners)) + 1
            line: StyledLine = []
            for start, end in zip(np.concatenate(([0], changes)), np.concatenate((changes, [self.width]))):
                owner = int(owners[start])
                line.append(("".join(chars[row, start:end]), styles[owner] if owner >= 0 else ""))
            result.append(line)
        return result


def _y_range(arrays: Sequence[np.ndarray], ycap: float | None, log: bool) -> tuple[float, float]:
    """The y axis (log10 values when ``log``): the data's range, up to ``ycap``, with a margin at the top."""
    if log:
        positive = [values[values > 0] for values in arrays]
        found = _finite_range(positive)
        if found is None:
            return (-1.0, 1.0)
        top = min(found[1], ycap) if ycap is not None else found[1]
        top_log = math.log10(top)
        low_log = max(math.log10(min(found[0], top)), top_log - MAX_LOG_DECADES)
        if top_log - low_log < 0.1:
            return (low_log - 0.5, top_log + 0.5)
        margin = 0.05 * (top_log - low_log)
        return (low_log - margin, top_log + margin)
    found = _finite_range(arrays)
    top = found[1] if found else 1.0
    if ycap is not None:
        top = min(top, ycap)
    low = 0.0 if ycap is not None or not found else min(found[0], 0.0)
    return (low, top + 0.05 * (top - low) if top > low else low + max(1.0, abs(low)))


def render_curves(
    curves: Sequence[Curve],
    width: int,
    height: int,
    title: str = "",
    *,
    ylim: tuple[float, float] | None = None,
    ycap: float | None = None,
    log: bool = False,
    smooth: bool = False,
    steps_per_epoch: float | None = None,
    legend: Sequence[LegendEntry] = (),
    runs: int = 0,
    marker: float | None = None,
    window: tuple[float, float] | None = None,
) -> list[StyledLine]:
    """The chart (title, legend, y axis with labels, plot, x axis with labels): at most ``height`` lines of
    ``width``.

    ``log``: a log10 y axis, ticks in real units. ``smooth``: each line as its moving average (:func:`ema`)
    over the raw line drawn faint. ``steps_per_epoch``: x (steps) counted in epochs, ticks on whole epochs.
    ``legend``: the runs named above the plot, of ``runs`` in all. The selected curve is drawn last and bold;
    with more than DIM_ABOVE lines the others are dimmed. ``marker``: a step marked by a vertical line (the time
    cursor's). ``window``: only the steps [start, stop] (a zoomed chart), decimated to the width as the whole
    run would be; by default every step from 0 to the last.
    """
    if width < 1 or height < 1:
        return []
    lines: list[StyledLine] = [[(title[:width].center(width), "bold")]]
    if legend and height > 3 + MIN_PLOT_HEIGHT:
        # a second legend line only where the plot keeps LEGEND_ROOM rows
        room = 2 if height - 5 >= LEGEND_ROOM else 1
        # a column short of the width: the chart beside it starts with its axis labels
        lines += render_legend(legend, max(runs, len(legend)), width - 1, room)
    plot_height = height - len(lines) - 2
    if plot_height < MIN_PLOT_HEIGHT:
        return lines[:1]

    # every curve at the chart's resolution over the same steps, so that their columns line up
    if window is None:
        extents = (extent for extent in map(_extent, curves) if extent is not None and math.isfinite(extent))
        start, stop = 0.0, max(extents, default=0.0)
    else:
        start, stop = window
    arrays, means = [], []
    for x, y, mean_x, mean_y in curve_arrays(curves, 2 * width, start, stop):
        if steps_per_epoch:
            x, mean_x = x / steps_per_epoch, mean_x / steps_per_epoch
        arrays.append((x, y))
        means.append((mean_x, mean_y))
    y_range = ylim if ylim is not None and not log else _y_range([y for _, y in arrays], ycap, log)
    x_range = _finite_range([x for x, _ in arrays]) or (0.0, 1.0)
    if window is not None:  # the axis is the window, wherever the data in it begins and ends
        x_range = (start / steps_per_epoch, stop / steps_per_epoch) if steps_per_epoch else (start, stop)
    elif steps_per_epoch:
        x_range = (min(x_range[0], 0.0), max(x_range[1], 1.0))  # at least the first whole epoch
    if not x_range[1] > x_range[0]:  # one x: half a unit either side, or a hair where 0.5 is lost in rounding
        pad = max(0.5, abs(x_range[0]) * 1e-9)
        x_range = (x_range[0] - pad, x_range[0] + pad)

    tick_count = max(2, min(6, plot_height // 3 + 1))
    y_span = y_range[1] - y_range[0]
    if log:
        y_ticks = log_ticks(*y_range, count=tick_count)
        tick_rows = {round((y_range[1] - math.log10(v)) / y_span * (plot_height - 1)): v for v in y_ticks}
        real_span = 10.0 ** y_range[1] - 10.0 ** y_range[0]
        labels = {row: format_number(v, 2) if 10.0 ** y_span > 2 else tick_label(v, real_span)
                  for row, v in tick_rows.items()}
    else:
        y_ticks = nice_ticks(*y_range, count=tick_count)
        labels = {round((y_range[1] - v) / y_span * (plot_height - 1)): tick_label(v, y_span) for v in y_ticks}
    label_width = max((len(label) for label in labels.values()), default=1)
    plot_width = width - label_width - 1
    if plot_width < MIN_PLOT_WIDTH:
        return lines[:1]

    plotted_y = [log_values(y) if log else y for _, y in arrays]
    line_curves = [index for index, curve in enumerate(curves) if not curve.scatter]
    dimmed = len(line_curves) > DIM_ABOVE and any(curves[index].selected for index in line_curves)
    styles = [_curve_style(curve, dimmed) for curve in curves]
    # lines in order, the selected one last; under smoothing the raw lines first, all faint
    line_curves.sort(key=lambda index: curves[index].selected)
    indices: list[int] = []
    drawn: list[tuple[np.ndarray, np.ndarray]] = []
    # a seed group's band (lowest to highest seed per column) first, faint, under every line
    bands = [index for index in line_curves if isinstance(curves[index].series, SeedBand)]
    band_style = len(styles)
    styles += [f"dim {curves[index].colour}" for index in bands]
    indices += [band_style + position for position in range(len(bands))]
    drawn += [(arrays[index][0], plotted_y[index]) for index in bands]
    if smooth:
        # among dimmed lines another faint one would not be seen: then only the selected run's raw line
        raw_lines = [index for index in line_curves if index not in bands and (curves[index].selected or not dimmed)]
        faint = len(styles)
        styles += [f"dim {curves[index].colour}" for index in raw_lines]
        indices += [faint + position for position in range(len(raw_lines))]
        drawn += [(arrays[index][0], plotted_y[index]) for index in raw_lines]
    for index in line_curves:
        if smooth or index in bands:  # a band's line is its mean over the seeds
            mean_x, mean_y = means[index]
            mean_y = ema(mean_y) if smooth else mean_y
            drawn.append((mean_x, log_values(mean_y) if log else mean_y))
        else:
            drawn.append((arrays[index][0], plotted_y[index]))
        indices.append(index)
    canvas = Canvas(plot_width, plot_height, x_range, y_range)
    canvas.lines(indices, drawn)
    # then the points over them, the selected run's last
    for index in sorted((i for i, c in enumerate(curves) if c.scatter), key=lambda i: curves[i].selected):
        canvas.points(index, arrays[index][0], plotted_y[index])
    if marker is not None and math.isfinite(marker):
        canvas.mark(len(styles), marker / steps_per_epoch if steps_per_epoch else marker)
        styles.append(MARK_STYLE)
    for row, plotted in enumerate(canvas.styled_lines(styles)):
        label = labels.get(row)
        lines.append([((label or "").rjust(label_width) + ("┤" if label is not None else "│"), "dim"), *plotted])

    x_span = x_range[1] - x_range[0]
    if steps_per_epoch:  # whole epochs have short labels: room for more of them
        x_ticks = _epoch_ticks(*x_range, count=max(2, min(12, plot_width // 6)))
    else:
        x_ticks = nice_ticks(*x_range, count=max(2, min(8, plot_width // 10)))
    axis = ["─"] * plot_width
    under = [" "] * width
    for value in x_ticks:
        column = round((value - x_range[0]) / x_span * (plot_width - 1))
        axis[column] = "┬"
        label = f"{value:g}" if steps_per_epoch else tick_label(value, x_span)
        start = max(0, min(label_width + 1 + column - len(label) // 2, width - len(label)))
        if len(label) <= width and all(c == " " for c in under[max(0, start - 1) : start + len(label) + 1]):
            under[start : start + len(label)] = label
    if steps_per_epoch:  # the unit, in the rightmost gap the tick labels leave
        unit = "epoch"
        for start in range(width - len(unit) - 2, label_width, -1):
            if all(c == " " for c in under[start - 1 : start + len(unit) + 1]):
                under[start : start + len(unit)] = unit
                break
    lines.append([(" " * label_width + "└" + "".join(axis), "dim")])
    lines.append([("".join(under).rstrip(), "dim")])
    return lines


def plot_columns(lines: Sequence[StyledLine]) -> int:
    """The width of the plot area in a chart :func:`render_curves` drew (0: too small to have one)."""
    axis = "".join(text for text, _ in lines[-2]) if len(lines) >= 2 else ""
    return len(axis) - axis.index("└") - 1 if "└" in axis else 0


class CurvePlot(LinesWidget):
    """Draws the curves it was last given at its current size.

    Its log scale follows the user's choice, or, while there is none, is on when the values span more than 10×
    (:func:`spans_a_decade`). It can take the focus (tab, a click), so that ``f`` knows which chart to open.
    """

    DEFAULT_CSS = """
    CurvePlot { width: 1fr; height: 1fr; }
    CurvePlot:focus { background: $boost; }
    """
    can_focus = True
    # the title names the hidden runs, rather than counting them
    NAMES_HIDDEN = False

    def __init__(
        self,
        title: str,
        *,
        metric: str = "loss",
        ylim: tuple[float, float] | None = None,
        ycap: float | None = None,
        can_log: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        # what it charts ("loss", "accuracy"): the chart f opens full screen
        self.metric = metric
        # a fixed y range, or a ceiling so that one exploding run does not flatten the others
        self.ylim = ylim
        self.ycap = ycap
        self.can_log = can_log
        # None: chosen from the data; True or False: the user's choice
        self.log_choice: bool | None = None
        self.smooth = False
        self.steps_per_epoch: float | None = None
        self.curves: list[Curve] = []
        self.legend: list[LegendEntry] = []
        self.runs = 0
        self.marker: float | None = None
        self.hidden: list[str] = []

    @property
    def log(self) -> bool:
        """Whether the y axis is logarithmic now."""
        if not self.can_log:
            return False
        return self.log_choice if self.log_choice is not None else spans_a_decade(self.curves, self.ycap)

    def show(
        self,
        curves: list[Curve],
        *,
        steps_per_epoch: float | None = None,
        legend: Sequence[LegendEntry] = (),
        runs: int = 0,
        log_choice: bool | None = None,
        smooth: bool = False,
        marker: float | None = None,
        hidden: Sequence[str] = (),
    ) -> None:
        """Draw ``curves`` (x counted in epochs when ``steps_per_epoch`` is given), ``legend`` naming some of
        ``runs`` runs, on the log axis the user chose (None: from the data), smoothed or not, with the time
        cursor's ``marker`` step; the title counts the runs ``hidden`` (their names)."""
        self.curves = curves
        self.steps_per_epoch = steps_per_epoch
        self.legend, self.runs = list(legend), runs
        self.log_choice, self.smooth, self.marker = log_choice, smooth, marker
        self.hidden = list(hidden)
        self.redraw()

    def full_title(self) -> str:
        """The title with the modes it is drawn in, and how many runs are hidden."""
        modes = [mode for mode, on in (("log", self.log), ("EMA", self.smooth)) if on]
        title = f"{self.title} ({', '.join(modes)})" if modes else self.title
        if not self.hidden:
            return title
        return f"{title} · hidden: {', '.join(self.hidden)}" if self.NAMES_HIDDEN else f"{title} · {len(self.hidden)} hidden (x)"

    def draw(self, width: int, height: int) -> list[StyledLine]:
        log = self.log
        title = self.full_title()
        return render_curves(self.curves, width, height, title, ylim=self.ylim, ycap=self.ycap, log=log,
                             smooth=self.smooth, steps_per_epoch=self.steps_per_epoch, legend=self.legend,
                             runs=self.runs, marker=self.marker)
