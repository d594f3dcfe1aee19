"""Page 5, the atlas: the runs as an initialiser × activation matrix, coloured by the metric chosen (``m``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from inittui.dashboard import selectors
from inittui.dashboard.model import DashboardModel
from inittui.runlog.fold import LAYERS, TABLE
from inittui.ui.atlas import AtlasMatrix, grid_problem
from inittui.ui.pages.base import Page


class AtlasPage(Page):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # the selection the matrix's cursor was last put on: the arrows move the cursor without selecting
        self._placed: int | None = None
        self.message = Static("", id="atlas-message")
        self.matrix = AtlasMatrix(id="atlas-matrix")

    def on_show(self) -> None:
        self._placed = None

    def compose(self) -> ComposeResult:
        yield self.message
        yield self.matrix

    def draw(self, model: DashboardModel, dirty: set[str]) -> None:
        if not dirty & {TABLE, LAYERS}:
            return
        records = selectors.atlas_records(model)
        problem = grid_problem([(record.spec.init, record.spec.activation) for record in records])
        message, atlas = self.message, self.matrix
        message.display, atlas.display = problem is not None, problem is None
        if problem is not None:
            message.update(problem)
            return
        if atlas.metric != model.view.atlas_metric:
            atlas.set_metric(model.view.atlas_metric)
        atlas.show(records, spreads=selectors.atlas_spreads(model))
        if model.view.selected is not None and model.view.selected != self._placed:
            self._placed = model.view.selected if atlas.select_run(model.view.selected) else None
