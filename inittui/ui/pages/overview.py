"""Page 1, the overview: the runs table, the curves and, where there is room, the selected run's histograms and
(from DEPTH_BESIDE_WIDTH columns) the depth view beside them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from inittui.dashboard import selectors
from inittui.dashboard.model import DashboardModel
from inittui.runlog.fold import CURVES, LAYERS, TABLE
from inittui.ui.depth_chart import OVERVIEW_PANELS, DepthChart
from inittui.ui.histograms import LayerHistograms
from inittui.ui.pages.base import CURVE_ROWS, HISTOGRAM_ROWS, Page, accuracy_plot, draw_curves, loss_plot
from inittui.ui.runs_table import RunsFilter, RunsTable

TABLE_ROWS = 12  # the runs table at most (its header and 11 runs); it scrolls beyond
DEPTH_BESIDE_WIDTH = 160


class OverviewPage(Page):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.table = RunsTable(id="runs")
        self.runs_filter = RunsFilter(id="runs-filter")
        self.loss, self.accuracy = loss_plot("loss"), accuracy_plot("accuracy")
        self.lower = Horizontal(id="overview-lower")
        self.histograms = LayerHistograms(id="histograms", classes="histograms")
        self.depth = DepthChart(OVERVIEW_PANELS, id="overview-depth")
        self.hint = Static("", id="overview-hint", classes="hint")

    def compose(self) -> ComposeResult:
        yield self.table
        yield self.runs_filter
        with Horizontal(id="overview-curves"):
            yield self.loss
            yield self.accuracy
        with self.lower:
            yield self.histograms
            yield self.depth
        yield self.hint

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        if TABLE in dirty:
            self.table.show(selectors.table_rows(model), model.view.selected)
        if CURVES in dirty:
            draw_curves(model, self.loss, self.accuracy)
        if LAYERS in dirty:
            view = selectors.histograms(model)
            self.histograms.show(view.panels, view.title, view.message)
            depth = self.depth
            if depth.display:
                message = "no runs" if not model.runs else "no layer statistics yet"
                depth.show(selectors.depth_series(model), message, model.view.depth_panel)

    def fit_to(self, width: int, rows: int, model: DashboardModel) -> None:
        """Every chart keeps 10 rows of plot area; what does not fit is left out and a line says which key
        shows it."""
        table_rows = min(len(model.shown_runs()) + 1, TABLE_ROWS, max(rows - CURVE_ROWS - 1, 3))
        self.table.styles.max_height = table_rows
        lower = rows - table_rows - CURVE_ROWS >= HISTOGRAM_ROWS
        self.lower.display = lower
        self.depth.display = lower and width >= DEPTH_BESIDE_WIDTH
        missing = [] if lower else ["histograms: 3"]
        missing += [] if self.depth.display else ["depth view: 4"]
        self.hint.display = bool(missing)
        self.hint.update(f"not shown at this size: {', '.join(missing)} (or a larger terminal)")

    def loss_on_log_axis(self) -> bool:
        return self.loss.log
