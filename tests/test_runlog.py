"""The run log: one flushed JSON line per event, readable while written and after a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from inittui.config import ExperimentConfig, RunSpec
from inittui.events import (
    Evaluation,
    ExperimentFinished,
    Histogram,
    LayerStat,
    LayerStats,
    RunResult,
    StateChanged,
    event_from_json,
)
from inittui.runlog import (
    EVENTS_FILE,
    RunLog,
    RunLogError,
    follow_events,
    list_runs,
    read_events,
    read_log,
    resolve_run_dir,
)

CONFIG = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], preset="compare")


def finished(status: str = "done") -> ExperimentFinished:
    result = RunResult(0, "he:relu", "he", "relu", "done", 10, 0.5, 0.91, 0.93)
    return ExperimentFinished(status, 10, 1.0, 100.0, [result])


def test_events_round_trip_through_json():
    stat = LayerStat(0.1, 0.5, 0.0, None, 0.7, 0.05, 0.0505, 1.2, {"activations": Histogram(0.0, 1.0, [1, 2, 3])})
    for event in (LayerStats(3, [0], [[stat]], [[0.5]]), finished(), Evaluation(5, 0.1, [0, 1], [0.5, None], [2.3, None])):
        assert event_from_json(event.to_json()) == event
        assert "\n" not in event.to_json()


def test_every_event_is_on_disk_as_soon_as_it_is_written(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.write(StateChanged("running", 0))
    # read by another reader before close: the line is flushed
    assert read_events(log.run_dir) == [StateChanged("running", 0)]
    log.close()
    header = json.loads((log.run_dir / "config.json").read_text())
    assert header["config"]["runs"] == ["he:relu", "xavier:tanh"]


def test_a_torn_last_line_and_a_corrupt_middle_line_are_skipped_and_counted(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.write(StateChanged("running", 0))
    log.write(StateChanged("paused", 5))
    log.close()
    path = log.run_dir / EVENTS_FILE
    with open(path, "a") as file:
        file.write('{"type":"state","sta')  # killed mid-line
    contents = read_log(log.run_dir)
    assert [e.state for e in contents.events] == ["running", "paused"] and contents.skipped == [3]
    path.write_text('{"type":"state","state":"running","step":0}\nnot json\n{"type":"state","state":"paused","step":1}\n')
    contents = read_log(log.run_dir)
    assert [e.state for e in contents.events] == ["running", "paused"] and contents.skipped == [2]


def test_follow_yields_events_as_another_writer_appends_them(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    seen = []

    def reader():
        for event in follow_events(log.run_dir, should_stop=lambda: False, poll_s=0.01):
            seen.append(event)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    for step in range(3):
        log.write(StateChanged("running", step))
        time.sleep(0.02)
    log.write(finished())
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert [getattr(e, "step") for e in seen] == [0, 1, 2, 10]


def test_runs_lists_past_runs_and_latest_finds_the_newest(tmp_path):
    first = RunLog.create(tmp_path, CONFIG)
    first.write(Evaluation(5, 1.0, [0, 1], [0.91, 0.88], [0.3, 0.4]))
    first.write(finished())
    first.close()
    time.sleep(0.01)
    second = RunLog.create(tmp_path, CONFIG)
    second.close()
    summaries = list_runs(tmp_path)
    # the second log's writer (this process) is alive and wrote no finished event
    assert [s.status for s in summaries] == ["done", "running"]
    assert summaries[0].best_test_acc == {"he:relu": 0.91, "xavier:tanh": 0.88}
    assert resolve_run_dir("latest", tmp_path) == second.run_dir
    with pytest.raises(RunLogError, match="no runs"):
        resolve_run_dir("latest", tmp_path / "empty")
    with pytest.raises(RunLogError, match="not a run directory"):
        resolve_run_dir(str(tmp_path), tmp_path)

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    header_path = second.run_dir / "config.json"
    header = json.loads(header_path.read_text())
    header["pid"] = dead.pid
    header_path.write_text(json.dumps(header))
    assert list_runs(tmp_path)[1].status == "interrupted"


def test_an_empty_log_and_a_log_of_garbage_open_with_nothing_lost_that_was_there(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.close()
    assert read_log(log.run_dir).events == [] and read_log(log.run_dir).skipped == []
    log.path.write_bytes(b"\x00\xff\xfe garbage\n\n{}\n[1, 2]\n" + StateChanged("paused", 3).to_json().encode() + b"\n\x80")
    contents = read_log(log.run_dir)
    assert contents.events == [StateChanged("paused", 3)]
    assert contents.skipped == [1, 3, 4, 6]  # the blank line 2 is no line; 6 is cut mid-character
    summary = list_runs(tmp_path)[0]
    assert summary.skipped_lines == 4 and summary.status == "running"  # this process wrote it and lives
