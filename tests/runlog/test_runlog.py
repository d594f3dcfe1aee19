"""The run log: one flushed JSON line per event, readable while written and after a crash."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime

import pytest

from support.records import record
from inittui.runlog import catalogue, reader, writer
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import (
    Evaluation,
    ExperimentFinished,
    ExperimentStarted,
    SPECTRUM_BINS,
    Histogram,
    JacobianSpectra,
    LayerStat,
    LayerStats,
    Notice,
    RunSpectrum,
    RunsChanged,
    StateChanged,
    event_from_dict,
    event_from_json,
    experiment_runs,
)
from inittui.runlog.layout import CONFIG_FILE, EVENTS_FILE, default_log_dir
from inittui.runlog.writer import RunLog
from inittui.core.errors import RunLogError
from inittui.runlog.catalogue import list_runs, summarise_run
from inittui.runlog.reader import read_config, read_events, read_log, resolve_run_dir

CONFIG = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], preset="compare")


def finished(status: str = "done") -> ExperimentFinished:
    result = record(0, "he", "relu", "done", 10, train_loss=0.5, test_acc=0.91, best_test_acc=0.93)
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
    assert summaries[0].best_test_acc == {"he:relu": [0.91], "xavier:tanh": [0.88]}
    assert resolve_run_dir("latest", tmp_path) == second.run_dir
    with pytest.raises(RunLogError, match="^no runs in .*empty yet; start one with: inittui train --headless$"):
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


# ------------------------------------------------------------------------------------------ writing


def test_a_run_directory_is_named_by_time_and_preset_and_never_reused(tmp_path, monkeypatch):
    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 11, 28, 9, 30, 5)

    monkeypatch.setattr(writer, "datetime", FrozenClock)
    logs = [RunLog.create(tmp_path, CONFIG, {"dataset": "random"}) for _ in range(3)]
    for log in logs:
        log.close()
    assert [log.run_dir.name for log in logs] == [
        "20261128-093005-compare", "20261128-093005-compare-2", "20261128-093005-compare-3",
    ]
    header = json.loads((logs[0].run_dir / CONFIG_FILE).read_text())
    assert header["config"] == CONFIG.to_dict()
    assert header["created"] == "2026-11-28T09:30:05"
    assert header["host"] == socket.gethostname() and header["pid"] == os.getpid()
    assert header["dataset"] == "random"


def test_writing_after_close_is_ignored_and_close_twice_is_harmless(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.write(StateChanged("running", 0))
    log.close()
    log.write(StateChanged("paused", 1))
    log.close()
    assert read_events(log.run_dir) == [StateChanged("running", 0)]


def test_a_log_reopened_appends(tmp_path):
    first = RunLog(tmp_path / "run", CONFIG)
    first.write(StateChanged("running", 0))
    first.close()
    again = RunLog(tmp_path / "run", CONFIG)
    again.write(StateChanged("paused", 3))
    again.close()
    assert [e.step for e in read_events(tmp_path / "run")] == [0, 3]


def test_default_log_dir_is_the_user_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_log_dir() == tmp_path / "inittui" / "runs"


# ------------------------------------------------------------------------------------------ reading


def _events_file(tmp_path, text: str):
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True)
    (run_dir / EVENTS_FILE).write_text(text)
    return run_dir


def test_blank_lines_are_no_lines_and_a_complete_bad_last_line_is_skipped_and_counted(tmp_path):
    good = '{"type":"state","state":"running","step":0}\n'
    contents = read_log(_events_file(tmp_path / "a", "\n" + good + "\n\n"))
    assert len(contents.events) == 1 and contents.skipped == []
    contents = read_log(_events_file(tmp_path / "b", good + '{"type":"nothing"}\n' + '["not", "an", "object"]\n'))
    assert len(contents.events) == 1 and contents.skipped == [2, 3]


def test_the_files_are_named_as_the_readme_says(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.close()
    assert sorted(p.name for p in log.run_dir.iterdir()) == ["config.json", "events.jsonl"]


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(RunLogError, match=f"^cannot read {tmp_path / EVENTS_FILE}: No such file or directory$"):
        read_events(tmp_path)
    with pytest.raises(RunLogError, match=f"^cannot read {tmp_path / CONFIG_FILE}: No such file or directory$"):
        read_config(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(RunLogError, match=f"^{tmp_path / CONFIG_FILE} is not valid JSON$"):
        read_config(tmp_path)


# ------------------------------------------------------------------------------------------ finding runs


def test_latest_is_the_newest_header_not_the_last_name(tmp_path):
    older = RunLog(tmp_path / "b-older", CONFIG)
    newer = RunLog(tmp_path / "a-newer", CONFIG)
    (tmp_path / "c-no-events").mkdir()
    for log in (older, newer):
        log.close()
    os.utime(older.run_dir / CONFIG_FILE, (1_000_000, 1_000_000))
    os.utime(newer.run_dir / CONFIG_FILE, (2_000_000, 2_000_000))
    assert resolve_run_dir("latest", tmp_path) == newer.run_dir
    assert resolve_run_dir(str(older.run_dir), tmp_path) == older.run_dir


def test_a_run_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    log = RunLog(tmp_path / "runs" / "one", CONFIG)
    log.close()
    assert resolve_run_dir("~/runs/one", tmp_path) == log.run_dir
    with pytest.raises(RunLogError, match=f"^{tmp_path / 'runs'} is not a run directory \\(no {EVENTS_FILE} in it\\)$"):
        resolve_run_dir("~/runs", tmp_path)


def test_summary_names_only_the_runs_it_counts_when_a_run_changed_its_initialiser(tmp_path):
    """`inittui runs` said "2 runs" and then three names: the changed run's old name too."""
    log = RunLog(tmp_path / "run", CONFIG)
    log.write(Evaluation(5, 0.5, [0, 1], [0.50, 0.40], [1.0, 1.2]))
    log.write(RunsChanged(6, "changed", [record(0, "he", "relu", "running", 6), record(1, "orthogonal", "tanh", "running")]))
    log.write(Evaluation(9, 1.0, [0, 1], [0.45, 0.30], [1.1, 1.5]))
    log.write(RunsChanged(10, "restart", [record(0, "he", "relu", "running", 0, draw=1), record(1, "orthogonal", "tanh", "running", 1)]))
    log.write(Evaluation(12, 1.5, [0, 1], [0.20, 0.35], [0.9, 1.4]))
    log.close()
    summary = summarise_run(log.run_dir)
    assert summary.runs == ["he:relu", "orthogonal:tanh"]
    # he:relu's best is its first life's, reached under the same name before R
    assert summary.best_test_acc == {"he:relu": [0.50], "orthogonal:tanh": [0.35]}


