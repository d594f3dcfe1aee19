"""What every page is: a container that draws its widgets from the view model, only while it is shown."""

from __future__ import annotations

from typing import Any

from textual.containers import Container

from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import curves
from inittui.ui.curves import CurvePlot

# rows a chart needs for 10 rows of plot area: the curves (title, x axis and its labels), the histograms (border,
# title and σ line, bin range), a heatmap (the page's heading, its title, time axis and std line)
CURVE_ROWS = 13
HISTOGRAM_ROWS = 15
OVER_TIME_ROWS = 14
LOSS_CAP = 4.0
LOSS_TITLE, ACCURACY_TITLE = "train loss", "accuracy: train ─, test ●"


class Page(Container):
    """Subclasses draw the parts of the screen ``dirty`` names (inittui.runlog.fold's HEADER, TABLE, CURVES,
    LAYERS) and lay themselves out for a size."""

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        raise NotImplementedError

    def fit_to(self, width: int, rows: int, model: DashboardModel) -> None:
        """``rows`` is the height the page has (the header and the footer aside)."""

    def loss_on_log_axis(self) -> bool:
        return False


# how each chart draws, on the pages and full screen (f): its title and its y axis
CHARTS: dict[str, dict[str, Any]] = {
    "loss": {"title": LOSS_TITLE, "ycap": LOSS_CAP, "can_log": True},
    "accuracy": {"title": ACCURACY_TITLE, "ylim": (0.0, 1.0)},
}


def loss_plot(plot_id: str) -> CurvePlot:
    return CurvePlot(metric="loss", id=plot_id, **CHARTS["loss"])


def accuracy_plot(plot_id: str) -> CurvePlot:
    return CurvePlot(metric="accuracy", id=plot_id, **CHARTS["accuracy"])


def draw_curves(model: DashboardModel, loss: CurvePlot, accuracy: CurvePlot) -> None:
    """A page's loss and accuracy charts, as the user chose to see them."""
    view, settings = curves(model), model.view
    loss.show(view.loss, steps_per_epoch=view.steps_per_epoch, legend=view.legend, runs=view.runs,
              log_choice=settings.log_scale, smooth=settings.smooth, marker=view.marker, hidden=view.hidden)
    accuracy.show(view.accuracy, steps_per_epoch=view.steps_per_epoch, smooth=settings.smooth, marker=view.marker)
