"""Keys turned into typed commands: each :class:`Action` changes the view model and, for the keys that act on
training (inittui.dashboard.training_keys), sends a command (inittui.core.commands) to the engine. No Textual:
the app maps its bindings onto :meth:`Controller.handle` and shows the :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Protocol

from inittui.core.config import ACTIVATION_NAMES
from inittui.core.events import HISTOGRAM_KINDS
from inittui.dashboard.model import PAGE_NAMES, DashboardModel
from inittui.dashboard.outcome import Outcome
from inittui.dashboard.selectors import (
    SORT_ORDERS,
    chart_extent,
    curves,
    neighbour,
    seed_group,
    seed_grouped,
    shown_record,
)
from inittui.dashboard.sources import CommandTarget
from inittui.dashboard.training_keys import TrainingKeys
from inittui.runlog.fold import CURVES, EVERYTHING, LAYERS, TABLE

DEPTH_PANELS = ("activations", "gradients", "updates", "spectrum", "spectrum histogram", "correlation")
ATLAS_METRICS = ("best_test_acc", "train_loss", "dead", "saturated")


class Action(Enum):
    """Everything a key can ask of the dashboard's model (the keys themselves are in inittui.ui.keys)."""

    PAGE_OVERVIEW = "page_overview"
    PAGE_CURVES = "page_curves"
    PAGE_LAYERS = "page_layers"
    PAGE_DEPTH = "page_depth"
    PAGE_ATLAS = "page_atlas"
    SELECT_NEXT = "select_next"
    SELECT_PREVIOUS = "select_previous"
    NEXT_INIT = "next_init"
    PREVIOUS_INIT = "previous_init"
    NEXT_ACTIVATION = "next_activation"
    PREVIOUS_ACTIVATION = "previous_activation"
    SORT_RUNS = "sort_runs"
    TOGGLE_SEEDS = "toggle_seeds"
    NEXT_SEED = "next_seed"
    TOGGLE_LOG_SCALE = "toggle_log_scale"
    TOGGLE_SMOOTHING = "toggle_smoothing"
    HISTOGRAM_SOURCE = "histogram_source"
    TOGGLE_HISTOGRAM_RANGES = "toggle_histogram_ranges"
    COMPARE = "compare"
    NEXT_LAYER = "next_layer"
    TOGGLE_OVER_TIME = "toggle_over_time"
    TOGGLE_BANDS = "toggle_bands"
    NEXT_DEPTH_PANEL = "next_depth_panel"
    NEXT_METRIC = "next_metric"
    ADD_RUN = "add_run"
    REMOVE_RUN = "remove_run"
    CURSOR_BACK = "cursor_back"
    CURSOR_FORWARD = "cursor_forward"
    CURSOR_FIRST = "cursor_first"
    CURSOR_LIVE = "cursor_live"
    TOGGLE_PAUSE = "toggle_pause"
    RESTART_RUN = "restart_run"
    RESTART_ALL = "restart_all"
    NEXT_DEVICE = "next_device"
    TOGGLE_RUN_CURVES = "toggle_run_curves"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"
    PAN_BACK = "pan_back"
    PAN_FORWARD = "pan_forward"
    RESET_ZOOM = "reset_zoom"
    CHART_CURSOR_BACK = "chart_cursor_back"
    CHART_CURSOR_FORWARD = "chart_cursor_forward"


PAGE_ACTIONS = dict(zip(PAGE_NAMES, (Action.PAGE_OVERVIEW, Action.PAGE_CURVES, Action.PAGE_LAYERS,
                                     Action.PAGE_DEPTH, Action.PAGE_ATLAS)))


class Room(Protocol):
    """What the screen can tell the controller about its size and what it shows."""

    def layers_fit_both(self) -> bool: ...

    def depth_panels_fit(self) -> bool: ...

    def loss_on_log_axis(self) -> bool: ...

    def chart_columns(self) -> int:
        """The plot columns of the full-screen chart: a step of its value cursor is one of them."""
        ...


