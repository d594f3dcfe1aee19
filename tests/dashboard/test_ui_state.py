"""The view model folds any event stream, however odd its numbers, into bounded state the widgets can draw,
and shows a change asked of the engine until the engine answers that very request."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.room import Room
from support.records import record
from inittui.core.config import INITIALIZER_NAMES
from inittui.core.events import (
    Evaluation,
    ExperimentFinished,
    ExperimentStarted,
    Histogram,
    LayerStat,
    LayerStats,
    RunsChanged,
    Notice,
    StateChanged,
    TrainProgress,
)
from inittui.core.commands import SetRun
from inittui.core.config import RunSpec
from inittui.dashboard import selectors
from inittui.dashboard.controller import Action, Controller
from inittui.dashboard.model import DashboardModel
from inittui.runlog.fold import CURVE_BUCKETS
from inittui.ui.curves import render_curves
from inittui.ui.histograms import render_panels
from inittui.ui.lines import line_width
from inittui.ui.status_bar import status_text

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e30, -1e30, 1e-30, math.inf, -math.inf, math.nan, 2.302585]),
)
maybe_numbers = st.one_of(st.none(), numbers)
run_ids = st.integers(0, 7)
steps = st.integers(0, 10**12)


def started(ids: list[int]) -> ExperimentStarted:
    runs = [record(i, "he", "relu", "running", 0) for i in ids]
    return ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100, runs, 0.0)


@st.composite
def progress(draw) -> TrainProgress:
    ids = draw(st.lists(run_ids, max_size=8))
    chunk = draw(st.integers(0, 12))
    return TrainProgress(
        draw(steps), draw(numbers), ids, [draw(steps) for _ in ids],
        [draw(st.lists(maybe_numbers, min_size=chunk, max_size=chunk)) for _ in ids],
        [draw(st.lists(maybe_numbers, min_size=chunk, max_size=chunk)) for _ in ids],
        draw(numbers), draw(numbers), draw(maybe_numbers),
    )


@st.composite
def layer_stats(draw) -> LayerStats:
    ids = draw(st.lists(run_ids, max_size=8))

    def stat() -> LayerStat:
        counts = draw(st.lists(st.integers(-5, 10**20), max_size=12))
        histogram = Histogram(draw(numbers), draw(numbers), counts)
        return LayerStat(*(draw(maybe_numbers) for _ in range(8)), {"activations": histogram})

    layers = [[stat() for _ in range(draw(st.integers(0, 4)))] for _ in ids]
    predicted = [[draw(maybe_numbers) for _ in run] for run in layers]
    return LayerStats(draw(steps), ids, layers, predicted)


@st.composite
def evaluation(draw) -> Evaluation:
    ids = draw(st.lists(run_ids, max_size=8))
    return Evaluation(draw(steps), draw(numbers), ids, [draw(maybe_numbers) for _ in ids],
                      [draw(maybe_numbers) for _ in ids])


@st.composite
def runs_changed(draw) -> RunsChanged:
    ids = draw(st.lists(run_ids, unique=True, max_size=8))
    statuses = st.sampled_from(["running", "diverged", "done", "stopped", "paused"])
    inits = st.sampled_from(INITIALIZER_NAMES)
    return RunsChanged(draw(steps), "changed",
                       [record(i, draw(inits), "relu", draw(statuses), draw(steps)) for i in ids])


events = st.one_of(
    progress(), layer_stats(), evaluation(), runs_changed(),
    st.builds(StateChanged, st.sampled_from(["running", "paused", "stopping", "done"]), steps),
    st.builds(ExperimentFinished, st.sampled_from(["done", "stopped", "error"]), steps, numbers, numbers,
              st.just([record(0, "he", "relu", "done", 1, train_loss=None, test_acc=None, best_test_acc=None)])),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(events, max_size=20), st.lists(run_ids, unique=True, min_size=1, max_size=8))
def test_any_event_stream_folds_into_bounded_drawable_state(stream, ids):
    model = DashboardModel()
    model.apply(started(ids))
    for event in stream:
        model.apply(event)
    for run in model.runs.values():
        for life in run.lives:
            assert len(life.loss.minimum) <= CURVE_BUCKETS and len(life.accuracy.minimum) <= CURVE_BUCKETS
    rows = selectors.table_rows(model)
    # every run in exactly one row: its own, or its seed group's (the runs sharing its init:activation)
    assert sorted(run_id for row in rows for run_id in row.runs) == sorted(model.runs)
    view = selectors.curves(model)
    lines = render_curves(view.loss, 80, 14, "loss", ycap=4.0, steps_per_epoch=view.steps_per_epoch,
                          legend=view.legend, runs=view.runs)
    assert len(lines) <= 14 and all(line_width(line) <= 80 for line in lines)
    for run_id in model.runs:
        model.view.selected = run_id
        lines = render_panels(selectors.histograms(model).panels, 100, 12)
        assert len(lines) <= 12 and all(line_width(line) <= 100 for line in lines)
    assert "epoch" in status_text(selectors.header(model, "1 overview")).plain


def test_a_long_run_keeps_bounded_curves():
    model = DashboardModel()
    model.apply(started([0, 1]))
    for chunk in range(2000):
        losses = [[2.3 / (1 + chunk * 50 + k) for k in range(50)], [None] * 50]
        model.apply(TrainProgress(chunk * 50, 0.0, [0, 1], [(chunk + 1) * 50, 3], losses, losses, 1.0, 1.0))
    loss = model.runs[0].life.loss
    assert 0 < len(loss) <= CURVE_BUCKETS and loss.last_step == 100_000
    assert len(model.runs[1].life.loss) == 0  # a diverged run trains no more: no points, nothing to draw


class Recorder:
    """A command target that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, command) -> None:
        self.sent.append(command)


