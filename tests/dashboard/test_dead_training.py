"""Training that is gone (its child process killed): the keys that act on it say why they cannot and change
nothing, the header says so for as long as it holds, and a new training clears it."""

from __future__ import annotations

from support.dashboard import SIZE, cell, press, record_notes, status_text, wait_for
from support.records import record
from support.sources import ScriptedSource

from inittui.core.events import ExperimentFinished, ExperimentStarted, TrainProgress
from inittui.core.reports import Failed
from inittui.ui.app import InitApp

KILLED = "the training process ended unexpectedly (exit code -9)"
COLUMNS = ("init", "activation", "status", "step", "loss")
# every key that asks something of the engine: inits, activations, restarts, add, remove (twice: it asks
# first), pause, device
ENGINE_KEYS = ("i", "I", "a", "A", "r", "R", "plus", "minus", "minus", "space", "d")


def training(*reports) -> list:
    runs = [record(0, "he", "relu"), record(1, "xavier", "tanh")]
    started = ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100, runs, 0.0)
    progress = TrainProgress(4, 0.04, [0, 1], [4, 4], [[2.3, 2.2, 2.1, 2.0], [2.3, 2.3, 2.2, 2.2]],
                             [[0.1] * 4, [0.1] * 4], 1000.0, 1.0)
    return [started, progress, *reports]


def table(app: InitApp) -> list[tuple[str, ...]]:
    return [tuple(cell(app, run, column) for column in COLUMNS) for run in (0, 1)]


async def test_keys_after_the_child_died_change_nothing_and_say_why_until_new_training_starts():
    dead = ScriptedSource(training(Failed(KILLED)))
    fresh = ScriptedSource(training())
    app = InitApp(dead, fps=20, make_source=lambda preset, previous: fresh)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.status.ended and cell(app, 0, "step") == "4")
        header = status_text(app)
        assert f"⚠ {KILLED}" in header and "p starts new training" in header
        before = table(app)
        await press(pilot, *ENGINE_KEYS)
        assert dead.recorder.commands == []
        assert table(app) == before and before[0][2] == "stopped"
        refusals = notes[-len(ENGINE_KEYS):]
        assert all(note == f"training has ended ({KILLED}); p starts new training" for note in refusals), refusals

        await press(pilot, "p", "enter")
        await wait_for(pilot, lambda: app.source is fresh and cell(app, 0, "step") == "4")
        assert not app.model.status.problems and "⚠" not in status_text(app)
        await press(pilot, "i")
        assert len(fresh.recorder.commands) == 1  # the keys act on the new training


async def test_training_that_failed_says_why_in_the_header_and_to_the_keys():
    """An error in the engine ended the experiment: the dashboard showed `error` and said nothing."""
    failed = ExperimentFinished("error", 4, 1.0, 100.0, [record(0, "he", "relu", "error", 4),
                                                         record(1, "xavier", "tanh", "error", 4)],
                                "RuntimeError: CUDA out of memory")
    source = ScriptedSource(training(failed))
    app = InitApp(source, fps=20)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.state == "error" and app.model.status.ended)
        assert "⚠ training failed: RuntimeError: CUDA out of memory · training has ended; p starts new training" \
            in status_text(app)
        await press(pilot, "i")
        assert source.recorder.commands == []
        assert notes[-1] == "training has ended (training failed: RuntimeError: CUDA out of memory); p starts new training"
