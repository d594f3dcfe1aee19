"""Page 2: the loss and accuracy curves, the whole screen."""

from __future__ import annotations

from textual.app import ComposeResult

from inittui.dashboard.model import DashboardModel
from inittui.runlog.fold import CURVES
from inittui.ui.pages.base import Page, accuracy_plot, draw_curves, loss_plot


class CurvesPage(Page):
    DEFAULT_CSS = """
    CurvesPage { layout: horizontal; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.loss, self.accuracy = loss_plot("page-loss"), accuracy_plot("page-accuracy")

    def compose(self) -> ComposeResult:
        yield self.loss
        yield self.accuracy

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        if CURVES in dirty:
            draw_curves(model, self.loss, self.accuracy)

    def loss_on_log_axis(self) -> bool:
        return self.loss.log