def test_b_shows_the_layers_page_with_percentile_bands_and_back_to_the_heatmap():
    class Small(Room):
        def layers_fit_both(self) -> bool:
            return False

    model = DashboardModel()
    model.apply(started([0]))
    controller = Controller(model, lambda: Recorder(), Small(), lambda: ["cpu"])
    outcome = controller.handle(Action.TOGGLE_BANDS)
    view = model.view
    assert (view.page, view.distribution_bands, view.layers_over_time) == ("layers", True, True)
    assert outcome.relayout and "percentile bands" in outcome.message
    outcome = controller.handle(Action.TOGGLE_BANDS)
    assert (view.page, view.distribution_bands, view.layers_over_time) == ("layers", False, True)
    assert outcome.message.endswith("heatmap")


def test_x_hides_the_selected_runs_curves_and_the_chart_reads_the_others_at_its_cursor():
    model = DashboardModel()
    model.apply(started([0, 1]))
    losses = [[0.5] * 100, [1.5] * 100]
    model.apply(TrainProgress(100, 1.0, [0, 1], [100, 100], losses, losses, 1.0, 1.0))
    controller = Controller(model, lambda: Recorder(), Room(), lambda: ["cpu"])
    model.view.selected = 1
    controller.handle(Action.CHART_CURSOR_BACK)  # one of 101 columns over 100 steps
    chart = selectors.full_chart(model, "loss")
    assert chart.window == (0.0, 100.0) and chart.cursor == 99.0
    assert [(reading.label, reading.value, reading.selected) for reading in chart.readings] == [
        ("1 he:relu", 1.5, True), ("0 he:relu", 0.5, False)]
    outcome = controller.handle(Action.TOGGLE_RUN_CURVES)
    view = selectors.curves(model)
    assert "hidden" in outcome.message and view.hidden == ["he:relu"] and len(view.loss) == 1
    assert [reading.label for reading in selectors.full_chart(model, "loss").readings] == ["0 he:relu"]
    controller.handle(Action.ZOOM_IN)
    assert selectors.full_chart(model, "loss").window[1] - selectors.full_chart(model, "loss").window[0] == 50.0
    controller.handle(Action.RESET_ZOOM)
    controller.handle(Action.TOGGLE_RUN_CURVES)
    assert selectors.full_chart(model, "loss").window == (0.0, 100.0) and len(selectors.curves(model).loss) == 2


