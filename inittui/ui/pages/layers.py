"""Page 3: the selected run's histograms and, under them, each hidden layer's distribution over time (where
both do not fit, one of them: ``t`` switches)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from inittui.dashboard import selectors
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.over_time import HistoryKey, OverTime, Past, Refill
from inittui.runlog.fold import LAYERS
from inittui.ui.depth_chart import MIN_PLOT_ROWS
from inittui.ui.distributions import DistributionsOverTime
from inittui.ui.histograms import LayerHistograms
from inittui.ui.pages.base import HISTOGRAM_ROWS, OVER_TIME_ROWS, Page


class LayersPage(Page):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.over_time = OverTime()
        self._model: DashboardModel | None = None
        self.histograms = LayerHistograms(id="layer-histograms", classes="histograms")
        self.distributions = DistributionsOverTime(min_heat_rows=MIN_PLOT_ROWS, id="distributions")
        self.hint = Static("", id="layers-hint", classes="hint")

    def compose(self) -> ComposeResult:
        yield self.histograms
        yield self.distributions
        yield self.hint

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        if LAYERS not in dirty:
            return
        self._model = model
        view = selectors.histograms(model)
        self.histograms.show(view.panels, view.title, view.message)
        if not self.distributions.display:
            self.over_time.clear()  # not on screen: it starts afresh, from the steps held, when shown
            return
        refill = self.over_time.sync(model)
        if refill is not None:
            self._read_history(refill)
        self._draw_over_time(model)

    def _draw_over_time(self, model: DashboardModel) -> None:
        panels, heading, message = self.over_time.panels(model)
        self.distributions.show(panels, heading, message, cursor_step=model.cursor_step,
                                bands=model.view.distribution_bands)

    @work(thread=True, exclusive=True, exit_on_error=False, group="over-time")
    def _read_history(self, refill: Refill) -> None:
        """The run's past statistics steps, read from the run log off the UI thread."""
        past = OverTime.read(refill)
        self.app.call_from_thread(self._history_read, refill.key, past)

    def _history_read(self, key: HistoryKey, past: Past) -> None:
        if self.over_time.adopt(key, past) and self._model is not None:
            self._draw_over_time(self._model)

    def fit_to(self, width: int, rows: int, model: DashboardModel) -> None:
        both = self.fits_both(rows)
        over_time = model.view.layers_over_time
        self.histograms.display = both or not over_time
        self.distributions.display = both or over_time
        self.hint.display = not both
        shown, other = ("distributions over time", "histograms") if over_time else ("histograms", "distributions over time")
        self.hint.update(f"{shown} · t: {other} (both show from {HISTOGRAM_ROWS + OVER_TIME_ROWS + 3} rows)")

    @staticmethod
    def fits_both(rows: int) -> bool:
        return rows >= HISTOGRAM_ROWS + OVER_TIME_ROWS
