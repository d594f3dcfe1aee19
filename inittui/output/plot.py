"""A run's charts drawn once, as text, with plotext: ``inittui plot`` and the end of ``train --headless``.

Every curve is read through the run's bounded curve (:class:`~inittui.series.curve.MinMaxSeries`), decimated to
the chart's width (each column's lowest and highest value, so a spike survives) before plotext sees it, and
every value is clipped into the axis: plotext interpolates point by point between pixel coordinates, so a
point at 1e30 would have it walk far off the plot, and freeze. No terminal is needed: the text goes where it
is printed (a pipe, a CI log, ``watch``), with colour only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotext

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.core.errors import ConfigError
from inittui.core.events import RunRecord
from inittui.runlog.catalogue import read_run
from inittui.runlog.fold import FoldedRun, RunFold
from inittui.series.curve import MinMaxSeries

CHARTS = ("loss", "accuracy", "depth", "atlas")
# as on the dashboard: a little above chance's ln 10, so a diverging run sits at the top edge
LOSS_CAP = 4.0
# a log axis shows at most this many decades below its top; lower values (a dead layer's 0) sit at the bottom
MAX_LOG_DECADES = 6
# with more runs, only the best few are named: a legend of sixty names would cover the plot
NAMED_RUNS = 8
NAMED_BEST = 3
# columns plotext keeps for the y tick labels and the frame
AXIS_COLUMNS = 10
MIN_WIDTH, MAX_WIDTH = 30, 1000
# axes end within ±this: plotext's tick rounding overflows near the largest floats, and no chart reads there
AXIS_LIMIT = 1e15
# the narrowest linear axis: plotext's labels overflow on a span like 2e-308 (hypothesis)
MIN_SPAN = 1e-9
MIN_HEIGHT, MAX_HEIGHT = 8, 200
# the atlas table's corner: what its rows and columns are
CORNER = "init \\ act"


@dataclass(frozen=True)
class ChartSize:
    """One chart's size in character cells, title and axes included."""

    width: int
    height: int

    def check(self) -> ChartSize:
        if not MIN_WIDTH <= self.width <= MAX_WIDTH:
            raise ConfigError(f"--width must be between {MIN_WIDTH} and {MAX_WIDTH}, got {self.width}")
        if not MIN_HEIGHT <= self.height <= MAX_HEIGHT:
            raise ConfigError(f"--height must be between {MIN_HEIGHT} and {MAX_HEIGHT}, got {self.height}")
        return self


@dataclass
class Line:
    """One run's curve as a chart is handed it, and its points (test accuracy), if any."""

    label: str
    series: MinMaxSeries
    points: Sequence[tuple[int, float]] = ()


