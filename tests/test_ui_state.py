"""DashboardState folds any event stream, however odd its numbers, into bounded state the widgets can draw."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    StateChanged,
    TrainProgress,
)
from inittui.ui.curves import Curve, render_curves
from inittui.ui.histograms import Panel, render_panels
from inittui.ui.lines import line_width
from inittui.ui.runs_table import row_cells
from inittui.dashboard.state import MAX_POINTS, DashboardState
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
    state = DashboardState()
    state.apply(started(ids))
    for event in stream:
        state.apply(event)
    for run in state.runs.values():
        for series in (run.loss, run.accuracy, run.test):
            assert len(series) <= MAX_POINTS
        row_cells(state, run)
    runs = list(state.runs.values())
    lines = render_curves([Curve(run.colour, run.loss) for run in runs], 80, 14, "loss", ycap=4.0)
    assert len(lines) <= 14 and all(line_width(line) <= 80 for line in lines)
    panels = [Panel(f"L{i}", run.colour, layer.histograms.get("activations"), layer.measured.get("activations"),
                    layer.predicted.get("activations")) for run in runs for i, layer in enumerate(run.layers)]
    lines = render_panels(panels, 100, 12)
    assert len(lines) <= 12 and all(line_width(line) <= 100 for line in lines)
    assert "epoch" in status_text(state, "CPU").plain


def test_a_long_run_keeps_bounded_curves():
    state = DashboardState()
    state.apply(started([0, 1]))
    for chunk in range(2000):
        losses = [[2.3 / (1 + chunk * 50 + k) for k in range(50)], [None] * 50]
        state.apply(TrainProgress(chunk * 50, 0.0, [0, 1], [(chunk + 1) * 50, 3], losses, losses, 1.0, 1.0))
    assert 0 < len(state.runs[0].loss) <= MAX_POINTS
    assert len(state.runs[1].loss) == 0  # a diverged run trains no more: no points, nothing to draw


def test_keys_pressed_faster_than_the_engine_confirms_end_on_the_last_request():
    state = DashboardState()
    state.apply(started([0]))
    run = state.runs[0]
    requested = []
    for init in INITIALIZER_NAMES[:4]:
        state.request_spec(run, init, "relu")
        requested.append(init)
    # the engine confirms the first two; the screen keeps showing the last request
    for init in requested[:2]:
        state.apply(RunsChanged(5, "changed", [record(0, init, "relu", "running", 0)]))
        assert (state.runs[0].init, state.runs[0].status) == (requested[-1], "starting")
    state.apply(TrainProgress(6, 0.0, [0], [1], [[9.0]], [[0.5]], 1.0, 1.0))
    assert len(state.runs[0].loss) == 0  # numbers of a spec the user already left are not shown
    state.apply(RunsChanged(7, "changed", [record(0, requested[-1], "relu", "running", 0)]))
    assert (state.runs[0].init, state.runs[0].status, state.runs[0].pending) == (requested[-1], "running", [])
