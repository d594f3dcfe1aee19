"""The ``f`` screen: the loss or the accuracy chart full screen, zoomed and panned over its steps, with a value
cursor whose readout names each run's value under it.

It draws from the view model (:func:`inittui.dashboard.selectors.full_chart`) whenever the curves change, as
the pages do, so it stays live while training runs. Its keys are in the one key table
(:mod:`inittui.ui.keys`); the zoom, pan and cursor are :class:`~inittui.dashboard.window.StepWindow`'s.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from inittui.core.format import short
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import full_chart
from inittui.dashboard.views import ChartView
from inittui.ui.curves import CurvePlot, plot_columns, render_curves
from inittui.ui.lines import StyledLine
from inittui.ui.pages.base import CHARTS

# the readout under the chart: the cursor's step, then each run's value, on at most this many lines
READOUT_ROWS = 2


def render_readout(view: ChartView, steps_per_epoch: float, width: int, rows: int = READOUT_ROWS) -> list[StyledLine]:
    """``step N (epoch E)`` and ``● run value`` of every run shown, the selected one first and bold, on at most
    ``rows`` lines of ``width``; the runs that do not fit are counted."""
    epoch = f" (epoch {view.cursor / steps_per_epoch:.2f})" if steps_per_epoch else ""
    lines: list[StyledLine] = [[(f"step {view.cursor:,.0f}{epoch}", "bold yellow")]]
    used = len(lines[0][0][0])
    for index, reading in enumerate(view.readings):
        text = f"● {reading.label} {short(reading.value, 4)}"
        if used + 2 + len(text) > width:
            if len(lines) == rows or len(text) > width:
                rest = f"  +{len(view.readings) - index}"
                lines[-1].append((rest[: max(width - used, 0)], "dim"))
                break
            lines.append([])
            used = -2
        if used > 0:
            lines[-1].append(("  ", ""))
        lines[-1].append((text, f"bold {reading.colour}" if reading.selected else reading.colour))
        used += 2 + len(text)
    return lines


class FullChart(CurvePlot):
    """One chart over the steps of its window, x in steps, the value cursor's line and its readout under it."""

    can_focus = False
    NAMES_HIDDEN = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view: ChartView | None = None
        # the plot's columns when last drawn: the value cursor moves one of them a key
        self.columns = 0

    def show_chart(self, view: ChartView, *, log_choice: bool | None, smooth: bool) -> None:
        self.view = view
        curves = view.curves
        self.show(curves.loss if self.metric == "loss" else curves.accuracy,
                  steps_per_epoch=curves.steps_per_epoch, legend=curves.legend, runs=curves.runs,
                  log_choice=log_choice, smooth=smooth, marker=view.cursor, hidden=curves.hidden)

    def draw(self, width: int, height: int) -> list[StyledLine]:
        if self.view is None:
            return []
        readout = render_readout(self.view, self.steps_per_epoch or 0.0, width)
        # x in steps: a zoomed window is often a part of one epoch
        lines = render_curves(self.curves, width, height - len(readout), self.full_title(), ylim=self.ylim,
                              ycap=self.ycap, log=self.log, smooth=self.smooth, legend=self.legend, runs=self.runs,
                              marker=self.marker, window=self.view.window)
        self.columns = plot_columns(lines)
        return lines + readout


class ChartScreen(Screen[None]):
    """The chart ``metric`` ("loss" or "accuracy") of ``model``, full screen; esc or f closes it."""

    DEFAULT_CSS = """
    ChartScreen FullChart { height: 1fr; }
    """

    def __init__(self, model: DashboardModel, metric: str) -> None:
        super().__init__()
        self.model = model
        self.chart = FullChart(metric=metric, id="full-chart", **CHARTS[metric])

    def compose(self) -> ComposeResult:
        yield self.chart
        yield Footer(compact=True, show_command_palette=False)

    def on_screen_resume(self) -> None:
        # opened, or shown again from under the help or another screen: the curves may have changed meanwhile
        self.draw()

    def draw(self) -> None:
        """Draw the chart again from the model (its curves changed, or its window)."""
        self.chart.show_chart(full_chart(self.model, self.chart.metric), log_choice=self.model.view.log_scale,
                              smooth=self.model.view.smooth)
