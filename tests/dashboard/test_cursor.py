"""The time cursor and the log-index-backed ``inittui view``: ←/→, home and end move through a recorded log's
statistics steps, and the histograms, the table's numbers, the header and a mark on the curves follow.

The logs are written with RunLog from a synthetic event stream whose values are known at every step.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from support.records import record
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import (
    Evaluation,
    ExperimentFinished,
    ExperimentStarted,
    Histogram,
    LayerStat,
    LayerStats,
    RunsChanged,
    TrainProgress,
)
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import atlas_records, shown_layers, shown_record
from inittui.dashboard.sources import FollowSource
from inittui.dashboard.steps import RecentSteps
from inittui.dashboard.views import Curve
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.writer import RunLog
from inittui.series.curve import MinMaxSeries
from inittui.ui.app import make_app
from inittui.ui.curves import MARK, render_curves
from inittui.ui.runs_table import RunsTable

from support.dashboard import SIZE, cell, live_app, press, record_notes, started, status_text, wait_for
from support.logs import write_events

STEPS = (0, 10, 20, 30, 40)
RUNS = (0, 1)
DEPTH = 2
BINS = 8


def loss_at(run: int, step: int) -> float:
    return 2.0 - step / 40 + run / 10


def accuracy_at(run: int, step: int) -> float:
    return 0.25 + step / 100 + run / 100


def std_at(run: int, layer: int, step: int) -> float:
    return round(1.0 + step / 10 + layer / 100 + run / 1000, 6)


def loss_shown_at(app, run: int, step: int) -> bool:
    """The table's loss at ``step`` is one the run logged since the statistics step before (the curve's value
    there: the mean of the bucket holding that step)."""
    shown = float(cell(app, run, "loss"))
    return loss_at(run, step) - 5e-4 <= shown <= loss_at(run, step - 9) + 5e-4


def counts_at(step: int) -> list[int]:
    """All in one bin, which moves with the step: a histogram that says which step it is from."""
    counts = [0] * BINS
    counts[step // 10 % BINS] = 100
    return counts


def layer_stats(step: int) -> LayerStats:
    def stat(run: int, layer: int) -> LayerStat:
        histogram = Histogram(-1.0, 1.0, counts_at(step))
        return LayerStat(0.0, std_at(run, layer, step), 0.01 * step / 10, None, 1.0, 0.1, 0.1, 0.01,
                         {kind: histogram for kind in ("activations", "preactivations", "gradients", "weights")})

    return LayerStats(step, list(RUNS), [[stat(run, layer) for layer in range(DEPTH)] for run in RUNS],
                      [[0.8] * DEPTH for _ in RUNS])


def progress(step: int, chunk: int = 10) -> TrainProgress:
    first = step - chunk + 1
    return TrainProgress(step, step / 20, list(RUNS), [step] * len(RUNS),
                         [[loss_at(run, s) for s in range(first, step + 1)] for run in RUNS],
                         [[accuracy_at(run, s) for s in range(first, step + 1)] for run in RUNS], 1000.0, step / 10)


def synthetic_events(steps=STEPS, finished: bool = True) -> list:
    config = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], depth=DEPTH, width=4,
                              steps=steps[-1], epochs=None, stats_every=10, histogram_bins=BINS, preset="compare")
    events: list = [ExperimentStarted(config.to_dict(), "cpu", "CPU", "synthetic", steps[-1], 20,
                                      [record(run, *("he", "relu") if run == 0 else ("xavier", "tanh"), "running")
                                       for run in RUNS], 0.0)]
    for step in steps:
        if step:
            events.append(progress(step))
        events.append(layer_stats(step))
        if step and step % 20 == 0:
            events.append(Evaluation(step, step / 20, list(RUNS), [0.5 + step / 100 + run / 100 for run in RUNS],
                                     [1.0] * len(RUNS)))
    if finished:
        results = [record(run, "he", "relu", "done", steps[-1], train_loss=loss_at(run, steps[-1]), test_acc=0.9, best_test_acc=0.9)
                   for run in RUNS]
        events.append(ExperimentFinished("done", steps[-1], 4.0, 1000.0, results))
    return events, config


@pytest.fixture
def recorded(tmp_path) -> Path:
    return write_events(tmp_path, *synthetic_events())


def shown_std(app, layer: int) -> float | None:
    return app.overview.histograms.panels[layer].measured


def shown_counts(app, layer: int) -> list[int]:
    return list(app.overview.histograms.panels[layer].histogram.counts)


def header(app) -> str:
    return status_text(app)


async def opened(pilot, app) -> None:
    await wait_for(pilot, lambda: app.model.experiment.finished is not None and app.query_one(RunsTable).row_count == 2)
    await pilot.pause(0.1)


async def test_the_cursor_moves_over_a_recorded_log_and_everything_per_step_follows(recorded):
    app = make_app(run_dir=recorded, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        # live: the latest step
        assert "(cursor)" not in header(app)
        assert shown_std(app, 1) == std_at(0, 1, 40) and shown_counts(app, 0) == counts_at(40)
        assert cell(app, 0, "loss") == f"{loss_at(0, 40):.3f}" and cell(app, 0, "step") == "40"
        assert app.overview.loss.marker is None

        await press(pilot, "left")
        assert "step 30 of 40 (cursor)" in status_text(app)
        assert shown_std(app, 0) == std_at(0, 0, 30) and shown_counts(app, 0) == counts_at(30)
        assert cell(app, 0, "step") == "30" and cell(app, 1, "step") == "30"
        assert loss_shown_at(app, 1, 30) and loss_shown_at(app, 0, 30)
        assert cell(app, 0, "test") == "70.0" and cell(app, 1, "best") == "71.0"  # the evaluation at step 20
        assert app.overview.loss.marker == 30 and app.overview.accuracy.marker == 30
        assert any(MARK in text for line in app.overview.loss.draw(60, 12) for text, _ in line)

        await press(pilot, "left", "left")
        assert "step 10 of 40 (cursor)" in header(app)
        assert shown_std(app, 1) == std_at(0, 1, 10) and shown_counts(app, 1) == counts_at(10)
        assert cell(app, 0, "test") == "–"  # no evaluation yet at step 10
        assert cell(app, 0, "deadsat") == "1%/–"

        await press(pilot, "j")  # another run selected: its layers at the same step
        await pilot.pause(0.05)
        assert shown_std(app, 0) == std_at(1, 0, 10)

        await press(pilot, "home")
        assert "step 0 of 40 (cursor)" in header(app) and shown_counts(app, 0) == counts_at(0)
        assert cell(app, 0, "loss") == "–"  # nothing trained before step 0
        await press(pilot, "left")
        assert "step 0 of 40" in header(app)  # the first step is as far back as it goes
        await press(pilot, "right")
        assert "step 10 of 40" in header(app)

        await press(pilot, "end")
        assert "(cursor)" not in header(app) and app.overview.loss.marker is None
        assert shown_std(app, 0) == std_at(1, 0, 40) and cell(app, 0, "step") == "40"
        # → from the step before the latest is live again
        await press(pilot, "left", "right")
        assert "(cursor)" not in header(app)


async def test_the_viewer_fills_distributions_over_time_from_the_whole_log(recorded):
    app = make_app(run_dir=recorded, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await press(pilot, "3", "t")
        # read from the log in a worker: every statistics step of the run, not only the one on screen
        await wait_for(pilot, lambda: app.pages["layers"].distributions.panels and len(app.pages["layers"].distributions.panels[0].grid.first_steps) > 1)
        assert app.pages["layers"].distributions.panels[0].grid.first_steps == list(STEPS)
        assert app.pages["layers"].distributions.panels[0].grid.std == pytest.approx([std_at(0, 0, step) for step in STEPS])
        assert "activations over time since step 0" in app.pages["layers"].distributions.heading


async def test_the_atlas_follows_the_cursor_as_the_table_does(recorded):
    app = make_app(run_dir=recorded, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        live = {cell.id: cell for cell in atlas_records(app.model)}
        assert live[0].best_test_acc is not None and live[0].dead is not None
        await press(pilot, "home")  # step 0: no evaluation yet
        first = {cell.id: cell for cell in atlas_records(app.model)}
        assert first[0].best_test_acc is None and first[0].train_loss is None


async def test_compare_mode_follows_the_cursor(recorded):
    app = make_app(run_dir=recorded, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await press(pilot, "c", "home", "right", "right")
        panels = app.overview.histograms.panels
        assert [panel.measured for panel in panels] == [std_at(run, DEPTH - 1, 20) for run in RUNS]  # the last layer
        assert "step 20 of 40 (cursor)" in str(app.overview.histograms.border_title)


async def test_a_damaged_statistics_line_is_said_and_skipped_and_a_damaged_progress_line_counted(tmp_path):
    events, config = synthetic_events()
    run_dir = write_events(tmp_path, events, config)
    path = run_dir / EVENTS_FILE
    lines = path.read_bytes().split(b"\n")
    layers_10 = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"layers","step":10,'))
    progress_30 = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"progress","step":30,'))
    # damaged inside: the index takes it for a statistics step, and finds out when the cursor reads it
    lines[layers_10] = lines[layers_10][:60] + b"\xff garbage" + lines[layers_10][70:]
    lines[progress_30] = lines[progress_30][:10] + b"#" + lines[progress_30][11:]
    path.write_bytes(b"\n".join(lines))
    app = make_app(run_dir=run_dir, fps=20)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert [note for note in notes if "skipped" in note] == [
            f"line {progress_30 + 1} of the run log could not be read and was skipped; everything else is shown."]
        await press(pilot, "home", "right")
        widget = app.overview.histograms
        assert "step 10 of 40 (cursor)" in header(app) and "unreadable" in str(widget.border_title)
        assert widget.panels == [] and cell(app, 0, "deadsat") == "–"
        await press(pilot, "right")
        assert shown_std(app, 0) == std_at(0, 0, 20)
        assert app.source.index.skipped == 2


async def test_a_log_still_being_written_is_followed_and_the_cursor_reaches_its_new_steps(tmp_path):
    events, config = synthetic_events(STEPS + (50, 60))
    finished_at = len(events) - 1
    first_part = next(i for i, e in enumerate(events) if isinstance(e, LayerStats) and e.step == 20) + 1
    log = RunLog.create(tmp_path, config, {"dataset": "synthetic"})
    try:
        for event in events[:first_part]:
            log.write(event)
        # a line being written when the viewer opens: no newline yet
        half = events[first_part].to_json().encode()
        with open(log.path, "ab") as file:
            file.write(half[:25])
        app = make_app(run_dir=log.run_dir, fps=20)
        async with app.run_test(size=SIZE) as pilot:
            # the events shown, and the index's steps (read after them) known to the cursor
            await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == 2 and app.model.experiment.step == 20
                           and app.model.steps.steps[-1:] == [20])
            assert app.source.index.skipped == 0 and app.source.index.truncated_tail == 25
            await press(pilot, "left")
            assert "step 10 of 20 (cursor)" in header(app)
            with open(log.path, "ab") as file:
                file.write(half[25:] + b"\n")
            log._complete_bytes = log.path.stat().st_size  # the writer goes on after the line it finished
            for event in events[first_part + 1 : finished_at]:
                log.write(event)
            await wait_for(pilot, lambda: app.model.experiment.step == 60)
            assert cell(app, 0, "step") == "10"  # the cursor stays where the user put it
            await press(pilot, "end")
            assert cell(app, 0, "step") == "60" and shown_std(app, 0) == std_at(0, 0, 60)
            await press(pilot, "left")
            assert "step 50 of 60 (cursor)" in header(app) and shown_counts(app, 0) == counts_at(50)
            assert loss_shown_at(app, 1, 50)
            log.write(events[finished_at])
            await wait_for(pilot, lambda: app.model.experiment.finished is not None)
            assert app.source.finished.wait(2)  # a finished log is no longer followed
    finally:
        log.close()


async def test_the_cursor_works_on_a_dashboard_fed_events_without_a_log():
    events, _ = synthetic_events()
    app = make_app(events=events, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        await press(pilot, "left", "left")
        assert "step 20 of 40 (cursor)" in header(app)
        assert shown_std(app, 1) == std_at(0, 1, 20) and loss_shown_at(app, 1, 20)


async def test_a_paused_live_dashboard_moves_through_the_steps_it_has_seen(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app, steps=12)
        await press(pilot, "space")
        await wait_for(pilot, lambda: app.model.experiment.state == "paused")
        await pilot.pause(0.3)
        steps = list(app.model.steps.steps)
        assert len(steps) >= 3 and steps[0] == 0
        await press(pilot, "home")
        assert f"step 0 of {app.model.experiment.step:,} (cursor)" in header(app)
        first = app.model.steps.read(0)
        assert shown_std(app, 0) == first.layers[0][0].std
        assert cell(app, 0, "step") == "0"
        await press(pilot, "end")
        assert "(cursor)" not in header(app)
        assert engine.step > 0


# ---------------------------------------------------------------------------------------------- state, plain
def test_recent_steps_stay_bounded_and_span_the_whole_run():
    store = RecentSteps(capacity=8)
    for step in range(0, 1000, 5):
        store.add(layer_stats(step))
    assert len(store.steps) <= 8 and store.steps[0] == 0 and store.steps[-1] == 995
    assert store.steps == sorted(store.steps)
    assert all(store.read(i).step == step for i, step in enumerate(store.steps))
    store.add(layer_stats(500))  # an earlier step: the experiment restarted, later steps no longer apply
    assert store.steps[-1] == 500 and max(store.steps) == 500


def test_a_run_restarted_with_another_spec_shows_nothing_from_before_its_restart():
    events, _ = synthetic_events()
    model = DashboardModel()
    for event in events[:-1]:
        if isinstance(event, LayerStats) and event.step == 20:
            model.apply(RunsChanged(20, "set", [record(0, "he", "relu", "running", 20),
                                                record(1, "lecun", "tanh", "running", 0)]))
        model.apply(event)
    run = model.runs[1]
    model.move_cursor(-1)  # step 30: both runs, run 1 in its second life
    assert model.cursor_step == 30 and len(shown_layers(model, run)[0]) == DEPTH
    assert shown_record(model, run).spec == RunSpec("lecun", "tanh")
    model.cursor_to_first()  # step 0: run 1's first life, as it was then
    assert shown_record(model, run).spec == RunSpec("xavier", "tanh") and len(shown_layers(model, run)[0]) == DEPTH
    assert shown_record(model, run).train_loss is None and shown_record(model, run).status == "running"


def test_a_restarted_runs_history_is_reached_by_the_cursor_and_shown_as_it_was():
    """R at step 20: before it, the cursor shows each run's first life with its own numbers."""
    events, _ = synthetic_events()
    model = DashboardModel()
    restarted = False
    for event in events[:-1]:
        if isinstance(event, LayerStats) and event.step == 30:
            model.apply(RunsChanged(30, "restart", [record(0, "he", "relu", draw=1), record(1, "xavier", "tanh", draw=1)]))
            restarted = True
        if restarted and isinstance(event, TrainProgress):  # the restarted runs count their steps from 0
            event = replace(event, run_steps=[step - 30 for step in event.run_steps])
        elif restarted and isinstance(event, Evaluation):
            continue
        model.apply(event)
    for run_id in RUNS:
        assert [life.started_at for life in model.runs[run_id].lives] == [0, 30]
    model.cursor_to(20)
    shown = shown_record(model, model.runs[0])
    assert shown.step == 20 and shown.train_loss == pytest.approx(loss_at(0, 20)) and shown.test_acc == 0.7
    model.cursor_to_live()
    fresh = shown_record(model, model.runs[0])
    assert fresh.step == 10 and fresh.test_acc is None and fresh.best_test_acc is None