class Controller:
    """Turns :class:`Action` into changes of ``model`` and commands to ``target()``."""

    def __init__(self, model: DashboardModel, target: Callable[[], CommandTarget | None], room: Room,
                 devices: Callable[[], list[str]]) -> None:
        self.model = model
        self.room = room
        self.training = TrainingKeys(model, target, devices)

    def handle(self, action: Action) -> Outcome:
        view = self.model.view
        if action is not Action.REMOVE_RUN:
            self.training.disarm()
        match action:
            case Action.PAGE_OVERVIEW | Action.PAGE_CURVES | Action.PAGE_LAYERS | Action.PAGE_DEPTH | Action.PAGE_ATLAS:
                return self.show_page(action.value.removeprefix("page_"))
            case Action.SELECT_NEXT | Action.SELECT_PREVIOUS:
                chosen = neighbour(self.model, 1 if action is Action.SELECT_NEXT else -1)
                if chosen is None or chosen == view.selected:
                    return Outcome()
                view.selected = chosen
                return Outcome({TABLE, CURVES, LAYERS})
            case Action.NEXT_INIT | Action.PREVIOUS_INIT:
                return self.training.cycle(self.training.initializer_names(), 1 if action is Action.NEXT_INIT else -1,
                                           init=True)
            case Action.NEXT_ACTIVATION | Action.PREVIOUS_ACTIVATION:
                return self.training.cycle(ACTIVATION_NAMES, 1 if action is Action.NEXT_ACTIVATION else -1, init=False)
            case Action.SORT_RUNS:
                view.sort_order = (view.sort_order + 1) % len(SORT_ORDERS)
                return Outcome({TABLE}, f"runs sorted by {SORT_ORDERS[view.sort_order][0]}")
            case Action.TOGGLE_SEEDS:
                return self._toggle_seeds()
            case Action.NEXT_SEED:
                return self._next_seed()
            case Action.TOGGLE_LOG_SCALE:
                view.log_scale = not self.room.loss_on_log_axis()
                return Outcome({CURVES}, f"loss on a {'log' if view.log_scale else 'linear'} scale")
            case Action.TOGGLE_SMOOTHING:
                view.smooth = not view.smooth
                return Outcome({CURVES}, "curves smoothed (EMA), raw faint behind" if view.smooth else "raw curves")
            case Action.HISTOGRAM_SOURCE:
                view.kind = HISTOGRAM_KINDS[(HISTOGRAM_KINDS.index(view.kind) + 1) % len(HISTOGRAM_KINDS)]
                return Outcome({LAYERS}, f"histograms of {view.kind}", timeout=2)
            case Action.TOGGLE_HISTOGRAM_RANGES:
                view.shared_ranges = not view.shared_ranges
                said = "one range for every histogram" if view.shared_ranges else "each histogram over its own range"
                return Outcome({LAYERS}, f"histograms: {said}", timeout=2)
            case Action.COMPARE:
                view.compare = not view.compare
                return Outcome({LAYERS})
            case Action.NEXT_LAYER:
                depth = max((len(run.life.layers) for run in self.model.runs.values()), default=1) or 1
                view.compare_layer = (view.compare_layer % depth + 1) % depth
                view.compare = True
                return Outcome({LAYERS})
            case Action.TOGGLE_OVER_TIME:
                return self._toggle_over_time()
            case Action.TOGGLE_BANDS:
                return self._toggle_bands()
            case Action.NEXT_DEPTH_PANEL:
                return self._next_depth_panel()
            case Action.NEXT_METRIC:
                outcome = self.show_page("atlas") if view.page != "atlas" else Outcome()
                view.atlas_metric = ATLAS_METRICS[(ATLAS_METRICS.index(view.atlas_metric) + 1) % len(ATLAS_METRICS)]
                outcome.dirty |= {LAYERS}
                return outcome
            case Action.ADD_RUN:
                return self.training.add_run()
            case Action.REMOVE_RUN:
                return self.training.remove_run()
            case Action.CURSOR_BACK:
                return self._cursor(self.model.move_cursor(-1))
            case Action.CURSOR_FORWARD:
                return self._cursor(self.model.move_cursor(1))
            case Action.CURSOR_FIRST:
                return self._cursor(self.model.cursor_to_first())
            case Action.CURSOR_LIVE:
                return self._cursor(self.model.cursor_to_live())
            case Action.TOGGLE_PAUSE:
                return self.training.toggle_pause()
            case Action.RESTART_RUN:
                return self.training.restart_run()
            case Action.RESTART_ALL:
                return self.training.restart_all()
            case Action.NEXT_DEVICE:
                return self.training.next_device()
            case Action.TOGGLE_RUN_CURVES:
                return self._toggle_run_curves()
            case (Action.ZOOM_IN | Action.ZOOM_OUT | Action.PAN_BACK | Action.PAN_FORWARD | Action.RESET_ZOOM
                  | Action.CHART_CURSOR_BACK | Action.CHART_CURSOR_FORWARD):
                return self._move_chart_window(action)
        raise ValueError(f"unknown action {action!r}")

    # ------------------------------------------------------------------ pages and view toggles
    def show_page(self, page: str) -> Outcome:
        if page == self.model.view.page or page not in PAGE_NAMES:
            return Outcome()
        self.model.view.page = page
        return Outcome(set(EVERYTHING), relayout=True)

    def _toggle_over_time(self) -> Outcome:
        view = self.model.view
        if view.page != "layers":
            return self.show_page("layers")
        if self.room.layers_fit_both():
            return Outcome(message="histograms and distributions over time both fit at this size: nothing to switch")
        view.layers_over_time = not view.layers_over_time
        return Outcome({LAYERS}, relayout=True)

    def _toggle_bands(self) -> Outcome:
        view = self.model.view
        outcome = self.show_page("layers") if view.page != "layers" else Outcome()
        view.distribution_bands = not view.distribution_bands
        if not self.room.layers_fit_both() and not view.layers_over_time:
            view.layers_over_time, outcome.relayout = True, True  # what was asked for is what is shown
        outcome.dirty |= {LAYERS}
        outcome.message = ("distributions over time: percentile bands 0, 7, 16, 50, 84, 93, 100"
                           if view.distribution_bands else "distributions over time: heatmap")
        outcome.timeout = 2
        return outcome

    def _next_depth_panel(self) -> Outcome:
        view = self.model.view
        outcome = self.show_page("depth") if view.page not in ("depth", "overview") else Outcome()
        view.depth_panel = (view.depth_panel + 1) % len(DEPTH_PANELS)
        outcome.dirty |= {LAYERS}
        if self.room.depth_panels_fit():
            outcome.message = f"all {len(DEPTH_PANELS)} panels fit at this size"
        else:
            outcome.message, outcome.timeout = f"depth view: {DEPTH_PANELS[view.depth_panel]}", 2
        return outcome

    def _toggle_run_curves(self) -> Outcome:
        run = self.model.selected
        if run is None:
            return Outcome()
        hidden = self.model.view.hidden_runs
        hidden ^= {run.id}
        said = "hidden from the curves (x shows it again)" if run.id in hidden else "shown on the curves"
        return Outcome({CURVES}, f"run {run.id} {run.record.name} {said}", timeout=2)

    def _move_chart_window(self, action: Action) -> Outcome:
        window = self.model.view.chart_window
        extent = chart_extent(curves(self.model))
        match action:
            case Action.ZOOM_IN:
                window.zoom_in(extent)
            case Action.ZOOM_OUT:
                window.zoom_out(extent)
            case Action.PAN_BACK | Action.PAN_FORWARD:
                window.pan(1 if action is Action.PAN_FORWARD else -1, extent)
            case Action.RESET_ZOOM:
                window.reset()
            case _:
                window.move_cursor(1 if action is Action.CHART_CURSOR_FORWARD else -1, self.room.chart_columns(), extent)
        return Outcome({CURVES})

    def _cursor(self, dirty: set[str]) -> Outcome:
        if not self.model.steps.steps:
            return Outcome(message="no statistics steps yet for the time cursor", severity="warning")
        return Outcome(dirty)

    def why_not(self) -> str | None:
        """Why keys that act on training cannot now, or None."""
        return self.training.why_not()

    # ------------------------------------------------------------------ seed groups
    def _toggle_seeds(self) -> Outcome:
        """The selected run's seed group: one row of mean ± std in the runs table, or a row for each seed."""
        run = self.model.selected
        if run is None:
            return Outcome()
        if not seed_grouped(self.model):
            return Outcome(message="one seed: no seed groups (train with --seeds 0,1,2)")
        name = shown_record(self.model, run).name
        seeds = len(seed_group(self.model, run))
        if seeds < 2:
            return Outcome(message=f"{name} has one seed: no group to expand")
        expanded = self.model.view.expanded_groups
        if name in expanded:
            expanded.discard(name)
            return Outcome({TABLE}, f"{name}: its {seeds} seeds in one row, mean ± std")
        expanded.add(name)
        return Outcome({TABLE}, f"{name}: a row for each of its {seeds} seeds")

    def _next_seed(self) -> Outcome:
        """Select the next seed of the selected run's group (after the last, the first): the histograms, the
        depth view and every page that shows one run show that seed's."""
        run = self.model.selected
        if run is None:
            return Outcome()
        if not seed_grouped(self.model):
            return Outcome(message="one seed: no seeds to step through (train with --seeds 0,1,2)")
        record = shown_record(self.model, run)
        group = seed_group(self.model, run)
        if len(group) < 2:
            return Outcome(message=f"{record.name} has one seed: no other to show")
        chosen = group[(next(i for i, other in enumerate(group) if other.id == run.id) + 1) % len(group)]
        self.model.view.selected = chosen.id
        seed = shown_record(self.model, chosen).seed
        return Outcome({TABLE, CURVES, LAYERS},
                       f"{record.name}: seed {seed}, {group.index(chosen) + 1} of its {len(group)} seeds")
