"""The log index behind ``inittui view``: it agrees with reading every event, reads one statistics step by its
offset, follows a growing log, and loses nothing readable to damaged, cut or foreign lines."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from support.records import record
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.engine import Engine
from inittui.core.events import Evaluation, ExperimentStarted, LayerStats, Notice, RunsChanged, TrainProgress
from inittui.runlog.index import EVENTS_FILE, LogIndex
from inittui.runlog.writer import RunLog
from inittui.runlog.reader import parse_line, read_events

from conftest import random_mnist


def write_log(log_dir: Path, steps: int = 60, stats_every: int = 10, bins: int = 8, **overrides) -> Path:
    """A real run log: the engine trains two small runs on random data and the run log writes it."""
    values = dict(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], depth=2, width=8, steps=steps,
                  epochs=None, stats_every=stats_every, histogram_bins=bins, batch_size=32, device="cpu",
                  preset="compare")
    values.update(overrides)
    config = ExperimentConfig(**values)
    data = random_mnist(train=256, test=64)
    log = RunLog.create(log_dir, config, {"dataset": data.description})
    try:
        Engine(config, data, log.write).run()
    finally:
        log.close()
    return log.run_dir


@pytest.fixture(scope="module")
def real_log(tmp_path_factory) -> Path:
    return write_log(tmp_path_factory.mktemp("log"))


@pytest.fixture(scope="module")
def tiny_log(tmp_path_factory) -> Path:
    """A few kilobytes: small enough to cut at every byte."""
    return write_log(tmp_path_factory.mktemp("tiny"), steps=6, stats_every=3, bins=2, width=2, depth=1,
                     runs=[RunSpec("he", "relu")])


def small_events(events: list) -> list:
    return [e for e in events if not isinstance(e, (TrainProgress, LayerStats))]


# ---------------------------------------------------------------------------------------------- agreement
def test_index_agrees_with_reading_every_event(real_log):
    events = read_events(real_log)
    index = LogIndex.open(real_log)
    assert index.skipped == 0 and index.truncated_tail == 0
    assert index.events == small_events(events)
    assert index.latest_progress == [e for e in events if isinstance(e, TrainProgress)][-1]
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert index.steps == [e.step for e in stats]
    assert len(stats) >= 6


def test_each_offset_reads_its_own_statistics_step(real_log):
    stats = [e for e in read_events(real_log) if isinstance(e, LayerStats)]
    index = LogIndex.open(real_log)
    for position in reversed(range(len(stats))):  # out of order, past the cache
        assert index.layer_stats(position) == stats[position]
        assert index.stats[position].step == stats[position].step
    assert index.latest_layer_stats() == stats[-1]
    with pytest.raises(IndexError):
        index.layer_stats(len(stats))


def test_state_events_fold_to_the_same_latest_state(real_log):
    events = read_events(real_log)
    index = LogIndex.open(real_log)
    folded = index.state_events()
    # in log order: the latest progress sits where it was written, before the events that followed it
    order = [events.index(e) for e in folded]
    assert order == sorted(order)
    assert [e for e in folded if isinstance(e, LayerStats)] == [[e for e in events if isinstance(e, LayerStats)][-1]]
    assert sum(isinstance(e, TrainProgress) for e in folded) == 1
    assert small_events(folded) == small_events(events)


def test_curves_keep_every_step_min_max_and_mean(real_log):
    events = read_events(real_log)
    index = LogIndex.open(real_log)
    for run_id in (0, 1):
        losses: dict[int, float] = {}
        for event in events:
            if isinstance(event, TrainProgress):
                row = event.run_ids.index(run_id)
                chunk = event.losses[row]
                for k, value in enumerate(chunk):
                    if value is not None:
                        losses[event.run_steps[row] - len(chunk) + 1 + k] = value
        curve = index.curves[run_id].loss
        assert curve.last_step == max(losses)
        columns = [c for c in curve.columns(3) if c is not None]
        assert min(c.minimum for c in columns) == min(losses.values())
        assert max(c.maximum for c in columns) == max(losses.values())
        total = sum(c.mean * n for c, n in zip(columns, _counts(curve, 3)))
        assert total == pytest.approx(sum(losses.values()))
        tests = [(e.step, e.test_acc[e.run_ids.index(run_id)]) for e in events if isinstance(e, Evaluation)]
        assert [acc for _, acc in index.curves[run_id].test] == [acc for _, acc in tests]


def _counts(curve, width):
    import numpy as np

    filled = np.flatnonzero(curve.count)
    middles = (filled + 0.5) * curve.width - 0.5
    span = max(curve.last_step, 1e-9)
    index = np.clip((middles / span * width).astype(int), 0, width - 1)
    return [int(np.array(curve.count)[filled][index == c].sum()) for c in range(width) if (index == c).any()]


def test_positions_by_step(real_log):
    index = LogIndex.open(real_log)
    steps = index.steps
    assert index.position_at(steps[0] - 1) is None
    assert index.position_at(steps[2]) == 2
    assert index.position_at(steps[2] + 1) == 2
    assert index.position_at(10**9) == len(steps) - 1
    spread = index.spread_positions(3)
    assert spread[0] == 0 and spread[-1] == len(steps) - 1 and len(spread) == 3
    assert index.spread_positions(100) == list(range(len(steps)))
    assert index.spread_positions(2, since_step=steps[-2]) == [len(steps) - 2, len(steps) - 1]


# ---------------------------------------------------------------------------------------------- damage
def test_damaged_lines_are_skipped_counted_and_named(real_log, tmp_path, parser):
    run_dir = tmp_path / "damaged"
    shutil.copytree(real_log, run_dir)
    path = run_dir / EVENTS_FILE
    lines = path.read_bytes().split(b"\n")
    garbage = [
        b"not json at all",
        b'{"type":"progress","step":',  # torn mid-line, then the writer went on
        b"[1, 2, 3]",
        b'{"type":"unknown","step":1}',
        b"\xff\xfe\x00 binary",
        b'{"type":"progress","step":5,"epoch":0,"run_ids":[0],"run_steps":[5],"losses":[["x"]],'
        b'"accuracies":[[0.5]],"samples_per_s":1,"elapsed_s":1}',
        b"[" * 100_000,  # deep nesting
    ]
    damaged = lines[:3] + garbage + lines[3:]
    path.write_bytes(b"\n".join(damaged))
    index = LogIndex.open(run_dir)
    assert index.skipped == len(garbage)
    assert index.skipped_lines == list(range(4, 4 + len(garbage)))
    clean = LogIndex.open(real_log)
    assert index.events == clean.events
    assert index.steps == clean.steps
    assert index.latest_layer_stats() == clean.latest_layer_stats()


def test_a_layers_line_damaged_inside_is_counted_when_read(real_log, tmp_path):
    run_dir = tmp_path / "inside"
    shutil.copytree(real_log, run_dir)
    path = run_dir / EVENTS_FILE
    lines = path.read_text().split("\n")
    position = next(i for i, line in enumerate(lines) if line.startswith('{"type":"layers"'))
    lines[position] = lines[position][:60] + "#garbage#" + lines[position][69:]
    path.write_text("\n".join(lines))
    index = LogIndex.open(run_dir)
    assert index.skipped == 0  # not parsed yet
    assert index.layer_stats(0) is None
    assert index.skipped == 1 and index.skipped_lines == [position + 1]
    assert index.layer_stats(1) is not None


def test_empty_and_blank_logs_open(tmp_path):
    (tmp_path / EVENTS_FILE).write_bytes(b"")
    index = LogIndex.open(tmp_path)
    assert (index.events, index.stats, index.skipped, index.latest_layer_stats()) == ([], [], 0, None)
    (tmp_path / EVENTS_FILE).write_bytes(b"\n\n   \n")
    index = LogIndex.open(tmp_path)
    assert index.skipped == 0 and index.lines == 3 and index.state_events() == []


def test_a_log_cut_at_any_byte_opens_with_what_is_complete(tiny_log, tmp_path):
    data = (tiny_log / EVENTS_FILE).read_bytes()
    full = LogIndex.open(tiny_log)
    assert len(data) < 20_000 and full.stats
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    path = cut_dir / EVENTS_FILE
    for size in range(len(data) + 1):
        path.write_bytes(data[:size])
        index = LogIndex.open(cut_dir)
        complete = data[:size].rfind(b"\n") + 1
        assert index.offset == complete
        assert index.truncated_tail == size - complete
        assert index.skipped == 0
        assert index.events == full.events[: len(index.events)]
        assert index.steps == full.steps[: len(index.steps)]
        for position in range(len(index.stats)):
            assert index.layer_stats(position) == full.layer_stats(position)


def test_following_a_growing_log_matches_opening_it_whole(real_log, tmp_path):
    data = (real_log / EVENTS_FILE).read_bytes()
    grow_dir = tmp_path / "grow"
    grow_dir.mkdir()
    path = grow_dir / EVENTS_FILE
    path.write_bytes(b"")
    index = LogIndex(path)
    seen_events, seen_stats, progress = [], 0, None
    # appended in pieces that cut lines anywhere, as a writer flushing mid-line would
    for start in range(0, len(data), 997):
        with open(path, "ab") as file:
            file.write(data[start : start + 997])
        update = index.update()
        seen_events.extend(update.events)
        seen_stats += update.new_stats
        progress = update.progress or progress
        assert not update.restarted or start == 0
    whole = LogIndex.open(real_log)
    assert seen_events == whole.events == index.events
    assert seen_stats == len(whole.stats)
    assert [(s.step, s.offset, s.length) for s in index.stats] == [(s.step, s.offset, s.length) for s in whole.stats]
    assert progress == whole.latest_progress
    assert index.curves[0].loss.minimum == whole.curves[0].loss.minimum
    assert index.update().changed is False


def test_update_orders_the_latest_progress_among_the_new_events(tmp_path):
    path = tmp_path / EVENTS_FILE
    runs = [record(0, "he", "relu", "running", 0)]
    started = ExperimentStarted({}, "cpu", "CPU", "data", 100, 10, runs, 0.0)
    progress = [TrainProgress(s, s / 10, [0], [s], [[1.0 / s]], [[0.5]], 1.0, 1.0) for s in (1, 2, 3)]
    notice = Notice("hello")
    lines = [started, progress[0], notice, progress[1], progress[2], Notice("bye")]
    path.write_text("".join(e.to_json() + "\n" for e in lines))
    update = LogIndex(path).update()
    assert update.restarted
    assert update.ordered() == [started, notice, progress[2], Notice("bye")]


def test_a_new_experiment_in_the_same_log_replaces_the_old(real_log, tmp_path):
    run_dir = tmp_path / "twice"
    shutil.copytree(real_log, run_dir)
    data = (real_log / EVENTS_FILE).read_bytes()
    (run_dir / EVENTS_FILE).write_bytes(data + data)
    index = LogIndex.open(run_dir)
    whole = LogIndex.open(real_log)
    assert index.events == whole.events
    assert index.steps == whole.steps
    assert index.stats[0].offset == len(data) + whole.stats[0].offset
    assert index.layer_stats(0) == whole.layer_stats(0)


def test_a_restarted_run_starts_its_curves_again(tmp_path):
    path = tmp_path / EVENTS_FILE
    runs = [record(0, "he", "relu", "running", 0), record(1, "xavier", "tanh", "running", 0)]
    events = [ExperimentStarted({}, "cpu", "CPU", "data", 100, 10, runs, 0.0)]
    events.append(TrainProgress(20, 2.0, [0, 1], [20, 20], [[2.0] * 20, [3.0] * 20], [[0.1] * 20] * 2, 1.0, 1.0))
    changed = [record(0, "normal-1", "relu", "running", 0), record(1, "xavier", "tanh", "running", 20)]
    events.append(RunsChanged(20, "restart", changed))
    events.append(TrainProgress(25, 2.5, [0, 1], [5, 25], [[9.0] * 5, [3.0] * 5], [[0.1] * 5] * 2, 1.0, 1.0))
    path.write_text("".join(e.to_json() + "\n" for e in events))
    index = LogIndex(path)
    index.update()
    restarted, kept = index.curves[0], index.curves[1]
    assert restarted.started_at == 20 and restarted.step == 5
    # a run's k-th step is at x = k, as the dashboard draws it
    assert restarted.loss.minimum[:6] == [math.inf] + [9.0] * 5 and restarted.loss.last_step == 5
    assert kept.started_at == 0 and kept.loss.last_step == 25 and kept.step == 25


@pytest.fixture(params=["orjson", "json"])
def parser(request, monkeypatch):
    """Both parsers the index may use: orjson where installed, the standard library's without it."""
    import inittui.runlog.reader as runlog

    if request.param == "json":
        monkeypatch.setattr(runlog, "_fast_loads", None)
    elif runlog._fast_loads is None:
        pytest.skip("orjson is not installed")
    return request.param


