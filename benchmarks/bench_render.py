"""What a frame of each chart and histogram widget costs, whatever the data.

    python benchmarks/bench_render.py [--size 120x40] [--points 100000] [--frames 5] [--json]

Each widget is drawn at ``--size`` (default 120×40, the whole area of a 120×40 terminal) with 6 and with 60
runs, each run's curve given ``--points`` points full of adversarial values: a run that diverges to 1e30, ±inf,
NaN, 1e-30, a constant run, a one-point run and ordinary noisy descents. Curves are timed twice: as the
dashboard holds them (every step in its bounded curve, one more step before each frame) and handed over raw
(every point in one list); the loss
chart also as a user reads it (log scale, EMA over the faint raw curves, a run selected, a legend). The
histograms get one panel per layer of a 30-layer run, with huge and non-finite counts and bounds.

Prints milliseconds per frame (median over ``--frames``). Target: ≤ 30 ms per chart on a 2-core CPU.

``--against plotext`` instead draws the same frames with inittui's renderer and with plotext, both fed the same
bounded data (plotext through ``inittui plot``'s charts: each curve decimated to two points a column and
clipped into the axis), and prints each one's time and the ratio: curves of 6 and 60 runs, the loss on a log
axis, 5 layer histograms (plotext: subplots), one layer's distribution over time (plotext: a matrix plot) and
the depth view (6 runs × 30 layers, three panels; plotext: three log subplots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time

import numpy as np
import plotext
from textual.app import App

from inittui.core.events import Histogram
from inittui.ui.curves import CurvePlot, render_curves
from inittui.ui.depth_chart import render_depth_chart
from inittui.ui.distributions import density_matrix, render_distributions
from inittui.ui.histograms import LayerHistograms, render_panels
from inittui.dashboard.selectors import run_colour
from inittui.dashboard.views import Curve, DepthSeries, HeatmapPanel, LegendEntry, Panel, Points
from inittui.output.plot import LOSS_CAP, ChartSize, Line, curve_chart
from inittui.runlog.fold import CURVE_BUCKETS
from inittui.series.curve import MinMaxSeries
from inittui.series.density import DistributionHistory

TARGET_MS = 30.0


def adversarial_y(kind: int, points: int, rng: np.random.Generator) -> np.ndarray:
    steps = np.arange(points, dtype=np.float64)
    noise = rng.standard_normal(points) * 0.05
    if kind == 0:  # diverges at step 10 to 1e30, then inf and NaN
        y = np.where(steps < 10, 2.3, 1e30)
        y[points // 2 :: 97] = np.inf
        y[points // 3 :: 89] = np.nan
        return y
    if kind == 1:
        return np.full(points, 2.302585)
    if kind == 2:  # tiny values and negative infinity now and then
        y = 1e-30 * (1 + steps)
        y[::1013] = -np.inf
        return y
    return 0.1 + 2.2 * np.exp(-steps * (1 + kind % 5) / points * 5) + noise + (steps == points // 7) * 50


def curves(runs: int, points: int, raw: bool) -> list[Curve]:
    rng = np.random.default_rng(0)
    result = []
    for run in range(runs):
        y = adversarial_y(run % 8, points if run % 8 != 7 else 1, rng)
        x = np.arange(y.size, dtype=np.float64)
        if raw:
            series = Points(x, y)
        else:  # as the dashboard keeps a run's loss: every step in its bounded curve
            series = MinMaxSeries(CURVE_BUCKETS)
            series.extend(0, y.tolist())
        result.append(Curve(run_colour(run), series))
    return result


def panels(layers: int) -> list[Panel]:
    result = []
    for layer in range(layers):
        counts = [int(1e18) if i == 3 else (i * 7919) % 1000 for i in range(40)]
        low, high = (-math.inf, math.inf) if layer % 3 == 0 else (-1e30, 1e-30)
        result.append(Panel(f"L{layer + 1}", run_colour(layer), Histogram(low, high, counts), math.nan, 1e30))
    return result


class Bench(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self):
        yield self.widget


def frame_ms(widget, height: int) -> float:
    """One frame as Textual draws it after new steps arrived: every line of the widget, rebuilt from its data
    (a bounded curve that took a value redraws from its buckets)."""
    for curve in getattr(widget, "curves", ()):
        if isinstance(curve.series, MinMaxSeries) and curve.series.last_step is not None:
            curve.series.add(curve.series.last_step + 1, 1.0)
    began = time.perf_counter()
    widget.redraw()
    for y in range(height):
        widget.render_line(y)
    return 1000 * (time.perf_counter() - began)


async def time_widget(widget, show, size: tuple[int, int], frames: int) -> float:
    async with Bench(widget).run_test(size=size) as pilot:
        show()
        await pilot.pause()
        return statistics.median(frame_ms(widget, size[1]) for _ in range(frames))


async def measure(size: tuple[int, int], points: int, frames: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for runs in (6, 60):
        for raw in (False, True):
            given = curves(runs, points, raw)
            label = f"{runs}_runs_{'raw' if raw else 'series'}"
            loss = CurvePlot("train loss", ycap=4.0)
            results[f"loss_{label}"] = await time_widget(loss, lambda: loss.show(given), size, frames)
            # as a user reads it: log scale, smoothed over the raw curves, one run selected, a legend
            selected = [Curve(c.colour, c.series, selected=i == 1) for i, c in enumerate(given)]
            legend = [LegendEntry(f"run {i}", c.colour, i == 1) for i, c in enumerate(given[:4])]
            read = CurvePlot("train loss", ycap=4.0, can_log=True)
            read.log_choice, read.smooth = True, True
            results[f"loss_log_ema_{label}"] = await time_widget(
                read, lambda: read.show(selected, steps_per_epoch=469, legend=legend, runs=runs), size, frames)
            # half the runs as a line (train accuracy), half as points (test accuracy)
            mixed = given[: runs // 2] + [Curve(c.colour, c.series, scatter=True) for c in given[runs // 2 :]]
            accuracy = CurvePlot("accuracy", ylim=(0.0, 1.0))
            results[f"accuracy_{label}"] = await time_widget(accuracy, lambda: accuracy.show(mixed), size, frames)
    for layers in (5, 30, 60):
        histograms = LayerHistograms()
        given_panels = panels(layers)
        results[f"histograms_{layers}_panels"] = await time_widget(
            histograms, lambda: histograms.show(given_panels, "activations"), size, frames
        )
    return results


def _fresh(curves: list[Curve]) -> None:
    """One more step on every curve, as before each frame of a live run: no renderer reuses a cached envelope."""
    for curve in curves:
        if isinstance(curve.series, MinMaxSeries) and curve.series.last_step is not None:
            curve.series.add(curve.series.last_step + 1, 1.0)


def _timed(draw, frames: int, before=None) -> float:
    samples = []
    for _ in range(frames):
        if before is not None:
            before()
        began = time.perf_counter()
        draw()
        samples.append(1000 * (time.perf_counter() - began))
    return statistics.median(samples)


def _clean_panels(layers: int) -> list[Panel]:
    """Histograms as a healthy layer logs them: 40 bins of a bell over [-3, 3]."""
    counts = [int(1000 * math.exp(-((i - 19.5) / 7) ** 2)) for i in range(40)]
    return [Panel(f"L{layer + 1}", run_colour(layer), Histogram(-3.0, 3.0, counts), 1.0, 1.0) for layer in range(layers)]


def _plotext_figure(width: int, height: int, rows: int = 1, columns: int = 1) -> None:
    """A new plotext figure: clear_figure alone clears only the active subplot, and the last frame's log axes
    would carry over."""
    plotext.main()
    plotext.clear_figure()
    if rows * columns > 1:
        plotext.subplots(rows, columns)
    plotext.plot_size(width, height)


def _plotext_histograms(panels: list[Panel], width: int, height: int) -> str:
    _plotext_figure(width, height, 1, len(panels))
    for index, panel in enumerate(panels, start=1):
        histogram = panel.histogram
        step = (histogram.high - histogram.low) / len(histogram.counts)
        plotext.subplot(1, index)
        plotext.title(panel.title)
        plotext.bar([histogram.low + step * (i + 0.5) for i in range(len(histogram.counts))], histogram.counts)
    return plotext.build()


def _history(steps: int) -> DistributionHistory:
    """One layer's histograms over ``steps`` statistics steps, a bell that slowly narrows."""
    history = DistributionHistory()
    for step in range(steps):
        width = 7 * (1 - 0.5 * step / steps)
        history.add(step, -3.0, 3.0, [1000 * math.exp(-((i - 19.5) / width) ** 2) for i in range(40)], 1.0)
    return history


