"""Distributions over time: for each hidden layer a heatmap, statistics steps along x, the histogram's bins along
y (high values at the top), density as colour. TensorBoard's "distributions", in a terminal.

Each character cell holds two bins: ``▀`` with the upper bin as its foreground colour and the lower as its
background. Colour is the density relative to the densest bin of the same column (the same time), on a
perceptual ramp, so the shape of every step's distribution shows whatever its spread: ReLU units dying (mass
piling into the bin at 0), tanh saturating (mass at ±1), std-0.01 activations collapsing to a line. Bins
with nothing in them are dark; columns with no histogram are blank. Under each heatmap an optional line
draws the layer's std over time (0 at the bottom of the line, the largest std at the top).

With ``bands``, each column shows instead the percentiles TensorBoard's Distributions tab draws, 0, 7, 16, 50,
84, 93 and 100, as nested bands of one ramp, brighter inward, the median brightest: a layer's spread over time
read at a glance, with no colour scale to interpret.

The widget is given plain :class:`~inittui.series.density.DensityGrid` snapshots (from a
:class:`~inittui.series.density.DistributionHistory`); it re-bins them to its size with numpy, so its cost is set
by its size, not by the length of the run.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.segment import Segment
from textual.strip import Strip

from inittui.core.format import short as format_number
from inittui.dashboard.views import HeatmapPanel
from inittui.series.density import DensityGrid
from inittui.series.spread import spread
from inittui.ui.drawing import Line, blank_lines, colour_ramp, fit, style
from inittui.ui.lines import StripsWidget

UPPER_HALF = "▀"
CURSOR_MARK = "▲"
SPARK = "▁▂▃▄▅▆▇█"
GUTTER = 8  # the bin range's labels (7) and a space
MIN_TIME_COLUMNS = 16
MIN_HEAT_ROWS = 4
GAP = 2
NOTE_STYLE = style("#808080")
EMPTY = "#10101a"  # a bin with nothing in it
GAMMA = 0.5  # lifts the tails, so a few values away from the bulk still show
# viridis, from dark to bright
_RAMP_STOPS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
               "#b5de2b", "#fde725")
LEVELS = 24


# PALETTE[0] is an empty bin; 1…LEVELS the ramp, dark to bright
PALETTE = (EMPTY, *colour_ramp(_RAMP_STOPS, LEVELS))
# the percentile bands, outermost first (TensorBoard's Distributions), and the palette index each is drawn in;
# the bin holding the median is drawn brightest
BANDS = ((0.0, 1.0), (0.07, 0.93), (0.16, 0.84))
BAND_LEVELS = (LEVELS // 4, LEVELS // 2, 3 * LEVELS // 4)
MEDIAN_LEVEL = LEVELS


@dataclass
class HeatmapDrawing:
    """Where one panel was drawn: kept for tests and for the integrator (a time cursor's column)."""

    title: str
    left: int  # screen column of the first time column
    top: int  # screen line of the first heatmap row
    columns: int  # time columns
    rows: int  # heatmap rows (2 bins each)
    low: float
    high: float
    first_step: int | None
    last_step: int | None
    # the first statistics step of each stored column (the grid's), in order
    column_steps: list[int] = field(default_factory=list)

    def column_of_step(self, step: int) -> int | None:
        """The screen column showing ``step`` (the middle one where a stored column spans several), or None
        outside the panel's time span."""
        if self.first_step is None or self.last_step is None or not self.first_step <= step <= self.last_step:
            return None
        stored = bisect.bisect_right(self.column_steps, step) - 1
        if stored < 0:
            return None
        starts = _time_groups(len(self.column_steps), self.columns)
        first = int(np.searchsorted(starts, stored, side="left"))
        last = int(np.searchsorted(starts, stored, side="right")) - 1
        if last < first:  # merged into the column before
            first = last = max(last, 0)
        return self.left + (first + last) // 2

    def cell_of(self, value: float) -> tuple[int, bool] | None:
        """The screen line showing ``value`` and whether in the cell's upper half (the ▀'s colour) or lower
        (its background); None outside the range."""
        if not self.low <= value <= self.high or self.high <= self.low:
            return None
        half = min(int((value - self.low) / (self.high - self.low) * 2 * self.rows), 2 * self.rows - 1)
        return self.top + self.rows - 1 - half // 2, half % 2 == 1

    def row_of(self, value: float) -> int | None:
        """The screen line showing ``value``, or None outside the range."""
        cell = self.cell_of(value)
        return None if cell is None else cell[0]


def density_matrix(grid: DensityGrid) -> np.ndarray:
    """``[columns, bins]``, NaN rows for columns without a histogram, invalid numbers as 0."""
    bins = max((len(row) for row in grid.density), default=0)
    try:
        if bins and all(len(row) == bins for row in grid.density):
            matrix = np.array(grid.density, dtype=np.float64)  # the usual case: one conversion
        else:
            matrix = np.full((len(grid.density), max(bins, 1)), np.nan)
            for index, row in enumerate(grid.density):
                if row and len(row) == bins:
                    matrix[index] = np.asarray(row, dtype=np.float64)
    except (TypeError, ValueError):
        return np.full((len(grid.density), 1), np.nan)
    present = ~np.isnan(matrix).all(axis=1) if bins else np.zeros(len(grid.density), dtype=bool)
    matrix = np.where(np.isfinite(matrix) & (matrix > 0), matrix, 0.0)
    matrix[~present] = np.nan
    return matrix


def _time_groups(count: int, columns: int) -> np.ndarray:
    """For each screen column, the stored column it starts at (stretching few columns, merging many)."""
    return np.minimum((np.arange(columns) * count) // columns, count - 1)


def resample(matrix: np.ndarray, columns: int, bins: int) -> np.ndarray:
    """``[columns, bins]`` screen cells from ``[stored columns, stored bins]``: time by averaging the stored
    columns each screen column covers (or repeating one), bins by overlap (cumulative interpolation)."""
    stored, stored_bins = matrix.shape
    starts = _time_groups(stored, columns)
    if stored > columns:
        present = np.isfinite(matrix[:, 0])
        sums = np.add.reduceat(np.where(present[:, None], matrix, 0.0), starts, axis=0)
        counts = np.add.reduceat(present.astype(np.float64), starts)
        with np.errstate(invalid="ignore"):
            timed = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], np.nan)
    else:
        timed = matrix[starts]
    cumulative = np.concatenate([np.zeros((columns, 1)), np.cumsum(np.nan_to_num(timed), axis=1)], axis=1)
    positions = np.linspace(0, stored_bins, bins + 1)
    whole = np.minimum(positions.astype(np.int64), stored_bins - 1)
    fraction = positions - whole
    values = cumulative[:, whole] + fraction * (cumulative[:, whole + 1] - cumulative[:, whole])
    result = np.clip(np.diff(values, axis=1), 0.0, None)
    result[~np.isfinite(timed[:, 0])] = np.nan
    return result