def test_a_curve_tells_its_value_at_a_step():
    series = MinMaxSeries()
    for x in (0, 10, 20):
        series.add(x, x / 10)
    assert series.value_at(-1) is None and series.value_at(0) == 0 and series.value_at(15) == 1
    assert series.value_at(99) == 2


def test_the_curves_mark_is_a_vertical_line_in_the_empty_cells_of_its_column():
    series = MinMaxSeries()
    series.extend(0, [1.0] * 101)
    lines = render_curves([], 40, 10, marker=50.0)  # no curve: no x range to mark in beyond 0..1
    assert not any(MARK in text for line in lines for text, _ in line)
    lines = render_curves([Curve("#ffffff", series)], 40, 10, marker=50.0)
    rows = ["".join(text for text, _ in line) for line in lines[1:-2]]
    columns = {row.index(MARK) for row in rows if MARK in row}
    assert len(columns) == 1 and sum(MARK in row for row in rows) >= len(rows) - 1
    assert not any(MARK in text for line in render_curves([Curve("#ffffff", series)], 40, 10, marker=500.0)
                   for text, _ in line)


def test_the_viewer_reads_a_log_through_its_index(recorded):
    source = FollowSource(recorded)
    items: list = []
    source.run(items.append)
    # every event but the statistics steps, and only the newest of those, where it was written
    assert [item for item in items if not isinstance(item, LayerStats)][1:] == [
        event for event in events_of(recorded) if not isinstance(event, LayerStats)]
    assert [item.step for item in items if isinstance(item, LayerStats)] == [STEPS[-1]]
    assert source.steps.steps == list(STEPS)
    assert source.steps.read(2).step == 20