def test_keys_pressed_faster_than_the_engine_confirms_end_on_the_last_request():
    model = DashboardModel()
    model.apply(started([0]))
    target = Recorder()
    controller = Controller(model, lambda: target, Room(), lambda: ["cpu"])
    for _ in range(4):
        controller.handle(Action.NEXT_INIT)
    requested = [command.init for command in target.sent]
    he = INITIALIZER_NAMES.index("he")
    assert requested == list(INITIALIZER_NAMES[he + 1 : he + 5]) and all(isinstance(c, SetRun) for c in target.sent)
    shown = lambda: selectors.shown_record(model, model.runs[0])  # noqa: E731
    # the engine answers the first two requests; the screen keeps showing the last one asked for
    for command in target.sent[:2]:
        model.apply(RunsChanged(5, "changed", [record(0, command.init, "relu", "running", 0)], command.request))
        assert (shown().spec.init, shown().status) == (requested[-1], "starting")
    model.apply(TrainProgress(6, 0.0, [0], [1], [[9.0]], [[0.5]], 1.0, 1.0))
    assert selectors.curves(model).loss == []  # numbers of a spec the user already left are not shown
    last = target.sent[-1]
    model.apply(RunsChanged(7, "changed", [record(0, last.init, "relu", "running", 0)], last.request))
    assert (shown().spec.init, shown().status, model.pending) == (requested[-1], "running", {})


def test_a_refused_change_leaves_the_run_as_it_was_and_says_why():
    model = DashboardModel()
    model.apply(started([0]))
    target = Recorder()
    Controller(model, lambda: target, Room(), lambda: ["cpu"]).handle(Action.NEXT_ACTIVATION)
    assert selectors.shown_record(model, model.runs[0]).status == "starting"
    model.take_notifications()
    model.apply(Notice("my-init failed: NaN in the weights", "error", target.sent[0].request))
    assert selectors.shown_record(model, model.runs[0]).spec == RunSpec("he", "relu") and model.pending == {}
    assert [note.message for note in model.take_notifications()] == ["my-init failed: NaN in the weights"]


def test_restart_at_an_epochs_end_shows_no_number_of_the_runs_previous_life():
    """R pressed as an epoch ends: the engine evaluates the old weights, then restarts; that evaluation
    belongs to the old life and never shows on the restarted run."""
    model = DashboardModel()
    model.apply(started([0, 1]))
    model.apply(TrainProgress(100, 1.0, [0, 1], [100, 100], [[0.4] * 100] * 2, [[0.9] * 100] * 2, 1.0, 1.0))
    target = Recorder()
    Controller(model, lambda: target, Room(), lambda: ["cpu"]).handle(Action.RESTART_ALL)
    model.apply(Evaluation(100, 1.0, [0, 1], [0.943, 0.912], [0.2, 0.3]))  # computed before the restart
    for run in model.runs.values():
        shown = selectors.shown_record(model, run)
        assert (shown.status, shown.test_acc, shown.best_test_acc, shown.train_loss) == ("starting", None, None, None)
    request = target.sent[0].request
    model.apply(RunsChanged(100, "restart", [record(i, "he", "relu", "running", 0, draw=1) for i in (0, 1)], request))
    model.apply(TrainProgress(101, 1.01, [0, 1], [1, 1], [[2.3]] * 2, [[0.1]] * 2, 1.0, 1.0))
    for run in model.runs.values():
        shown = selectors.shown_record(model, run)
        assert (shown.status, shown.step, shown.test_acc, shown.best_test_acc) == ("running", 1, None, None)
        assert run.lives[0].record.best_test_acc is not None  # the old life keeps its own


def test_minus_asks_first_then_removes_and_the_run_after_takes_the_selection():
    """`-` next to `+` removed the selected run at once, said nothing, and the selection jumped to run 0."""
    model = DashboardModel()
    model.apply(started([0, 1, 2, 3]))
    target = Recorder()
    controller = Controller(model, lambda: target, Room(), lambda: ["cpu"])
    model.view.selected = 2
    asked = controller.handle(Action.REMOVE_RUN)
    assert target.sent == [] and asked.message == "remove run 2 he:relu? press - again to remove it (any other key keeps it)"
    assert controller.handle(Action.SELECT_NEXT).dirty and model.view.selected == 3  # another key: kept
    controller.handle(Action.SELECT_PREVIOUS)
    controller.handle(Action.REMOVE_RUN)
    removed = controller.handle(Action.REMOVE_RUN)
    assert [type(command).__name__ for command in target.sent] == ["RemoveRun"] and target.sent[0].run_id == 2
    assert removed.message == "run 2 he:relu removed"
    assert [run.id for run in model.shown_runs()] == [0, 1, 3] and model.view.selected == 3