def levels(cells: np.ndarray) -> np.ndarray:
    """Palette indices: 0 for an empty bin, 1…LEVELS by density relative to the column's densest bin;
    -1 for a column with no histogram."""
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.nanmax(np.where(np.isfinite(cells), cells, 0.0), axis=1, keepdims=True)
        relative = np.where(top > 0, cells / np.where(top > 0, top, 1.0), 0.0)
    index = np.ceil(np.clip(relative, 0.0, 1.0) ** GAMMA * LEVELS).astype(np.int64)
    index[cells <= 0] = 0
    index[~np.isfinite(cells)] = -1
    return index


def band_levels(cells: np.ndarray) -> np.ndarray:
    """Palette indices for the percentile bands: for each column (time) and bin, the innermost band of
    :data:`BANDS` the bin reaches into, MEDIAN_LEVEL for the bin holding the median, 0 outside every band;
    -1 for a column with no histogram."""
    present = np.isfinite(cells).all(axis=1)
    mass = np.where(np.isfinite(cells) & (cells > 0), cells, 0.0)
    total = mass.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        above = np.cumsum(mass, axis=1) / np.where(total > 0, total, 1.0)  # the share at or below each bin's top
    below = above - mass / np.where(total > 0, total, 1.0)  # and below its bottom
    index = np.zeros(cells.shape, dtype=np.int64)
    for (low, high), level in zip(BANDS, BAND_LEVELS):
        # a bin reaches into [low, high] where its share of the mass overlaps it; the outer band where it has any
        reaches = (above > low) & (below < high) if low > 0 else (mass > 0)
        index[reaches] = level
    index[(below < 0.5) & (above >= 0.5) & (mass > 0)] = MEDIAN_LEVEL
    index[~present] = -1
    return index


