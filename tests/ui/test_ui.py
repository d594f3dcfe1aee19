"""Pilot tests of the dashboard: every key, checked on the screen and in the engine's state.

The app trains a real Engine on small random tensors (fast); nothing here needs MNIST.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from support.dashboard import (
    SIZE,
    cell,
    dashboard_config,
    engine_run,
    live_app,
    press,
    record_notes,
    screen_text,
    started,
    status_text,
    wait_for,
)
from support.data import noise_mnist
from support.logs import dashboard_log
from support.paths import README
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.dashboard.controller import Action
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import read_events
from inittui.runlog.writer import RunLog
from inittui.training.devices import available_devices
from inittui.training.engine import Engine
from inittui.ui.app import InitApp, make_app
from inittui.ui.histograms import LayerHistograms
from inittui.ui.keys import CHART, KEYS, markdown_table
from inittui.ui.runs_table import RunsTable
from inittui.ui.screens.help import HelpScreen
from inittui.ui.screens.preset import PresetScreen


async def test_dashboard_shows_runs_curves_histograms_and_logs(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await wait_for(pilot, lambda: app.query_one("#histograms", LayerHistograms).panels)
        table = app.query_one(RunsTable)
        assert table.row_count == 6
        assert cell(app, 1, "init") == "xavier" and cell(app, 1, "activation") == "tanh"
        assert len(app.query_one("#histograms", LayerHistograms).panels) == 3  # one per hidden layer
        assert len(app.model.runs[0].life.loss), "loss curve has points"
        assert "running" in status_text(app) and "CPU" in status_text(app)
        assert app.status_bar.size.height == 1  # one line from 120 columns, the run log's path included
        assert engine.step > 0
    events = [json.loads(line)["type"] for line in (next((tmp_path / "runs").iterdir()) / EVENTS_FILE).open()]
    assert events[0] == "started" and "progress" in events and events[-1] == "finished"


async def test_frame_rate_caps_redraws(tmp_path):
    app = live_app(tmp_path, stats_every=1)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        frames, applied = app.frames, app.pump.applied
        await pilot.pause(1.0)
        # many events per second, but at most about fps redraws (plus a few control-event wake-ups)
        assert app.pump.applied - applied > app.frames - frames
        assert app.frames - frames <= 20 * 1.0 + 5


@pytest.mark.parametrize(("key", "step"), [("i", 1), ("I", -1)])
async def test_init_keys_restart_only_the_selected_run(tmp_path, key, step):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await press(pilot, "j")
        assert app.model.view.selected == 1
        before = {run.id: run.step for run in engine.runs}
        await press(pilot, key)
        expected = INITIALIZER_NAMES[(INITIALIZER_NAMES.index("xavier") + step) % len(INITIALIZER_NAMES)]
        assert cell(app, 1, "init") == expected  # on screen at once
        await wait_for(pilot, lambda: engine_run(engine, 1).spec.init == expected)
        await wait_for(pilot, lambda: engine_run(engine, 0).step > before[0] + 5)
        assert engine_run(engine, 1).step < engine_run(engine, 0).step  # restarted
        assert engine_run(engine, 2).step > before[2]  # the others kept going
        assert engine_run(engine, 1).spec.activation == "tanh"


@pytest.mark.parametrize(("key", "step"), [("a", 1), ("A", -1)])
async def test_activation_keys(tmp_path, key, step):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await press(pilot, "k")  # already at the top: stays on run 0
        before = engine_run(engine, 3).step
        await press(pilot, key)
        expected = ACTIVATION_NAMES[(ACTIVATION_NAMES.index("tanh") + step) % len(ACTIVATION_NAMES)]
        assert cell(app, 0, "activation") == expected
        await wait_for(pilot, lambda: engine_run(engine, 0).spec.activation == expected)
        await wait_for(pilot, lambda: engine_run(engine, 3).step > before)
        assert engine_run(engine, 0).spec.init == "normal-0.01"


async def test_histogram_source_and_compare(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        widget = app.query_one("#histograms", LayerHistograms)
        await wait_for(pilot, lambda: widget.panels and widget.panels[0].histogram is not None)
        assert str(widget.border_title).startswith("activations")
        for kind in ("preactivations", "gradients", "weights", "activations"):
            await press(pilot, "h")
            assert str(widget.border_title).startswith(kind)
        await press(pilot, "h")
        await press(pilot, "c")
        assert "every run" in str(widget.border_title) and "layer 3" in str(widget.border_title)
        assert len(widget.panels) == 6 and widget.panels[0].histogram is not None
        await press(pilot, "l")
        assert "layer 1" in str(widget.border_title)
        await press(pilot, "c")
        assert len(widget.panels) == 3


async def test_add_and_remove_runs(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await press(pilot, "j", "j")  # run 2: he:tanh
        await press(pilot, "plus")
        await wait_for(pilot, lambda: len(engine.runs) == 7)
        await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == 7)
        assert cell(app, 6, "init") == "he-uniform" and cell(app, 6, "activation") == "tanh"
        assert app.model.view.selected == 2  # selection follows the run id
        await press(pilot, "minus")  # asks first: nothing is removed yet
        assert app.query_one(RunsTable).row_count == 7 and "press - again" in app.notes[-1]
        await press(pilot, "minus")
        assert app.query_one(RunsTable).row_count == 6
        await wait_for(pilot, lambda: 2 not in [run.id for run in engine.runs])
        assert app.model.view.selected != 2


async def test_space_pauses_and_resumes(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await press(pilot, "space")
        assert cell(app, 0, "status") == "paused" and "paused" in status_text(app)
        await wait_for(pilot, lambda: engine.paused)
        step = engine.step
        await pilot.pause(0.3)
        assert engine.step == step
        await press(pilot, "space")
        await wait_for(pilot, lambda: engine.step > step)
        assert cell(app, 0, "status") == "running"


async def test_restart_run_and_restart_all(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app, steps=20)
        await press(pilot, "j")
        await press(pilot, "r")
        await wait_for(pilot, lambda: engine_run(engine, 1).step < engine_run(engine, 0).step - 10)
        assert engine.config.runs[1].init == "xavier"
        await wait_for(pilot, lambda: engine.step > 40)
        await press(pilot, "R")
        await wait_for(pilot, lambda: max(run.step for run in engine.runs) < engine.step - 30)


async def test_device_key(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        engine = await started(pilot, app)
        await press(pilot, "d")
        if len(available_devices()) == 1:
            assert any("only one device" in note for note in app.notes)
            assert str(engine.device) == "cpu"
        else:
            await wait_for(pilot, lambda: str(engine.device) == "cuda:0")
            await wait_for(pilot, lambda: app.model.experiment.device == "cuda:0")
            step = engine.step
            await wait_for(pilot, lambda: engine.step > step + 5)


async def test_preset_modal_starts_another_experiment(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        old = await started(pilot, app)
        await press(pilot, "p")
        assert isinstance(app.screen, PresetScreen)
        await press(pilot, "escape")
        assert not isinstance(app.screen, PresetScreen)
        await press(pilot, "p")
        await press(pilot, "down", "enter")  # compare → book
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target is not old)
        assert old.stopped
        await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == 3)
        assert app.source.target.config.preset == "book"
        assert cell(app, 0, "init") == "normal-0.01" and "book" in status_text(app)


async def test_screenshot_key(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await press(pilot, "s")
        await wait_for(pilot, lambda: any(str(tmp_path / "shots") in note for note in app.notes))
        shots = list((tmp_path / "shots").glob("*.svg"))
        assert len(shots) == 1 and shots[0].read_text().lstrip().startswith("<svg")
        # the Footer is in the picture: its left end (a notification may cover its right)
        assert "↓/j" in shots[0].read_text() and "&#160;init" in shots[0].read_text()
        assert any(str(shots[0]) in note for note in app.notes)


async def test_help_screen_shows_every_key_and_formula(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=(200, 100)) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await wait_for(pilot, lambda: "inittui keys" in screen_text(app))  # the Markdown is laid out
        # the help is longer than the screen: read it a page at a time, down to its end
        body = app.screen.query_one("#help-body")
        pages = [screen_text(app)]
        while body.scroll_y < body.max_scroll_y:
            body.scroll_page_down(animate=False)
            await pilot.pause(0.1)
            pages.append(screen_text(app))
        shown = "\n".join(pages)
        for binding in app.BINDINGS:
            key = next(key for key in KEYS if key.action_text == binding.action)
            for part in key.shown.split(" / "):
                assert part in shown, part
            assert key.help in shown, key.help
        assert "W ~ N(0, 2/n_in)" in pages[-1]
        assert "layer-sequential" in pages[-1]  # lsuv's note, the last row
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


def test_bindings_footer_palette_and_readme_come_from_one_key_table():
    assert [(b.key, b.action, b.description) for b in InitApp.BINDINGS] == [(k.keys, k.action_text, k.label) for k in KEYS]
    readme = README.read_text()
    table = readme[readme.index("| key | what it does |"):]
    table = table[: table.index("\n\n")]
    assert table == markdown_table(), "README's key table differs from inittui/ui/keys.py: paste markdown_table()"


async def test_command_palette_offers_every_action_of_the_key_table(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE):
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        for key in KEYS:
            if key.title and key.where != CHART:  # the chart's keys are offered in the chart (test_full_chart)
                assert key.shown in commands[key.title].help
                assert isinstance(key.action, Action) or hasattr(app, f"action_{key.action}")
    assert {"Next initialiser", "Previous activation", "Compare mode", "Save SVG screenshot"} <= set(commands)


async def test_q_stops_training_and_completes_the_log(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        began = time.monotonic()
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.source.finished.is_set(), timeout=2)
        assert time.monotonic() - began < 2
    run_dir = next((tmp_path / "runs").iterdir())
    events = read_events(run_dir)
    assert events[-1].type == "finished" and events[-1].status == "stopped"


async def test_without_mnist_shows_the_probe(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    app = make_app(dashboard_config(), data_dir=str(empty), log_dir=tmp_path / "runs", fps=20)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.state == "probe", timeout=30)
        widget = app.query_one("#histograms", LayerHistograms)
        await wait_for(pilot, lambda: widget.panels)  # the probe's layers come in the next frame
        assert app.query_one(RunsTable).row_count == 6
        assert len(widget.panels) == 5 and widget.panels[0].histogram is not None
        assert "probe" in str(widget.border_title)
        assert any("--data-dir" in note for note in notes)
        await press(pilot, "i")
        assert any("read-only" in note for note in notes)
        await press(pilot, "j", "c")
        assert len(widget.panels) == 6


async def test_viewer_reads_a_finished_log(tmp_path):
    run_dir = dashboard_log(tmp_path, steps=40)
    app = make_app(run_dir=run_dir, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.finished is not None)
        await pilot.pause(0.1)
        assert app.query_one(RunsTable).row_count == 6
        assert cell(app, 0, "step") == "40" and cell(app, 0, "status") == "done"
        assert "read-only" in status_text(app)
        await press(pilot, "i")
        assert cell(app, 0, "init") == "normal-0.01"  # nothing changes in a viewer
        await press(pilot, "q")


async def test_viewer_follows_a_log_being_written(tmp_path):
    first = threading.Event()
    holder: dict[str, Path] = {}
    writer = threading.Thread(target=lambda: holder.setdefault("dir", dashboard_log(tmp_path, 300, first)))
    writer.start()
    try:
        assert first.wait(30)
        run_dir = next(tmp_path.iterdir())
        app = make_app(run_dir=run_dir, fps=20)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.model.runs and app.model.experiment.step > 0, timeout=20)
            seen = app.model.experiment.step
            await wait_for(pilot, lambda: app.model.experiment.finished is not None, timeout=60)
            assert app.model.experiment.step > seen and app.model.experiment.step == 300
    finally:
        writer.join()


async def test_a_resize_after_the_app_has_shut_down_is_ignored(tmp_path):
    """A redraw timer that fired during shutdown met an empty screen stack: IndexError at teardown."""
    from textual.geometry import Size

    app = live_app(tmp_path)
    async with app.run_test(size=SIZE):
        pass
    assert not app.screen_stack
    app._fit(Size(80, 24))