def parse_charts(text: str) -> list[str]:
    """``loss,accuracy`` as chart names, in the order given; ConfigError naming an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ConfigError(f"--what names no chart; choose from {','.join(CHARTS)}")
    for name in names:
        if name not in CHARTS:
            raise ConfigError(f"--what: unknown chart {name!r}; choose from {','.join(CHARTS)}")
    return list(dict.fromkeys(names))


def _finite_range(arrays: Sequence[np.ndarray]) -> tuple[float, float] | None:
    values = [array[np.isfinite(array)] for array in arrays]
    values = [array for array in values if array.size]
    if not values:
        return None
    return min(float(array.min()) for array in values), max(float(array.max()) for array in values)


def _y_axis(arrays: Sequence[np.ndarray], cap: float | None, log: bool) -> tuple[float, float]:
    """The y axis: the finite values' range, from 0 up to at most ``cap`` where there is one; on a log axis at
    most MAX_LOG_DECADES below its top. Always within ±AXIS_LIMIT and a span plotext can divide by."""
    if log:
        found = _finite_range([array[array > 0] for array in arrays])
        if found is None:
            return (0.1, 10.0)
        top = min(found[1], cap if cap is not None else AXIS_LIMIT)
        bottom = max(found[0], top / 10.0**MAX_LOG_DECADES)
        return (bottom / 2, top * 2) if bottom >= top else (bottom, top)
    found = _finite_range(arrays)
    if found is None:
        return (0.0, 1.0)
    if cap is not None:  # a loss: from 0, and what lies above the cap sits at the top edge
        top = min(found[1], cap)
        return (0.0, max(top, MIN_SPAN)) if top > 0 else (0.0, 1.0)
    low, high = max(found[0], -AXIS_LIMIT), min(found[1], AXIS_LIMIT)
    if high - low < MIN_SPAN:
        margin = max(abs(low) * 0.1, 0.5)
        return (low - margin, high + margin)
    return (low, high)


def decimated(series: MinMaxSeries, columns: int, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """The curve at ``columns`` columns over steps [0, stop]: each column's lowest and highest value at its
    middle step, so plotext draws at most two points a column however long the run."""
    steps, low, high, _ = series.envelope(columns, 0.0, stop)
    return np.repeat(steps, 2), np.column_stack((low, high)).reshape(-1)


def _thinned(points: Sequence[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """At most ``most`` of the points, evenly spread: a run evaluated every few steps stays bounded too."""
    if len(points) <= most:
        return list(points)
    return [points[int(i * (len(points) - 1) / (most - 1))] for i in range(most)]


def _y_limits(low: float, high: float, log: bool) -> None:
    if log:
        # plotext takes a log axis's limits as powers of ten (and breaks its legend given them in real units)
        plotext.yscale("log")
        plotext.ylim(math.log10(low), math.log10(high))
    else:
        plotext.ylim(low, high)


def _render(title: str, size: ChartSize, color: bool, draw: Callable[[], None]) -> str:
    # plotext's figure is global: back to the whole figure first, or what an earlier caller's subplots left
    # (a log axis) carries over into this chart
    plotext.main()
    plotext.clear_figure()
    # the terminal's own background and text colour, light or dark: only the lines coloured
    plotext.canvas_color("default")
    plotext.axes_color("default")
    plotext.ticks_color("default")
    plotext.plot_size(size.width, size.height)
    plotext.title(title)
    draw()
    text = plotext.build()
    plotext.clear_figure()
    return text if color else plotext.uncolorize(text)


def curve_chart(title: str, lines: Sequence[Line], size: ChartSize, *, color: bool = False,
                cap: float | None = None, ylim: tuple[float, float] | None = None, log: bool = False) -> str:
    """One chart of ``lines`` over steps: bounded data, every value inside the axis (``ylim``, or the values'
    range up to ``cap``), values beyond it at its edge."""
    columns = max(size.width - AXIS_COLUMNS, 1)
    stop = max((float(line.series.last_step) for line in lines if line.series.last_step is not None), default=None)
    if stop is None:
        return f"{title}: nothing logged yet"
    drawn = [(line, *decimated(line.series, columns, max(stop, 1.0))) for line in lines]
    points = [(line, np.array(_thinned(line.points, columns), dtype=np.float64).reshape(-1, 2)) for line in lines]
    low, high = ylim if ylim is not None else _y_axis([y for _, _, y in drawn], cap, log)

    def inside(y: np.ndarray) -> np.ndarray:
        # ±inf and 1e30 at the edge, as the dashboard draws them; NaN never gets here (a gap in the series)
        return np.clip(np.where(np.isnan(y), low, y), low, high)

    def draw() -> None:
        for line, x, y in drawn:
            if x.size:
                plotext.plot(x.tolist(), inside(y).tolist(), label=line.label or None)
        for line, xy in points:
            if xy.size:
                plotext.scatter(xy[:, 0].tolist(), inside(xy[:, 1]).tolist(), marker="dot")
        plotext.xlim(0.0, max(stop, 1.0))
        _y_limits(low, high, log)
        plotext.xlabel("step")

    return _render(title, size, color, draw)


def _labels(runs: Sequence[FoldedRun]) -> tuple[dict[int, str], str]:
    """Each run's label (empty where it goes unnamed) and a note on the title when some go unnamed."""
    records = [run.record for run in runs]
    names = [record.name for record in records]
    label = {r.id: r.name if names.count(r.name) == 1 else f"{r.id} {r.name}" for r in records}
    if len(records) <= NAMED_RUNS:
        return label, ""
    best = sorted(records, key=lambda r: -(r.best_test_acc if r.best_test_acc is not None else -1.0))[:NAMED_BEST]
    named = {r.id for r in best}
    return ({run_id: text if run_id in named else "" for run_id, text in label.items()},
            f" · {len(records)} runs, the best {NAMED_BEST} named")


def loss_chart(fold: RunFold, size: ChartSize, color: bool = False) -> str:
    """Every run's train loss (its latest life) over its steps, clipped at LOSS_CAP."""
    runs = list(fold.runs.values())
    labels, note = _labels(runs)
    lines = [Line(labels[run.id], run.life.loss) for run in runs]
    return curve_chart(f"train loss{note}", lines, size, color=color, cap=LOSS_CAP)