def _spark(values: list[float | None], top: float) -> list[str]:
    """One character a column: 0 (and below) at the bottom, ``top`` at the top, blank where unknown."""
    if top <= 0 or not math.isfinite(top):
        return [" " if v is None else SPARK[0] for v in values]
    highest = len(SPARK) - 1
    return [" " if v is None else SPARK[int(min(max(v / top, 0.0), 1.0) * highest + 0.5)] for v in values]


def _step_label(step: int) -> str:
    if step < 10_000:
        return str(step)
    if step < 1_000_000:
        return f"{step / 1000:.0f}k" if step >= 100_000 else f"{step / 1000:.1f}k"
    return f"{step / 1e6:.1f}M"


def _std_columns(grid: DensityGrid, columns: int) -> list[float | None]:
    stored = len(grid.std)
    if stored == 0:
        return [None] * columns
    values = np.array([math.nan if v is None or not math.isfinite(v) else v for v in grid.std], dtype=np.float64)
    starts = _time_groups(stored, columns)
    if stored > columns:
        with np.errstate(invalid="ignore"):
            sums = np.add.reduceat(np.nan_to_num(values), starts)
            counts = np.add.reduceat(np.isfinite(values).astype(np.float64), starts)
            result = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    else:
        result = values[starts]
    return [None if not math.isfinite(v) else v for v in result.tolist()]


def panel_lines(panel: HeatmapPanel, width: int, height: int, show_std: bool,
                cursor_step: int | None = None, bands: bool = False) -> tuple[list[Strip], HeatmapDrawing]:
    """One panel, ``height`` lines of ``width`` cells: title, heatmap (or percentile bands), the std line, the
    step axis."""
    grid = panel.grid
    std_rows = 1 if show_std and height >= MIN_HEAT_ROWS + 4 else 0
    rows = max(height - 2 - std_rows, 1)
    columns = max(width - GUTTER, 1)
    first = grid.first_steps[0] if grid.first_steps else None
    last = grid.last_steps[-1] if grid.last_steps else None
    low, high = (grid.low, grid.high) if math.isfinite(grid.low) and math.isfinite(grid.high) else (0.0, 1.0)
    drawing = HeatmapDrawing(panel.title, GUTTER, 1, columns, rows, low, high, first, last, list(grid.first_steps))

    latest_std = next((v for v in reversed(grid.std) if v is not None and math.isfinite(v)), None)
    title = Line(width).add(panel.title, style(panel.colour, bold=True))
    title.add(f"  σ {format_number(latest_std)}", NOTE_STYLE)
    lines = [title.strip()]
    matrix = density_matrix(grid)
    if matrix.shape[0] == 0:
        lines.extend(blank_lines(width, height - 1, "no statistics yet", NOTE_STYLE))
        return lines[:height], drawing

    cells = resample(matrix, columns, 2 * rows)  # [columns, bins], bin 0 at the bottom
    index = band_levels(cells) if bands else levels(cells)
    labels = {0: format_number(high, 2), rows - 1: format_number(low, 2)}
    if low < 0 < high and rows >= 5:
        zero = drawing.row_of(0.0)
        if zero is not None and 1 < zero - drawing.top < rows - 2:
            labels[zero - drawing.top] = "0"
    for row in range(rows):
        upper = index[:, 2 * (rows - 1 - row) + 1]
        lower = index[:, 2 * (rows - 1 - row)]
        segments = [Segment(fit(labels.get(row, ""), GUTTER - 1, right=True) + " ", NOTE_STYLE)]
        # one segment per run of cells with the same two colours
        pair = upper * (LEVELS + 2) + lower
        starts = np.concatenate(([0], np.flatnonzero(np.diff(pair)) + 1)).tolist()
        ends = starts[1:] + [len(pair)]
        for start, end, top, bottom in zip(starts, ends, upper[starts].tolist(), lower[starts].tolist()):
            if top < 0:  # a column without a histogram
                segments.append(Segment(" " * (end - start)))
            else:
                segments.append(Segment(UPPER_HALF * (end - start), style(PALETTE[top], PALETTE[bottom])))
        lines.append(Strip(segments).crop_extend(0, width, None))
    if std_rows:
        stds = _std_columns(grid, columns)
        top_std = max((v for v in stds if v is not None), default=0.0)
        gutter = fit(f"σ≤{format_number(top_std, 2)}", GUTTER - 1, right=True) + " "
        lines.append(Line(width).add(gutter, NOTE_STYLE).add("".join(_spark(stds, top_std)), style(panel.colour)).strip())
    axis = Line(width).add(" " * GUTTER)
    if first is not None and last is not None:
        left, right = f"step {_step_label(first)}", _step_label(last)
        text = list(left.ljust(max(columns - len(right), len(left) + 1)) + right)
        cursor = drawing.column_of_step(cursor_step) if cursor_step is not None else None
        if cursor is not None and cursor - GUTTER < len(text):  # the time cursor: a mark under its column
            position = cursor - GUTTER
            axis.add("".join(text[:position]), NOTE_STYLE).add(CURSOR_MARK, style(bold=True))
            axis.add("".join(text[position + 1 :]), NOTE_STYLE)
        else:
            axis.add("".join(text), NOTE_STYLE)
    lines.append(axis.strip())
    lines.extend(Strip.blank(width) for _ in range(height - len(lines)))
    return lines[:height], drawing