def test_summary_names_runs_added_later_and_keeps_the_best_accuracy(tmp_path):
    log = RunLog(tmp_path / "run", CONFIG)
    added = record(2, "lsuv", "tanh", "running")
    log.write(Evaluation(5, 0.5, [0, 1], [0.50, 0.40], [1.0, 1.2]))
    log.write(StateChanged("paused", 5))  # an event without runs
    log.write(RunsChanged(6, "added", [record(0, "he", "relu", "running"), record(1, "xavier", "tanh", "running"), added]))
    log.write(Evaluation(9, 1.0, [0, 1, 2, 7], [0.45, None, 0.30, 0.2], [1.1, None, 1.5, 2.0]))
    log.write(Evaluation(12, 1.5, [0, 1, 2], [0.60, 0.41, 0.35], [0.9, 1.1, 1.4]))
    log.close()
    summary = summarise_run(log.run_dir)
    # run 7 is in no table of runs: not a run of this experiment, so neither counted nor named
    assert summary.best_test_acc == {"he:relu": [0.60], "xavier:tanh": [0.41], "lsuv:tanh": [0.35]}
    assert summary.runs == ["he:relu", "xavier:tanh", "lsuv:tanh"]
    assert summary.preset == "compare"
    assert summary.created == json.loads((log.run_dir / CONFIG_FILE).read_text())["created"]
    assert summary.run_dir == log.run_dir and summary.status == "running"  # this process wrote it


