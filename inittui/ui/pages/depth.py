"""Page 4, the depth view: activation std, backpropagated gradient and update ratio per layer."""

from __future__ import annotations

from textual.app import ComposeResult

from inittui.dashboard import selectors
from inittui.dashboard.model import DashboardModel
from inittui.runlog.fold import LAYERS
from inittui.ui.depth_chart import DepthChart
from inittui.ui.pages.base import Page


class DepthPage(Page):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart = DepthChart(id="depth-chart")

    def compose(self) -> ComposeResult:
        yield self.chart

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        if LAYERS in dirty:
            message = "no runs" if not model.runs else "no layer statistics yet"
            self.chart.show(selectors.depth_series(model), message, model.view.depth_panel)

    def panels_fit(self) -> bool:
        return self.chart.stacked