@dataclass
class HeatmapLayout:
    grid_columns: int
    grid_rows: int
    panel_width: int
    panel_height: int
    shown: list[int]  # indices of the panels drawn


def heatmap_layout(count: int, width: int, height: int, show_std: bool,
                   min_heat_rows: int = MIN_HEAT_ROWS) -> HeatmapLayout:
    """Panels in a grid: the arrangement that gives each heatmap the most room, time and bins weighed 3 to 1
    (three time columns per heatmap row); as many panels as fit (each with at least ``min_heat_rows``),
    evenly chosen, when not all do."""
    overhead = 2 + (1 if show_std else 0)
    best: HeatmapLayout | None = None
    best_score = -1.0
    for shown_count in range(count, 0, -1):
        for grid_columns in range(1, shown_count + 1):
            grid_rows = -(-shown_count // grid_columns)
            panel_width = (width - GAP * (grid_columns - 1)) // grid_columns
            panel_height = height // grid_rows
            time_columns, heat_rows = panel_width - GUTTER, panel_height - overhead
            if time_columns < MIN_TIME_COLUMNS or heat_rows < min_heat_rows:
                continue
            score = min(time_columns, 3 * heat_rows)
            if score > best_score:
                best_score = score
                best = HeatmapLayout(grid_columns, grid_rows, panel_width, panel_height, spread(count, shown_count))
        if best is not None:
            return best
    return HeatmapLayout(1, 1, width, height, spread(count, 1))


def render_distributions(
    panels: Sequence[HeatmapPanel], width: int, height: int, show_std: bool = True, heading: str = "",
    message: str = "", cursor_step: int | None = None, min_heat_rows: int = MIN_HEAT_ROWS, bands: bool = False,
) -> tuple[list[Strip], list[HeatmapDrawing]]:
    """Exactly ``height`` lines of ``width`` cells: a heading line, then the panels in a grid; ``cursor_step``
    (a time cursor) is marked ▲ under the column holding it."""
    if width <= 0 or height <= 0:
        return [], []
    if not panels:
        return blank_lines(width, height, message or "no layer statistics yet", NOTE_STYLE), []
    body = height - 1
    layout = heatmap_layout(len(panels), width, body, show_std, min_heat_rows)
    steps = max((p.grid.steps_per_column for p in panels), default=1)
    note = f"{steps} step{'s' if steps > 1 else ''} a column"
    if bands:  # said where the bands' colour key does not fit
        note = f"percentile bands · {note}"
    if len(layout.shown) < len(panels):
        hidden = [panels[index].title for index in range(len(panels)) if index not in layout.shown]
        note += f" · not shown: {_names(hidden)}"
    head = Line(width).add(heading + ("  " if heading else ""), style(bold=True)).add(note, NOTE_STYLE)
    if bands:
        _band_key(head, width)
    # the colour scale, where the heading leaves room for it: a bin's share of its column's densest bin
    scale, low, high = 8, "0 ", " densest"
    if not bands and width - head.used >= 2 + len(low) + scale + len(high):
        head.pad_to(width - len(low) - scale - len(high), NOTE_STYLE).add(low, NOTE_STYLE)
        for level in range(scale):
            head.add("█", style(PALETTE[round(level * LEVELS / (scale - 1))]))
        head.add(high, NOTE_STYLE)
    canvas: list[list[Strip]] = []
    drawings = []
    for position, panel_index in enumerate(layout.shown):
        grid_row, grid_column = divmod(position, layout.grid_columns)
        lines, drawing = panel_lines(panels[panel_index], layout.panel_width, layout.panel_height, show_std,
                                     cursor_step, bands)
        drawing.left += grid_column * (layout.panel_width + GAP)
        drawing.top += 1 + grid_row * layout.panel_height
        drawings.append(drawing)
        canvas.append(lines)
    result = [head.strip()]
    for grid_row in range(layout.grid_rows):
        members = canvas[grid_row * layout.grid_columns : (grid_row + 1) * layout.grid_columns]
        for line in range(layout.panel_height):
            pieces = []
            for index, lines in enumerate(members):
                if index:
                    pieces.append(Strip.blank(GAP))
                pieces.append(lines[line])
            result.append(Strip.join(pieces).crop_extend(0, width, None))
    result.extend(Strip.blank(width) for _ in range(height - len(result)))
    return result[:height], drawings


def _band_key(head: Line, width: int) -> None:
    """What each band's colour is, at the heading's right, where it leaves room."""
    parts = [("p0–100 ", BAND_LEVELS[0]), (" p7–93 ", BAND_LEVELS[1]), (" p16–84 ", BAND_LEVELS[2]),
             (" median ", MEDIAN_LEVEL)]
    needed = sum(len(text) + 1 for text, _ in parts)
    if width - head.used < 2 + needed:
        return
    head.pad_to(width - needed, NOTE_STYLE)
    for text, level in parts:
        head.add(text, NOTE_STYLE).add("█", style(PALETTE[level]))


def _names(titles: list[str], most: int = 4) -> str:
    """``L2``, ``L2, L4``, or the first few of many and how many in all."""
    return ", ".join(titles) if len(titles) <= most else f"{', '.join(titles[:most])}, … ({len(titles)})"


class DistributionsOverTime(StripsWidget):
    """Heatmaps of the layers it was last given; see the module's docstring.

    ``show(panels, heading, message, cursor_step, bands)`` with one :class:`HeatmapPanel` per layer; ``show_std``
    (default on) adds the std line under each heatmap; ``cursor_step`` marks a time cursor's step under every
    heatmap (None: no mark, the live view); ``bands`` draws percentile bands instead of the heatmap.
    """

    DEFAULT_CSS = """
    DistributionsOverTime { height: 1fr; }
    """

    def __init__(self, *, show_std: bool = True, min_heat_rows: int = MIN_HEAT_ROWS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_heat_rows = min_heat_rows
        self.panels: list[HeatmapPanel] = []
        self.heading = ""
        self.message = ""
        self.show_std = show_std
        self.cursor_step: int | None = None
        self.bands = False
        self.drawings: list[HeatmapDrawing] = []

    def show(self, panels: Sequence[HeatmapPanel], heading: str = "", message: str = "",
             cursor_step: int | None = None, bands: bool = False) -> None:
        self.panels = list(panels)
        self.heading = heading
        self.message = message
        self.cursor_step = cursor_step
        self.bands = bands
        self.redraw()

    def render_strips(self, width: int, height: int) -> list[Strip]:
        lines, self.drawings = render_distributions(
            self.panels, width, height, show_std=self.show_std, heading=self.heading, message=self.message,
            cursor_step=self.cursor_step, min_heat_rows=self.min_heat_rows, bands=self.bands,
        )
        return lines