def test_the_line_decoder_is_tolerant_and_small(parser):
    event = Notice("x", "warning")
    assert parse_line(event.to_json().encode()) == event
    for raw in (b"", b"{", b"null", b"[]", b'{"type":"notice"}', b'{"type":"notice","message":"x","bogus":1}',
                b"\xff", b'"just a string"', b'{"type": 5}'):
        assert parse_line(raw) is None, raw


def test_numbers_beyond_the_json_the_writer_allows_are_taken_or_skipped_never_raised(tmp_path, parser):
    path = tmp_path / EVENTS_FILE
    runs = [record(0, "he", "relu", "running", 0)]
    lines = [ExperimentStarted({}, "cpu", "CPU", "data", 100, 10, runs, 0.0).to_json()]
    lines.append('{"type":"progress","step":3,"epoch":0.3,"run_ids":[0],"run_steps":[3],'
                 '"losses":[[NaN,Infinity,1e999]],"accuracies":[[null,-Infinity,0.5]],"samples_per_s":1,"elapsed_s":1}')
    path.write_text("\n".join(lines) + "\n")
    index = LogIndex(path)
    index.update()
    assert index.skipped == 0
    loss = index.curves[0].loss
    assert len(loss) == 0  # no finite loss
    assert [c for c in index.curves[0].accuracy.columns(1)][0].mean == 0.5
    assert not math.isnan(index.curves[0].accuracy.columns(1)[0].maximum)