def test_the_viewer_says_at_once_that_the_writer_of_an_unfinished_log_is_gone(tmp_path):
    import json
    import subprocess
    import sys
    import threading

    from inittui.core.reports import WriterGone
    from inittui.runlog.layout import CONFIG_FILE

    run_dir = write_events(tmp_path, *synthetic_events(finished=False))
    header = json.loads((run_dir / CONFIG_FILE).read_text())
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / CONFIG_FILE).write_text(json.dumps({**header, "pid": int(ended.stdout)}))
    # a poll so slow that the writer would be asked only minutes later, were it not asked once caught up
    source = FollowSource(run_dir, poll_s=60.0)
    gone = threading.Event()
    worker = threading.Thread(target=source.run, args=(lambda item: gone.set() if isinstance(item, WriterGone)
                                                       else None,), daemon=True)
    worker.start()
    try:
        assert gone.wait(10.0)
    finally:
        source.close(5.0)


def events_of(run_dir):
    from inittui.runlog.reader import read_events

    return read_events(run_dir)


def test_the_viewer_starts_without_torch():
    """``inittui view`` needs no torch: importing it costs seconds and hundreds of MB before the first paint."""
    import subprocess
    import sys

    code = "import sys, inittui.cli, inittui.ui.app; print(sorted(m for m in ('torch', 'markdown_it') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


