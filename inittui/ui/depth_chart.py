"""The depth view: how the signal changes from layer to layer, for one run or several, each in its colour.

Up to six panels share the x axis (hidden layer 1…L), each with its own y axis labelled in real units:

1. activation std per layer (solid) and the mean-field prediction at initialisation (dotted);
2. the backpropagated gradient: std of ∂loss/∂activation (solid) beside the weight-gradient norm (dotted);
3. the update-to-weight ratio ‖ΔW‖/‖W‖ (solid), with a reference line at 1e-3;
4. the Jacobian spectrum: s_max / median of J_l = D_l W_l … D_2 W_2 against l (solid), with a reference line at
   1 (isometry), and the selected run's s_max, median and ratio written in its title;
5. the selected run's whole spectrum, J's singular values pooled over the images, as a histogram on a log axis
   of s (its own x axis, not the layer: bars of the logged half-decade bins, s = 1 marked ┊), zoomed to the
   bins it occupies and s = 1, with the same numbers in its title;
6. two images' correlation (cosine of their pre-activations) per layer, measured (solid) and by the mean-field
   correlation map (dotted), on a linear axis, with the selected run's predicted c* and xi_c in its title.

Stacked rather than overlaid or switched: they are in different units and decades apart, so one axis
would flatten each against the others, while a switch would hide the point of the view, reading one layer
down all of them (the activations vanish where the gradients do, and the updates freeze there). Every panel
that fits with 10 plot rows is shown; when not all do, at least three from the ``focus`` panel on (wrapping),
or one alone where three do not fit, and the caller's ``focus`` moves on (``v``). The overview's depth view
keeps the first three (:data:`OVERVIEW_PANELS`).

A seed group's series (``--seeds``) is its mean per layer, drawn as a run's is, over a faint band from its
lowest to its highest seed on the solid line of every panel; the legend says so.

Lines are braille (2×4 dots a cell), decimated per dot column by min and max, so the cost is bounded by the
widget's size for any number of layers. Values beyond the axis (zero, negative, 1e-30, 1e30, inf) are drawn
at its edge with ▲ or ▼ in the run's colour; missing values (None, NaN) leave a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from textual.strip import Strip

from inittui.core.events import SPECTRUM_BIN_DECADES, SPECTRUM_BINS, SPECTRUM_LOG10_LOW
from inittui.dashboard.views import DepthSeries
from inittui.ui.braille import BRAILLE, column_spans, rasterise
from inittui.ui.drawing import Line, LinearAxis, LogAxis, blank_lines, decade_label, fit, style
from inittui.ui.histograms import BLOCKS, clean_counts, rebin
from inittui.ui.lines import StripsWidget

MIN_PLOT_ROWS = 10
GUTTER = 7  # tick label (6) and the axis line
ABOVE, BELOW = "▲", "▼"
REFERENCE_MARK = "╌"
AXIS_STYLE = style("#808080")
TITLE_STYLE = style(bold=True)
NOTE_STYLE = style("#808080")


@dataclass(frozen=True)
class DepthPanel:
    key: str
    title: str
    solid: str  # the DepthSeries field drawn solid
    dotted: str | None  # and the one drawn dotted
    legend: str
    reference: float | None = None
    # the DepthSeries field with the numbers written after the legend (the selected run's: the last series')
    note: str | None = None
    linear: bool = False  # a correlation's linear axis, not a log one
    histogram: bool = False  # ``solid`` is the selected run's counts over log10 s, drawn as bars on an s axis


PANELS = (
    DepthPanel("activations", "activation std", "activation_std", "predicted_std",
               "─ measured  ┈ mean-field prediction at init"),
    DepthPanel("gradients", "backpropagated gradient", "gradient_std", "weight_gradient_norm",
               "─ std ∂loss/∂activation  ┈ ‖∂loss/∂W‖"),
    DepthPanel("updates", "update ratio ‖ΔW‖/‖W‖", "update_ratio", None, "─ per layer  ╌ 1e-3", reference=1e-3),
    DepthPanel("spectrum", "J_l s_max/median", "prefix_ratio", None, "─ Jacobian J_l = D_l W_l … D_2 W_2  ╌ 1",
               reference=1.0, note="spectrum_note"),
    DepthPanel("histogram", "J's singular values s", "log10_histogram", None,
               "█ selected run, per half decade of s  ┊ s = 1", note="spectrum_note", histogram=True),
    DepthPanel("correlation", "correlation of two images", "correlation", "predicted_correlation",
               "─ measured  ┈ c-map", note="correlation_note", linear=True),
)
OVERVIEW_PANELS = PANELS[:3]
# where not every panel fits: this many at least, or one alone
PANEL_WINDOW = 3


def _matrix(series: Sequence[DepthSeries], field: str, layers: int) -> np.ndarray:
    """``[series, layers]`` floats, NaN where missing; any value that is not a number counts as missing."""
    return _rows([getattr(item, field) for item in series], layers)


def _rows(lines: Sequence[Sequence[object]], layers: int) -> np.ndarray:
    """``[lines, layers]`` floats of per-layer values, NaN where missing or not a number."""
    matrix = np.full((len(lines), layers), np.nan)
    for row, line in enumerate(lines):
        values = list(line)[:layers]
        try:
            matrix[row, : len(values)] = np.array(values, dtype=np.float64)  # None becomes NaN
        except (TypeError, ValueError):  # something that is not a number: that value is missing
            for column, value in enumerate(values):
                if isinstance(value, (int, float)):
                    matrix[row, column] = value
    return matrix


def layer_positions(layers: int, dot_columns: int) -> np.ndarray:
    """The dot column of each hidden layer: layer 1 at the left edge, layer L at the right."""
    if layers == 1:
        return np.array([(dot_columns - 1) / 2])
    return np.arange(layers) * (dot_columns - 1) / (layers - 1)


def _layer_ticks(layers: int, plot_width: int) -> list[tuple[int, str]]:
    """(cell column, label) for the x axis: the first and last layer and round numbers between, not touching."""
    if layers <= 0 or plot_width <= 0:
        return []
    cells = layer_positions(layers, 2 * plot_width) / 2
    step = next((s for s in (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000)
                 if plot_width / max(layers / s, 1) >= 4), layers)
    wanted = sorted({1, layers, *range(step, layers + 1, step)})
    ticks: list[tuple[int, str]] = []
    taken_until = -1
    for layer in wanted:
        label = str(layer)
        column = int(cells[layer - 1])
        start = min(max(column - len(label) // 2, 0), max(plot_width - len(label), 0))
        if start > taken_until + 1 or layer == layers:
            if layer == layers and ticks and start <= taken_until + 1:
                ticks.pop()  # the last layer's label wins over its neighbour's
            ticks.append((start, label))
            taken_until = start + len(label)
    return ticks


@dataclass
class PanelDrawing:
    """What was drawn for one panel: kept for tests and the integrator (which row a value landed on)."""

    panel: DepthPanel
    top: int  # the screen line of its first plot row
    rows: int
    axis: LogAxis | LinearAxis | None

    def row_of(self, value: float) -> int | None:
        """The screen line a value is drawn on (clipped to the edge rows), or None for missing."""
        if self.axis is None or value is None or math.isnan(value):
            return None
        dot = self.axis.dot(value)
        dot = min(max(dot, 0.0), self.axis.dots - 1.0)
        return self.top + (self.rows - 1 - int(round(dot)) // 4)


def _draw_panel(
    panel: DepthPanel, series: Sequence[DepthSeries], layers: int, width: int, rows: int, top: int
) -> tuple[list[Strip], PanelDrawing]:
    """The panel's plot rows (``rows`` lines of ``width`` cells), gutter included."""
    if panel.histogram:
        return _draw_histogram(panel, series[-1], width, rows, top)
    plot_width = max(width - GUTTER, 1)
    dot_columns, dot_rows = 2 * plot_width, 4 * rows
    solid = _matrix(series, panel.solid, layers)
    dotted = _matrix(series, panel.dotted, layers) if panel.dotted else np.empty((0, layers))
    # seed groups' bands: the lowest and the highest seed per layer, of the solid line
    banded = [item for item in series if panel.solid in item.seed_range]
    lowest = _rows([item.seed_range[panel.solid][0] for item in banded], layers)
    highest = _rows([item.seed_range[panel.solid][1] for item in banded], layers)
    every = np.concatenate([solid.ravel(), dotted.ravel(), lowest.ravel(), highest.ravel()])
    include = (panel.reference,) if panel.reference else ()
    axis = LinearAxis.correlation(every, dot_rows) if panel.linear else LogAxis.covering(every, dot_rows, include)
    drawing = PanelDrawing(panel, top, rows, axis)
    if axis is None:
        return blank_lines(width, rows, "no data yet", NOTE_STYLE), drawing

    xs = layer_positions(layers, dot_columns)
    # drawing order: every dotted line, then every solid one, each in the series' order (the last on top)
    values = np.concatenate([dotted, solid]) if dotted.size else solid
    dots = axis.to_dots(values)
    is_dotted = np.arange(len(values)) < (len(series) if dotted.size else 0)
    low, high = column_spans([(xs, line) for line in dots], (0.0, dot_columns - 1.0), dot_columns)
    # dotted: every other cell left empty, and faint, so that it is told from the solid line in any terminal
    gap = (np.arange(dot_columns) // 2) % 2 == 1
    gap[np.clip(np.rint(xs).astype(np.int64), 0, dot_columns - 1)] = False  # each layer's own value is always drawn
    gaps = np.flatnonzero(gap)
    low[np.ix_(np.flatnonzero(is_dotted), gaps)] = np.inf
    # the bands first, under every line: each column from the lowest seed's line to the highest's
    band_low = column_spans([(xs, line) for line in axis.to_dots(lowest)], (0.0, dot_columns - 1.0), dot_columns)[0]
    band_high = column_spans([(xs, line) for line in axis.to_dots(highest)], (0.0, dot_columns - 1.0), dot_columns)[1]
    code, owner = rasterise(np.concatenate([band_low, low]), np.concatenate([band_high, high]),
                            (0.0, dot_rows - 1.0), plot_width, rows)
    owners = list(series) * (2 if dotted.size else 1)
    band_styles = [style(item.colour, dim=True) for item in banded]
    colour_styles = band_styles + [style(item.colour, dim=item.dim or bool(is_dotted[index]))
                                   for index, item in enumerate(owners)]

    cells = BRAILLE[code].tolist()
    styles: list[list[Style | None]] = [
        [colour_styles[o] if o >= 0 else None for o in row] for row in owner.tolist()
    ]
    reference_dot = axis.dot(panel.reference) if panel.reference is not None else math.nan
    if math.isfinite(reference_dot):  # off the axis when the values are decades away from it
        row = rows - 1 - int(round(reference_dot)) // 4
        for column in range(plot_width):
            if cells[row][column] == " ":
                cells[row][column], styles[row][column] = REFERENCE_MARK, AXIS_STYLE
    # clipped values: a mark at the edge, in the colour of the last series clipped there
    cell_of_layer = np.minimum((xs / 2).astype(np.int64), plot_width - 1)
    order = len(banded) + np.arange(len(owners))[:, None]
    for row, mark, clipped in ((0, ABOVE, dots == np.inf), (rows - 1, BELOW, dots == -np.inf)):
        last = np.full(plot_width, -1)
        series_index, layer_index = np.nonzero(clipped)
        np.maximum.at(last, cell_of_layer[layer_index], np.broadcast_to(order, clipped.shape)[series_index, layer_index])
        for column in np.flatnonzero(last >= 0).tolist():
            cells[row][column], styles[row][column] = mark, colour_styles[last[column]]

    labels = _tick_rows(axis, rows)
    lines = []
    for row in range(rows):
        line = Line(width)
        label = labels.get(row)
        line.add(fit(label or "", GUTTER - 1, right=True) if label else " " * (GUTTER - 1), AXIS_STYLE)
        line.add("┤" if label else "│", AXIS_STYLE)
        start = 0
        row_cells, row_styles = cells[row], styles[row]
        for column in range(1, plot_width + 1):
            if column == plot_width or row_styles[column] is not row_styles[start]:
                line.add("".join(row_cells[start:column]), row_styles[start])
                start = column
        lines.append(line.strip())
    return lines, drawing


# the histogram shows at least this many bins (4 decades), so that a spectrum in one bin is not a wall
MIN_SHOWN_BINS = 8
UNIT_BIN = round(-SPECTRUM_LOG10_LOW / SPECTRUM_BIN_DECADES - 0.5)  # the bin s = 1 is the middle of
UNIT_MARK = "┊"


def shown_bins(counts: np.ndarray) -> tuple[int, int]:
    """[first, last] bins drawn: those occupied and s = 1's, a bin more each side, at least MIN_SHOWN_BINS."""
    occupied = np.flatnonzero(counts)
    first = min(int(occupied[0]), UNIT_BIN) - 1 if occupied.size else UNIT_BIN - 1
    last = max(int(occupied[-1]), UNIT_BIN) + 1 if occupied.size else UNIT_BIN + 1
    missing = MIN_SHOWN_BINS - (last - first + 1)
    if missing > 0:
        first, last = first - missing // 2, last + missing - missing // 2
    shift = max(-first, 0) - max(last - (SPECTRUM_BINS - 1), 0)
    return max(first + shift, 0), min(last + shift, SPECTRUM_BINS - 1)


def _s_ticks(first: int, last: int, plot_width: int) -> list[tuple[int, str]]:
    """(cell column, label) of whole decades of s under bins ``first``…``last``, no two touching; s = 1 placed
    first, so that it is always among them."""
    low = SPECTRUM_LOG10_LOW + first * SPECTRUM_BIN_DECADES
    span = (last + 1 - first) * SPECTRUM_BIN_DECADES
    taken: list[tuple[int, int]] = []  # (first, last) cell of each label placed
    ticks = []
    for exponent in sorted(range(math.ceil(low), math.floor(low + span) + 1), key=lambda e: (e != 0, abs(e))):
        label = decade_label(exponent)
        column = min(int((exponent - low) / span * plot_width), plot_width - 1)
        start = min(max(column - len(label) // 2, 0), max(plot_width - len(label), 0))
        end = start + len(label) - 1
        if all(start > other_end + 1 or end < other_start - 1 for other_start, other_end in taken):
            taken.append((start, end))
            ticks.append((start, label))
    return sorted(ticks)


def _draw_histogram(panel: DepthPanel, item: DepthSeries, width: int, rows: int, top: int
                    ) -> tuple[list[Strip], PanelDrawing]:
    """The selected run's spectrum histogram: ``rows - 1`` rows of bars over the s axis' row, gutter included;
    its cost is the panel's cells, whatever the counts."""
    drawing = PanelDrawing(panel, top, rows, None)
    counts = clean_counts(list(getattr(item, panel.solid)))[:SPECTRUM_BINS]
    if rows < 2 or counts.size != SPECTRUM_BINS or not counts.any():
        return blank_lines(width, rows, "no spectrum histogram", NOTE_STYLE), drawing
    plot_width, bar_rows = max(width - GUTTER, 1), rows - 1
    first, last = shown_bins(counts)
    values = np.asarray(rebin(counts[first : last + 1].tolist(), plot_width))
    eighths = values / (values.max() or 1.0) * bar_rows * 8 - (np.arange(bar_rows)[::-1] * 8)[:, None]
    blocks = np.where(eighths > 0, np.clip(np.floor(eighths), 1, 8), 0).astype(np.int64)
    unit_column = min(int((UNIT_BIN + 0.5 - first) / (last + 1 - first) * plot_width), plot_width - 1)
    bar_style = style(item.colour)
    share = float(counts[first : last + 1].max() / counts.sum())
    lines = []
    for row in range(bar_rows):
        cells = [BLOCKS[block] for block in blocks[row].tolist()]
        line = Line(width).add(fit(f"{share:.0%}" if row == 0 else "", GUTTER - 1, right=True), AXIS_STYLE)
        line.add("┤" if row == 0 else "│", AXIS_STYLE)
        line.add("".join(cells[:unit_column]), bar_style)
        if cells[unit_column] == " ":
            line.add(UNIT_MARK, AXIS_STYLE)
        else:
            line.add(cells[unit_column], bar_style)
        line.add("".join(cells[unit_column + 1 :]), bar_style)
        lines.append(line.strip())
    axis = [" "] * plot_width
    for start, label in _s_ticks(first, last, plot_width):
        axis[start : start + len(label)] = list(label)
    lines.append(Line(width).add(fit("s", GUTTER - 1, right=True) + " ", AXIS_STYLE).add("".join(axis), AXIS_STYLE)
                 .strip())
    return lines, drawing


def _tick_rows(axis: LogAxis | LinearAxis, rows: int) -> dict[int, str]:
    """Decade (or a linear axis's) labels by plot row, thinned so that no two share a row or touch."""
    if isinstance(axis, LinearAxis):
        labels = {}
        for tick in axis.ticks:
            row = rows - 1 - int(round(axis.dot(tick))) // 4
            if 0 <= row < rows and row not in labels and row - 1 not in labels and row + 1 not in labels:
                labels[row] = f"{tick:g}"
        return labels
    decades = axis.high - axis.low
    every = 1
    while (decades // every + 1) > max((rows + 1) // 2, 1) and every < decades:
        every += 1
    labels: dict[int, str] = {}
    for exponent in range(axis.high, axis.low - 1, -1):
        if (axis.high - exponent) % every:
            continue
        row = rows - 1 - int(round(axis.decade_dot(exponent))) // 4
        if 0 <= row < rows and row not in labels and row - 1 not in labels:
            labels[row] = decade_label(exponent)
    return labels


# after the runs in the legend, where a series is a seed group's
BAND_NOTE = "mean of the seeds, band: lowest–highest seed"


def _legend(series: Sequence[DepthSeries], width: int) -> Strip:
    line = Line(width)
    note = f"  {BAND_NOTE}" if any(item.seed_range for item in series) else ""
    shown = 0
    for index, item in enumerate(series):
        entry = f"● {item.label}"
        rest = len(series) - index - 1
        reserve = len(f"  +{rest} more") if rest else 0
        if line.used + len(entry) + 2 + reserve > width and shown:
            line.add(f" +{len(series) - index} more", NOTE_STYLE)
            break
        if shown:
            line.add("  ")
        line.add(entry, style(item.colour, bold=not item.dim, dim=item.dim))
        shown += 1
    if note and line.used + len(note) <= width:
        line.add(note, NOTE_STYLE)
    return line.strip()


def _x_axis(layers: int, width: int) -> Strip:
    plot_width = max(width - GUTTER, 1)
    text = [" "] * plot_width
    for start, label in _layer_ticks(layers, plot_width):
        text[start : start + len(label)] = list(label)
    return Line(width).add(fit("layer", GUTTER - 1, right=True) + " ", AXIS_STYLE).add(
        "".join(text[:plot_width]), AXIS_STYLE).strip()


@dataclass
class DepthLayout:
    """Which panels a size shows and the plot rows each gets."""

    panels: list[DepthPanel]
    rows: list[int]
    stacked: bool  # every panel shown


def depth_layout(height: int, focus: int, panels: Sequence[DepthPanel] = PANELS) -> DepthLayout:
    """Every panel where each gets MIN_PLOT_ROWS plot rows; else as many as fit (at least PANEL_WINDOW) from the
    ``focus`` panel on; else the ``focus`` panel alone."""
    available = height - 2  # the legend and the x axis
    fitting = min(available // (MIN_PLOT_ROWS + 1), len(panels))  # each has a title line
    if fitting < len(panels) and fitting < PANEL_WINDOW:
        return DepthLayout([panels[focus % len(panels)]], [max(available - 1, 1)], False)
    shown = [panels[(focus + i) % len(panels)] for i in range(fitting)] if fitting < len(panels) else list(panels)
    per_panel, spare = divmod(available - len(shown), len(shown))
    return DepthLayout(shown, [per_panel + (i < spare) for i in range(len(shown))], fitting == len(panels))


def render_depth_chart(
    series: Sequence[DepthSeries], width: int, height: int, focus: int = 0, message: str = "",
    panels: Sequence[DepthPanel] = PANELS,
) -> tuple[list[Strip], list[PanelDrawing]]:
    """Exactly ``height`` lines of ``width`` cells, and what each panel drew."""
    if width <= 0 or height <= 0:
        return [], []
    layers = max((item.layers for item in series), default=0)
    if not series or layers == 0:
        return blank_lines(width, height, message or "no layer statistics yet", NOTE_STYLE), []
    if height < 4 or width < GUTTER + 4:
        return blank_lines(width, height, "too small", NOTE_STYLE), []
    layout = depth_layout(height, focus, panels)
    lines = [_legend(series, width)]
    drawings = []
    for panel, rows in zip(layout.panels, layout.rows):
        prefix = "" if layout.stacked else f"[{panels.index(panel) + 1}/{len(panels)}] "
        title = Line(width).add(" " * GUTTER).add(prefix + panel.title, TITLE_STYLE)
        note = getattr(series[-1], panel.note) if panel.note else ""
        # the numbers matter more than the legend: where both do not fit, the legend gives way
        if GUTTER + len(prefix + panel.title) + 3 + len(panel.legend) + (2 + len(note) if note else 0) <= width or not note:
            title.add("   ").add(panel.legend, NOTE_STYLE)
        if note:
            title.add("  " + note, TITLE_STYLE)
        lines.append(title.strip())
        plot, drawing = _draw_panel(panel, series, layers, width, rows, top=len(lines))
        lines.extend(plot)
        drawings.append(drawing)
    # a histogram alone is on its own s axis, drawn in it: the layer axis would name nothing
    lines.append(_x_axis(layers, width) if not all(p.histogram for p in layout.panels) else Strip.blank(width))
    lines.extend(Strip.blank(width) for _ in range(height - len(lines)))
    return lines[:height], drawings


class DepthChart(StripsWidget):
    """The depth view of the runs it was last given; see the module's docstring.

    ``show(series, message, focus)`` with one :class:`DepthSeries` per run (the last is drawn on top) and the
    first panel shown when not all of ``panels`` fit.
    """

    DEFAULT_CSS = """
    DepthChart { height: 1fr; }
    """

    def __init__(self, panels: Sequence[DepthPanel] = PANELS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panels = tuple(panels)
        self.series: list[DepthSeries] = []
        self.message = ""
        self.focus_panel = 0
        self.drawings: list[PanelDrawing] = []

    def show(self, series: Sequence[DepthSeries], message: str = "", focus: int = 0) -> None:
        """Draw these runs (plain numbers; see DepthSeries); ``message`` shows when there is nothing to draw."""
        self.series = list(series)
        self.message = message
        self.focus_panel = focus % len(self.panels)
        self.redraw()

    @property
    def stacked(self) -> bool:
        """Whether every panel fits at the current size."""
        return depth_layout(self.size.height, self.focus_panel, self.panels).stacked

    def render_strips(self, width: int, height: int) -> list[Strip]:
        lines, self.drawings = render_depth_chart(self.series, width, height, self.focus_panel, self.message,
                                                  self.panels)
        return lines
