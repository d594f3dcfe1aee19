"""The header never looks hung while training runs: its clock ticks every second whatever the engine
reports, and a long silence says when the engine last told its progress."""

from __future__ import annotations

import time

from support.dashboard import SIZE, status_text, wait_for
from support.records import record
from support.sources import ScriptedSource

from inittui.core.events import ExperimentStarted, StateChanged, TrainProgress
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import SILENCE_SHOWN_S, header
from inittui.ui.app import InitApp

STARTED = ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100, [record(0, "he", "relu")], 0.0)
PROGRESS = TrainProgress(21, 0.21, [0], [21], [[2.3]], [[0.1]], 100.0, 25.0)


async def test_the_clock_ticks_every_second_before_and_between_progress_reports():
    source = ScriptedSource([STARTED], later=[PROGRESS])  # started, and not one step told yet
    app = InitApp(source, fps=20)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "│ 00:01 │" in status_text(app), timeout=5)
        await wait_for(pilot, lambda: "│ 00:02 │" in status_text(app), timeout=5)
        source.go_on()  # one progress, then silence
        await wait_for(pilot, lambda: "│ 00:26 │" in status_text(app), timeout=5)
        assert "step 21/1,000" in status_text(app)


def started_model() -> DashboardModel:
    model = DashboardModel()
    model.begin(live=True)
    model.apply(STARTED)
    return model


def test_a_long_silence_says_when_progress_was_last_told():
    model = started_model()
    model.apply(PROGRESS)
    told = model.clock[1]
    assert header(model, "", now=told + 1).progress == "epoch 0.21 step 21/1,000"
    assert header(model, "", now=told + 1).elapsed == "00:26"
    assert header(model, "", now=told + SILENCE_SHOWN_S + 7).progress == "epoch 0.21 step 21/1,000 (last report 12 s ago)"


def test_paused_or_viewed_training_is_silent_without_a_note():
    model = started_model()
    model.apply(PROGRESS)
    model.apply(StateChanged("paused", 21))
    later = time.monotonic() + 60
    assert header(model, "", now=later).progress == "epoch 0.21 step 21/1,000"
    assert header(model, "", now=later).elapsed == "00:25"
    viewed = DashboardModel()
    viewed.begin(read_only=True)
    viewed.apply(STARTED)
    viewed.apply(PROGRESS)
    assert header(viewed, "", now=later).progress == "epoch 0.21 step 21/1,000"