def _plotext_heatmap(matrix: np.ndarray, width: int, height: int) -> str:
    _plotext_figure(width, height)
    plotext.title("L1")
    # bins bottom to top, time left to right, as inittui's heatmap draws them
    plotext.matrix_plot(np.nan_to_num(matrix.T[::-1] * 255).tolist())
    return plotext.build()


def _depth(runs: int, layers: int) -> list[DepthSeries]:
    rng = np.random.default_rng(0)

    def values() -> list[float]:
        return (10 ** rng.uniform(-3, 1, layers)).tolist()

    return [DepthSeries(f"run {r}", run_colour(r), values(), values(), values(), values(), values()) for r in range(runs)]


def _plotext_depth(series: list[DepthSeries], width: int, height: int) -> str:
    _plotext_figure(width, height, 3, 1)
    for row, field in enumerate(("activation_std", "gradient_std", "update_ratio"), start=1):
        plotext.subplot(row, 1)
        plotext.title(field)
        for item in series:
            values = getattr(item, field)
            plotext.plot(list(range(1, len(values) + 1)), values)
        plotext.yscale("log")
        plotext.ylim(-3, 1)  # a log axis's limits, as plotext takes them: powers of ten
    return plotext.build()


def against_plotext(size: tuple[int, int], points: int, frames: int) -> dict[str, tuple[float, float]]:
    """Each frame's milliseconds with inittui's renderer and with plotext, fed the same bounded data."""
    width, height = size
    chart = ChartSize(width, height)
    results: dict[str, tuple[float, float]] = {}
    for runs, log in ((6, False), (60, False), (6, True)):
        given = curves(runs, points, raw=False)
        lines = [Line(f"run {i}", curve.series) for i, curve in enumerate(given)]
        label = f"{runs} curves{', log y' if log else ''}"
        ours = _timed(lambda: render_curves(given, width, height, "train loss", ycap=LOSS_CAP, log=log), frames,
                      lambda: _fresh(given))
        theirs = _timed(lambda: curve_chart("train loss", lines, chart, cap=LOSS_CAP, log=log), frames,
                        lambda: _fresh(given))
        results[label] = (ours, theirs)
    panels = _clean_panels(5)
    results["5 histograms"] = (_timed(lambda: render_panels(panels, width, height), frames),
                               _timed(lambda: _plotext_histograms(panels, width, height), frames))
    grid = _history(128 * 64).snapshot()  # 128 columns of 64 steps each
    heat = [HeatmapPanel("L1", grid)]
    matrix = density_matrix(grid)
    results[f"heatmap {grid.columns}×{len(grid.density[0])}"] = (
        _timed(lambda: render_distributions(heat, width, height), frames),
        _timed(lambda: _plotext_heatmap(matrix, width, height), frames))
    depth = _depth(6, 30)
    results["depth view 6×30"] = (_timed(lambda: render_depth_chart(depth, width, height), frames),
                                  _timed(lambda: _plotext_depth(depth, width, height), frames))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="120x40", help="widget size in cells, WIDTHxHEIGHT (default 120x40)")
    parser.add_argument("--points", type=int, default=100_000, help="points per run's curve (default 100000)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--against", choices=["plotext"], help="the same frames drawn by plotext, and the ratio")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.against:
        compared = against_plotext((width, height), args.points, args.frames)
        if args.json:
            print(json.dumps({frame: {"inittui_ms": round(ours, 2), "plotext_ms": round(theirs, 2)}
                              for frame, (ours, theirs) in compared.items()}))
            return 0
        print(f"at {width}x{height}, {args.points:,} points per run, median of {args.frames} frames")
        print(f"{'frame':<22} {'inittui':>10} {'plotext':>10} {'plotext/inittui':>16}")
        for frame, (ours, theirs) in compared.items():
            print(f"{frame:<22} {ours:7.1f} ms {theirs:7.1f} ms {theirs / ours:15.1f}×")
        return 0
    results = asyncio.run(measure((width, height), args.points, args.frames))
    if args.json:
        print(json.dumps({key: round(value, 2) for key, value in results.items()}))
        return 0
    print(f"widgets at {width}x{height}, {args.points:,} points per run, adversarial values, "
          f"median of {args.frames} frames (target <= {TARGET_MS:.0f} ms per chart)")
    for key, value in results.items():
        print(f"{key:<30} {value:8.2f} ms per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