def test_the_decoder_is_one_function_the_index_uses(monkeypatch, real_log):
    """The index decodes with the run log's one decoder, for every line it parses."""
    import inittui.runlog.index as logindex

    calls = []
    original = logindex.parse_line

    def spy(raw: bytes):
        calls.append(raw)
        return original(raw)

    monkeypatch.setattr(logindex, "parse_line", spy)
    index = LogIndex.open(real_log)
    index.layer_stats(0)
    parsed = [json.loads(raw)["type"] for raw in calls]
    assert "layers" in parsed and "progress" in parsed and "started" in parsed


def test_a_long_log_opened_whole_keeps_the_same_curve_as_followed_line_by_line(tmp_path):
    """Opened whole, the curves' buckets are sized for the log's length from the start; followed, they grow
    and merge. Both keep every value's min, max and count, and a spike in the same screen column."""
    runs = [record(0, "he", "relu", "running", 0)]
    lines = [ExperimentStarted({}, "cpu", "CPU", "data", 10**6, 469, runs, 0.0).to_json()]
    for step in range(26, 60_000, 26):
        losses = [1.0 + (k % 5) * 0.01 for k in range(26)]
        if step == 41_600:
            losses[7] = 99.0
        lines.append(TrainProgress(step, step / 469, [0], [step], [losses], [[0.5] * 26], 1.0, 1.0).to_json())
    whole_path = tmp_path / "whole" / EVENTS_FILE
    whole_path.parent.mkdir()
    whole_path.write_text("\n".join(lines) + "\n")
    whole = LogIndex.open(whole_path.parent).curves[0].loss
    followed_path = tmp_path / EVENTS_FILE
    followed_path.write_text("")
    index = LogIndex(followed_path)
    for line in lines:
        with open(followed_path, "a") as file:
            file.write(line + "\n")
        index.update()
    followed = index.curves[0].loss
    assert whole.width == followed.width
    for curve in (whole, followed):
        columns = [c for c in curve.columns(120) if c is not None]
        assert sum(curve.count) == (len(lines) - 1) * 26
        assert max(c.maximum for c in columns) == 99.0 and min(c.minimum for c in columns) == 1.0
    spikes = [[i for i, c in enumerate(curve.columns(120)) if c and c.maximum == 99.0] for curve in (whole, followed)]
    assert spikes[0] == spikes[1] and len(spikes[0]) == 1