def test_summary_status_is_the_finished_events_or_whether_the_writer_lives(tmp_path, monkeypatch):
    log = RunLog(tmp_path / "run", CONFIG)
    log.write(finished("stopped"))
    log.close()
    assert summarise_run(log.run_dir).status == "stopped"

    open_log = RunLog(tmp_path / "open", CONFIG)
    open_log.close()
    header_path = open_log.run_dir / CONFIG_FILE
    header = json.loads(header_path.read_text())
    for changes, status in (
        ({"host": "another-machine"}, "interrupted"),  # a live pid on another host says nothing
        ({"pid": 0}, "interrupted"),
        ({"pid": -5}, "interrupted"),
        ({"pid": os.getpid()}, "running"),
        ({"pid": 1}, "running"),  # init: always alive
    ):
        header_path.write_text(json.dumps({**header, **changes}))
        assert summarise_run(open_log.run_dir).status == status, changes
    # a process we may not signal is alive all the same
    header_path.write_text(json.dumps(header))

    def not_permitted(pid, signal_number):
        raise PermissionError

    monkeypatch.setattr(catalogue.os, "kill", not_permitted)
    assert summarise_run(open_log.run_dir).status == "running"


def test_summary_of_a_header_that_lacks_fields(tmp_path):
    log = RunLog(tmp_path / "run", CONFIG)
    log.close()
    (log.run_dir / CONFIG_FILE).write_text(json.dumps({"host": socket.gethostname()}))
    summary = summarise_run(log.run_dir)
    assert (summary.created, summary.preset, summary.runs, summary.status) == ("?", "?", [], "interrupted")


def test_a_summary_counts_events_of_the_wrong_shape_with_the_damaged_lines(tmp_path):
    log = RunLog(tmp_path / "run", CONFIG)
    log.write(Evaluation(5, 0.5, [0, 1], [0.50, 0.40], [1.0, 1.2]))
    log.close()
    with open(log.path, "a") as file:
        file.write("not json\n")
        for _ in range(2):  # valid events whose run ids are not a list
            file.write('{"type":"evaluation","step":6,"epoch":1.0,"run_ids":7,"test_acc":[0.9],"test_loss":[0.1]}\n')
    summary = summarise_run(log.run_dir)
    assert summary.skipped_lines == 3 and summary.best_test_acc == {"he:relu": [0.50], "xavier:tanh": [0.40]}


def test_a_header_that_is_not_an_object_is_a_one_line_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(RunLogError, match=f"^{tmp_path / CONFIG_FILE} is not an inittui run header$"):
        read_config(tmp_path)


def test_list_runs_passes_over_a_run_whose_events_cannot_be_read(tmp_path, monkeypatch):
    for name in ("1-a", "2-unreadable", "3-c"):
        RunLog(tmp_path / name, CONFIG).close()
    readable = catalogue.read_run

    def read_run_or_fail(run_dir, **options):
        if run_dir.name == "2-unreadable":  # as a file the user may not read would
            raise RunLogError(f"cannot read {run_dir / EVENTS_FILE}: Permission denied")
        return readable(run_dir, **options)

    monkeypatch.setattr(catalogue, "read_run", read_run_or_fail)
    assert [s.run_dir.name for s in list_runs(tmp_path)] == ["1-a", "3-c"]


