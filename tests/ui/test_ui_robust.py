"""The dashboard as a user breaks it: diverging runs, a full disk, a killed training process, a damaged log,
small terminals and resize storms. Pilot tests; the training child of the real dashboard trains on tiny IDX
files, so nothing here needs MNIST.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from support.faults import FullDisk
from support.idx import write_mnist_files
from textual import events
from textual.geometry import Size
from support.dashboard import SIZE, cell, dashboard_config, live_app, press, record_notes, screen_text, wait_for
from support.data import noise_mnist
from support.logs import dashboard_log

from inittui.runlog import writer
from inittui.core.config import RunSpec
from inittui.core.events import ExperimentFinished
from inittui.training.engine import Engine
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.writer import RunLog
from inittui.runlog.reader import read_log
from inittui.ui.app import MIN_SIZE, make_app
from inittui.ui.curves import CurvePlot
from inittui.ui.histograms import LayerHistograms
from inittui.ui.runs_table import RunsTable
from inittui.dashboard.sources import ProcessSource
from inittui.ui.status_bar import StatusBar

async def resize(pilot, width: int, height: int) -> None:
    await pilot.resize_terminal(width, height)


def assert_widgets_bounded(app) -> None:
    for widget in (*app.query(CurvePlot), app.overview.histograms):
        width, height = widget.size
        lines = widget.plain_lines()
        assert len(lines) <= height
        assert all(len(line) <= width for line in lines)


async def test_diverging_runs_show_as_diverged_while_the_healthy_one_trains_on(tmp_path):
    runs = [RunSpec("normal-1", "relu"), RunSpec("he", "relu"), RunSpec("normal-1", "selu")]
    config = dashboard_config(width=64, lr=0.1).with_runs(runs)
    app = make_app(config, data=noise_mnist(), log_dir=tmp_path / "runs", fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.runs and app.model.runs[0].record.status == "diverged", timeout=30)
        await wait_for(pilot, lambda: cell(app, 0, "status") == "diverged")
        diverged_at = app.model.runs[0].record.step
        assert 0 < diverged_at < 20 and cell(app, 0, "step") == str(diverged_at)
        healthy = app.model.runs[1].record.step
        await wait_for(pilot, lambda: app.model.runs[1].record.step > healthy + 20, timeout=30)
        assert app.model.runs[0].record.step == diverged_at  # frozen where it diverged
        assert cell(app, 1, "status") == "running"
        # the exploded losses are drawn clipped at the top of the loss chart, marked as beyond it
        assert "▲" in "".join(app.query_one("#loss", CurvePlot).plain_lines())
        assert_widgets_bounded(app)
        await press(pilot, "i")  # the diverged run, restarted on the next initialiser
        assert cell(app, 0, "init") == "constant"
        await wait_for(pilot, lambda: not app.model.pending_change(0) and app.model.runs[0].record.step > 0, timeout=30)
        assert app.model.runs[0].record.status == "running"
        assert_widgets_bounded(app)


async def test_a_full_disk_leaves_a_lasting_warning_and_training_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "open_append", lambda path: FullDisk(path, room=60_000))
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.status.problems, timeout=30)
        step = app.source.target.step
        await wait_for(pilot, lambda: app.source.target.step > step + 20)  # training goes on
        status = str(app.query_one(StatusBar).render())
        assert "run log incomplete" in status and "No space left on device" in status
        await pilot.pause(0.3)
        assert "run log incomplete" in str(app.query_one(StatusBar).render())  # lasting, not a toast
    run_dir = next((tmp_path / "runs").iterdir())
    contents = read_log(run_dir)
    # every line on disk is complete and valid, and the warning names the last one
    assert contents.skipped == [] and len(contents.events) > 3
    assert (run_dir / EVENTS_FILE).read_bytes().endswith(b"\n")
    last = contents.events[-1]
    assert f"line {len(contents.events)} ({last.type}" in app.model.status.problems[0]


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory) -> Path:
    """Random images in MNIST's files, at its sizes (the loader checks them); raw, so they are quick to write."""
    return write_mnist_files(tmp_path_factory.mktemp("mnist"), train_count=60_000, test_count=10_000, gz=False)