async def test_the_heatmaps_mark_the_time_cursors_step(recorded):
    app = make_app(run_dir=recorded, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await press(pilot, "3")
        heatmaps = app.pages["layers"].distributions
        await wait_for(pilot, lambda: heatmaps.drawings and len(heatmaps.panels[0].grid.first_steps) == len(STEPS))
        assert heatmaps.cursor_step is None
        await press(pilot, "left", "left")
        await wait_for(pilot, lambda: heatmaps.cursor_step == 20 and heatmaps.drawings)
        drawing = heatmaps.drawings[0]
        axis = "".join(text for text, _ in _cells_of(heatmaps.render_line(drawing.top + drawing.rows + 1)))
        assert axis.index("▲") == drawing.column_of_step(20)


def _cells_of(strip):
    return [(character, segment.style) for segment in strip for character in segment.text]


def restarted_at_30() -> tuple[list, ExperimentConfig]:
    """The synthetic log with R at step 30, as the engine writes it: the evaluation of the old lives first,
    then the new table, then the restarted runs counting their steps from 0."""
    events, config = synthetic_events(finished=False)
    written: list = []
    restarted = False
    for event in events:
        if isinstance(event, LayerStats) and event.step == 30:
            written.append(RunsChanged(30, "restart", [record(0, "he", "relu", draw=1),
                                                       record(1, "xavier", "tanh", draw=1)]))
            restarted = True
        if restarted and isinstance(event, TrainProgress):
            event = replace(event, run_steps=[step - 30 for step in event.run_steps])
        elif restarted and isinstance(event, Evaluation):
            event = replace(event, test_acc=[0.2, 0.3])
        written.append(event)
    results = [record(run, *("he", "relu") if run == 0 else ("xavier", "tanh"), "done", 10, draw=1) for run in RUNS]
    written.append(ExperimentFinished("done", 40, 4.0, 1000.0, results))
    return written, config


async def test_the_viewer_reaches_every_step_before_and_after_a_restart(tmp_path):
    """`inittui view` of a log with R: ← reaches the steps before it, each run shown as it was then (its old
    life's step, loss and test accuracy, its curve marked at that life's step), and `runs` agrees."""
    from inittui.runlog.catalogue import summarise_run

    run_dir = write_events(tmp_path, *restarted_at_30())
    app = make_app(run_dir=run_dir, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert cell(app, 0, "step") == "10" and cell(app, 0, "best") == "20.0"  # live: the new lives
        await press(pilot, "left", "left")  # 30, then 20: before the restart
        assert "step 20 of 40 (cursor)" in header(app)
        assert cell(app, 0, "step") == "20" and loss_shown_at(app, 0, 20)
        assert (cell(app, 0, "test"), cell(app, 1, "test")) == ("70.0", "71.0")
        assert app.overview.loss.marker == 20.0
        assert shown_std(app, 1) == std_at(0, 1, 20) and shown_counts(app, 0) == counts_at(20)
        await press(pilot, "home")
        assert cell(app, 0, "step") == "0" and cell(app, 0, "test") == "–"
        await press(pilot, "right", "right", "right", "right")  # 10, 20, 30, 40: the restart's step, then after
        assert "(cursor)" not in header(app) and cell(app, 0, "step") == "10"
        state = app.model.experiment.state
        names = [run.record.name for run in app.model.shown_runs()]
    summary = summarise_run(run_dir)
    assert (summary.status, summary.runs, summary.skipped_lines) == (state, names, 0)
    # the best any life reached: the old lives' evaluation at step 20
    assert summary.best_test_acc == {"he:relu": [0.7], "xavier:tanh": [0.71]}