def test_list_runs_lists_every_run_with_an_event_log_and_skips_the_rest(tmp_path):
    good = RunLog(tmp_path / "1-good", CONFIG)
    good.close()
    (tmp_path / "2-events-only").mkdir()
    (tmp_path / "2-events-only" / EVENTS_FILE).write_text("")
    corrupt = RunLog(tmp_path / "3-corrupt", CONFIG)
    corrupt.close()
    (corrupt.run_dir / CONFIG_FILE).write_text("{not json")
    (tmp_path / "4-file").write_text("not a directory")
    later = RunLog(tmp_path / "5-good", CONFIG)
    later.close()
    # a run whose header is lost is still listed, with what its events say and why the rest is missing
    listed = list_runs(tmp_path)
    assert [s.run_dir.name for s in listed] == ["1-good", "2-events-only", "3-corrupt", "5-good"]
    assert listed[2].preset == "?" and listed[2].header_problem == f"{corrupt.run_dir / CONFIG_FILE} is not valid JSON"
    assert listed[0].header_problem == "" and listed[0].preset == "compare"
    assert list_runs(tmp_path / "nothing-here") == []


def test_an_empty_log_and_a_log_of_garbage_open_with_nothing_lost_that_was_there(tmp_path):
    log = RunLog.create(tmp_path, CONFIG)
    log.close()
    assert read_log(log.run_dir).events == [] and read_log(log.run_dir).skipped == []
    log.path.write_bytes(b"\x00\xff\xfe garbage\n\n{}\n[1, 2]\n" + StateChanged("paused", 3).to_json().encode() + b"\n\x80")
    contents = read_log(log.run_dir)
    assert contents.events == [StateChanged("paused", 3)]
    assert contents.skipped == [1, 3, 4, 6]  # the blank line 2 is no line; 6 is cut mid-character
    summary = list_runs(tmp_path)[0]
    # this process wrote it and lives: its last line may still be being written, and is not counted yet
    assert summary.skipped_lines == 3 and summary.status == "running"
    header = json.loads((log.run_dir / CONFIG_FILE).read_text())
    (log.run_dir / CONFIG_FILE).write_text(json.dumps({**header, "pid": 0}))
    summary = list_runs(tmp_path)[0]
    assert summary.skipped_lines == 4 and summary.status == "interrupted"  # nobody writes it: the cut line is lost


# ------------------------------------------------------------------------------------------ when writing fails


def test_a_full_disk_cuts_the_log_back_to_its_last_complete_line_and_stops_writing(tmp_path, monkeypatch):
    from support.faults import FullDisk

    earlier = RunLog(tmp_path / "run", CONFIG)
    earlier.write(StateChanged("running", 0))
    earlier.close()
    kept = (earlier.path).read_bytes()
    lines = [StateChanged("running", step).to_json().encode() + b"\n" for step in (1, 2, 3)]
    # room for two lines and half the third: the disk fills in the middle of a line
    room = len(lines[0]) + len(lines[1]) + len(lines[2]) // 2
    monkeypatch.setattr(writer, "open_append", lambda path: FullDisk(path, room))
    log = RunLog(tmp_path / "run", CONFIG)
    assert log.last_line() == "no line" and log.failure is None
    assert log.write(StateChanged("running", 1)) is True
    assert log.write(StateChanged("running", 2)) is True
    assert log.write(StateChanged("running", 3)) is False
    assert log.failure == (
        f"writing line 3 (state) of {log.path} failed: No space left on device; the log ends at line 2 (state, step 2)"
    )
    assert log.write(StateChanged("running", 4)) is False  # and nothing more is tried
    log.close()
    assert log.path.read_bytes() == kept + lines[0] + lines[1]  # what an earlier writer logged is kept, the torn line is not
    assert read_log(log.run_dir).skipped == []


