"""Training in a child process: events come back, commands reach the engine, stop completes the log."""

from __future__ import annotations

import pytest

from inittui.core.commands import AddRun, SetRun
from inittui.core.config import RunSpec
from inittui.core.events import ExperimentFinished, RunsChanged, TrainProgress
from inittui.core.presets import get_preset
from inittui.runlog.reader import read_events
from inittui.core.reports import DataUnavailable, LogStarted
from inittui.training.process import EngineProcess


def test_without_data_the_child_says_so_and_ends(tmp_path):
    process = EngineProcess(get_preset("compare").config(), data_dir=str(tmp_path / "none"), log_dir=tmp_path, threads=1)
    process.start()
    items = list(process.events())
    assert len(items) == 1 and isinstance(items[0], DataUnavailable)
    assert "does not exist" in items[0].message
    assert process.join(timeout=30)  # a loaded machine takes seconds to tear a torch process down


@pytest.mark.mnist
def test_commands_reach_the_engine_in_the_child_and_stop_completes_the_log(mnist_dir, tmp_path):
    config = get_preset("compare").config(steps=100_000, stats_every=10)
    process = EngineProcess(config, data_dir=str(mnist_dir), log_dir=tmp_path, threads=1)
    process.start()
    run_dir = None
    changed = None
    for item in process.events():
        if isinstance(item, LogStarted):
            run_dir = item.run_dir
        elif isinstance(item, TrainProgress) and changed is None and item.step >= 20:
            changed = False
            process.send(SetRun(0, init="he", activation="selu"))
            process.send(AddRun(RunSpec("lsuv", "tanh")))
        elif isinstance(item, RunsChanged) and item.reason == "added":
            changed = True
            assert item.runs[0].spec == RunSpec("he", "selu")
            assert item.runs[-1].spec.init == "lsuv"
            process.stop()
        elif isinstance(item, ExperimentFinished):
            assert item.status == "stopped"
    assert changed is True
    assert process.join(timeout=30)  # a loaded machine takes seconds to tear a torch process down
    assert isinstance(read_events(run_dir)[-1], ExperimentFinished)