def accuracy_chart(fold: RunFold, size: ChartSize, color: bool = False) -> str:
    """Every run's train accuracy as a line and its test accuracies as points."""
    runs = list(fold.runs.values())
    labels, note = _labels(runs)
    lines = [Line(labels[run.id], run.life.accuracy, run.life.test) for run in runs]
    return curve_chart(f"accuracy: train (lines), test (dots){note}", lines, size, color=color, ylim=(0.0, 1.0))


def depth_chart(fold: RunFold, size: ChartSize, color: bool = False) -> str:
    """Each run's activation std per hidden layer at its latest statistics step, on a log axis."""
    runs = [run for run in fold.runs.values() if run.life.layers]
    if not runs:
        return "activation std per layer: no layer statistics logged yet"
    labels, note = _labels(runs)
    stds = [np.array([layer.std for layer in run.life.layers], dtype=np.float64) for run in runs]
    low, high = _y_axis(stds, None, log=True)
    depth = max(len(values) for values in stds)

    def draw() -> None:
        for run, values in zip(runs, stds):
            # zero (a dead layer) at the bottom edge, inf at the top: log10 of either would leave the axis
            clipped = np.clip(np.where(np.isnan(values), low, values), low, high)
            plotext.plot(list(range(1, len(values) + 1)), clipped.tolist(), label=labels[run.id] or None)
        plotext.xlim(1, max(depth, 2))
        plotext.xticks(list(range(1, depth + 1, max(depth // 8, 1))))  # whole layers, about eight ticks
        _y_limits(low, high, log=True)
        plotext.xlabel("hidden layer")

    step = max(run.life.layers_step or 0 for run in runs)
    return _render(f"activation std per layer (step {step:,}){note}", size, color, draw)


def _cell(record: RunRecord) -> str:
    if record.status == "diverged":
        return "✗ diverged"
    accuracy = record.best_test_acc
    return "–" if accuracy is None or not math.isfinite(accuracy) else f"{100 * accuracy:.1f}%"


def _ordered(present: Sequence[str], known: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(present))
    return [name for name in known if name in unique] + [name for name in unique if name not in known]


def atlas_table(fold: RunFold, width: int) -> str:
    """The runs as an initialiser × activation table of best test accuracy (✗ a diverged run, – no evaluation
    yet, blank a combination not run), as wide as fits in ``width`` columns; further activations below."""
    records = [run.record for run in fold.runs.values()]
    if not records:
        return "atlas: no runs"
    cells: dict[tuple[str, str], RunRecord] = {}
    for record in records:
        cells.setdefault((record.spec.init, record.spec.activation), record)  # the first of a combination wins
    inits = _ordered([r.spec.init for r in records], INITIALIZER_NAMES)
    activations = _ordered([r.spec.activation for r in records], ACTIVATION_NAMES)
    label_width = max(len(CORNER), *(len(init) for init in inits))
    cell_width = max(len("✗ diverged"), *(len(activation) for activation in activations))
    per_block = max((width - label_width) // (cell_width + 2), 1)
    lines = ["atlas: best test accuracy, initialiser × activation"]
    for first in range(0, len(activations), per_block):
        block = activations[first : first + per_block]
        lines.append(f"{CORNER:<{label_width}}" + "".join(f"  {name:>{cell_width}}" for name in block))
        for init in inits:
            row = [_cell(cells[(init, a)]) if (init, a) in cells else "" for a in block]
            lines.append((f"{init:<{label_width}}" + "".join(f"  {cell:>{cell_width}}" for cell in row)).rstrip())
    return "\n".join(lines)


def plot_fold(fold: RunFold, charts: Sequence[str], size: ChartSize, color: bool = False) -> str:
    """The charts named, one below the other."""
    drawn = []
    for chart in charts:
        if chart == "loss":
            drawn.append(loss_chart(fold, size, color))
        elif chart == "accuracy":
            drawn.append(accuracy_chart(fold, size, color))
        elif chart == "depth":
            drawn.append(depth_chart(fold, size, color))
        elif chart == "atlas":
            drawn.append(atlas_table(fold, size.width))
    return "\n\n".join(drawn)


def plot_run(run_dir: Path, charts: Sequence[str], size: ChartSize, color: bool = False) -> tuple[str, int]:
    """A run log's charts, and how many of its lines could not be read (RunLogError if it cannot be read)."""
    run = read_run(run_dir)
    return plot_fold(run.fold, charts, size, color), run.index.skipped