def test_a_failed_close_is_recorded_not_raised(tmp_path, monkeypatch):
    log = RunLog(tmp_path / "run", CONFIG)
    log.write(Notice("a message without a step"))
    assert log.last_line() == "line 1 (notice)"

    def io_error(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(writer.os, "fsync", io_error)
    log.close()
    assert log.failure == f"closing of {log.path} failed: Input/output error; the log ends at line 1 (notice)"
    assert log.write(StateChanged("running", 1)) is False
    assert [e.type for e in read_events(log.run_dir)] == ["notice"]


def test_a_log_that_cannot_be_created_is_a_one_line_error(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(RunLogError, match=f"^cannot write the run log in {a_file / 'run'}: Not a directory$"):
        RunLog(a_file / "run", CONFIG)
    with pytest.raises(RunLogError, match=f"^cannot write run logs in {a_file / 'logs'}: Not a directory$"):
        writer.ensure_log_dir(a_file / "logs")
    made = tmp_path / "new" / "logs"
    assert writer.ensure_log_dir(made) == made and made.is_dir() and list(made.iterdir()) == []
    assert writer.ensure_log_dir(made) == made  # and again, once it exists


def test_skipped_lines_are_described_briefly():
    assert reader.describe_lines([1234]) == "line 1,234"
    assert reader.describe_lines([37, 52, 90]) == "lines 37, 52 and 90"
    assert reader.describe_lines(list(range(1, 9))) == "lines 1, 2, 3, 4, 5, 6, 7 and 8"
    assert reader.describe_lines(list(range(1, 1002))) == "lines 1, 2, 3, 4, 5, 6, 7, 8, … (1,001 in all)"
    assert reader.describe_lines([5, 6, 7], shown=2) == "lines 5, 6, … (3 in all)"


def test_a_seed_group_logs_each_runs_seed_and_is_summarised_over_its_seeds(tmp_path):
    config = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], seeds=[0, 1, 2], preset="compare")
    log = RunLog(tmp_path / "run", config)
    log.write(ExperimentStarted(config.to_dict(), "cpu", "CPU", "MNIST", 10, 5, experiment_runs(config), 0.0))
    log.write(Evaluation(5, 1.0, [0, 1, 2, 3, 4, 5], [0.91, 0.92, 0.93, 0.80, 0.81, 0.82], [0.3] * 6))
    results = [replace(run, status="done", step=10) for run in experiment_runs(config)]
    log.write(ExperimentFinished("done", 10, 1.0, 100.0, results))
    log.close()
    read = catalogue.read_run(log.run_dir)
    assert [(r.record.name, r.record.seed) for r in read.fold.runs.values()] == [
        ("he:relu", 0), ("he:relu", 1), ("he:relu", 2), ("xavier:tanh", 0), ("xavier:tanh", 1), ("xavier:tanh", 2)]
    assert summarise_run(log.run_dir).best_test_acc == {"he:relu": [0.91, 0.92, 0.93], "xavier:tanh": [0.80, 0.81, 0.82]}


def test_a_spectrum_histogram_round_trips_is_optional_and_refused_when_damaged():
    histogram = [0] * SPECTRUM_BINS
    histogram[SPECTRUM_BINS // 2] = 64
    spectrum = RunSpectrum(1.0, 1.0, [1.0, 1.0], [0.5, 0.4], [0.5, 0.45], 1.0, 0.98, histogram)
    event = JacobianSpectra(0, [0], [spectrum], 0.1, 32)
    assert event_from_json(event.to_json()) == event
    # a log written before the histogram: its spectra still read, without one
    old = json.loads(event.to_json())
    del old["spectra"][0]["log10_histogram"]
    assert event_from_dict(old).spectra[0].log10_histogram == []
    for damaged in (histogram[:-1], [*histogram[:-1], -1], [*histogram[:-1], 1.5], [*histogram[:-1], None],
                    [*histogram[:-1], True], "64"):
        line = json.loads(event.to_json())
        line["spectra"][0]["log10_histogram"] = damaged
        with pytest.raises((TypeError, ValueError)):
            event_from_dict(line)