async def test_the_real_child_process_path_and_a_killed_child(tmp_path, tiny_mnist):
    """The dashboard as ``inittui`` runs it: training in a child process. Keys reach it; if it is killed,
    the dashboard stays open with what it has and says so."""
    app = make_app(dashboard_config(stats_every=5), data_dir=str(tiny_mnist), log_dir=tmp_path / "runs", fps=20)
    record_notes(app)
    assert isinstance(app.source, ProcessSource)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.step > 5 and app.query_one(RunsTable).row_count == 6, timeout=90)
        await press(pilot, "j", "a")
        assert cell(app, 1, "activation") == "relu"
        await wait_for(pilot, lambda: not app.model.pending_change(1) and app.model.runs[1].record.step > 0, timeout=30)
        assert (app.model.runs[1].record.spec.init, app.model.runs[1].record.spec.activation) == ("xavier", "relu")
        child = app.source.target.pid
        os.kill(child, signal.SIGKILL)
        await wait_for(pilot, lambda: app.model.status.problems, timeout=10)
        assert "ended unexpectedly" in app.model.status.problems[0] and "-9" in app.model.status.problems[0]
        assert app.model.experiment.state == "stopped"
        assert "ended unexpectedly" in str(app.query_one(StatusBar).render())
        await press(pilot, "k")
        assert app.model.view.selected == 0  # still answering keys
        assert app.model.runs[0].record.step > 0 and len(app.model.runs[0].life.loss) > 0  # what it had is still shown
        # keys that act on training say why they cannot, and change nothing
        init, loss = cell(app, 0, "init"), cell(app, 0, "loss")
        await press(pilot, "i", "R")
        assert [note for note in app.notes[-2:] if "training has ended" in note and "-9" in note] == app.notes[-2:]
        assert (cell(app, 0, "init"), cell(app, 0, "status"), cell(app, 0, "loss")) == (init, "stopped", loss)
        # a new experiment: the notice that no longer holds goes
        await press(pilot, "p", "enter")
        await wait_for(pilot, lambda: not app.model.status.problems and app.model.experiment.step > 0, timeout=90)
        assert "ended unexpectedly" not in str(app.query_one(StatusBar).render())


async def test_q_stops_the_training_child_and_completes_the_log(tmp_path, tiny_mnist):
    app = make_app(dashboard_config(stats_every=5), data_dir=str(tiny_mnist), log_dir=tmp_path / "runs", fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.step > 5, timeout=90)
        child = app.source.target.pid
        began = time.monotonic()
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.source.finished.is_set(), timeout=5)
        assert time.monotonic() - began < 3
        await wait_for(pilot, lambda: not os.path.exists(f"/proc/{child}") or _zombie(child), timeout=2)
    events = read_log(next((tmp_path / "runs").iterdir())).events
    assert isinstance(events[-1], ExperimentFinished) and events[-1].status == "stopped"


async def test_below_80x24_one_line_says_what_size_is_needed_and_the_dashboard_comes_back(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause(0.2)
        lines = [line for line in screen_text(app).splitlines() if line.strip()]
        assert len(lines) == 1 and f"{MIN_SIZE[0]}×{MIN_SIZE[1]}" in lines[0] and "70×20" in lines[0]
        await resize(pilot, 60, 20)
        await pilot.pause(0.2)
        lines = [line for line in screen_text(app).splitlines() if line.strip()]
        assert len(lines) == 1 and "60×20" in lines[0]
        await resize(pilot, *SIZE)
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "train loss" in shown and "run" in shown and "inittui needs" not in shown


async def test_a_resize_storm_leaves_the_dashboard_answering(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target.step > 5)
        # fifty sizes between 60×20 and 220×70 over ten seconds, as fast as a window manager sends them
        for index in range(50):
            size = Size(60 + (index * 37) % 161, 20 + (index * 23) % 51)
            app.post_message(events.Resize(size, size))
            await asyncio.sleep(0.2)
        await resize(pilot, *SIZE)
        began = time.monotonic()
        await press(pilot, "j")
        await wait_for(pilot, lambda: app.model.view.selected == 1, timeout=5)
        assert time.monotonic() - began < 5
        assert app.source.target.step > 5 and app.is_running
        assert_widgets_bounded(app)


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def _damage(path: Path, line_numbers: list[int]) -> None:
    lines = path.read_bytes().split(b"\n")
    for number in line_numbers:
        lines[number - 1] = lines[number - 1][:20] + b"\xff\xfe garbage" + lines[number - 1][-10:]
    path.write_bytes(b"\n".join(lines))


async def test_the_viewer_shows_a_damaged_log_and_names_the_lines_it_skipped(tmp_path):
    run_dir = dashboard_log(tmp_path, steps=40)
    _damage(run_dir / EVENTS_FILE, [1, 5, 9])  # the first line (the start) among them
    app = make_app(run_dir=run_dir, fps=20)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.finished is not None)
        await pilot.pause(0.1)
        assert app.query_one(RunsTable).row_count == 6  # rebuilt from config.json
        assert cell(app, 0, "step") == "40"
        skipped = [note for note in notes if "skipped" in note]
        assert len(skipped) == 1 and "lines 1, 5 and 9" in skipped[0]


def test_a_log_cut_at_any_byte_opens(tmp_path):
    config = dashboard_config(steps=3, depth=1, width=4).with_runs([RunSpec("he", "relu")])
    log = RunLog.create(tmp_path, config, {"dataset": "random"})
    try:
        Engine(config, noise_mnist(), log.write).run()
    finally:
        log.close()
    whole = log.path.read_bytes()
    lines = whole.split(b"\n")
    assert len(lines) > 5 and json.loads(lines[0])["type"] == "started"
    for size in range(len(whole) + 1):
        log.path.write_bytes(whole[:size])
        contents = read_log(log.run_dir)
        complete = whole[:size].count(b"\n")
        # every complete line read; a cut last line skipped and counted, unless only its newline is missing
        read = len(contents.events)
        assert read in (complete, complete + 1) and contents.skipped in ([], [complete + 1])
        assert read + len(contents.skipped) == complete + (size > 0 and not whole[:size].endswith(b"\n"))
        assert [event.to_json() for event in contents.events] == [line.decode() for line in lines[:read]]
