"""The log index behind ``inittui view`` and ``inittui runs``: it hands on every event but the statistics steps,
reads one statistics step by its offset, follows a growing log, and loses nothing readable to damaged, cut or
foreign lines."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from support.logs import folded, train_to_log
from support.records import record
from inittui.core.events import ExperimentStarted, LayerStats, Notice, TrainProgress
from inittui.runlog.index import LogIndex
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import parse_line, read_events
from inittui.core.config import RunSpec


@pytest.fixture(scope="module")
def real_log(tmp_path_factory) -> Path:
    return train_to_log(tmp_path_factory.mktemp("log"))


@pytest.fixture(scope="module")
def tiny_log(tmp_path_factory) -> Path:
    """A few kilobytes: small enough to cut at every byte."""
    return train_to_log(tmp_path_factory.mktemp("tiny"), steps=6, stats_every=3, bins=2, width=2, depth=1,
                        runs=[RunSpec("he", "relu")])


def read(index: LogIndex) -> list:
    """What one update of ``index`` hands on."""
    events: list = []
    index.update(events.append)
    return events


def opened(run_dir: Path) -> tuple[LogIndex, list]:
    """The index of a log read once, and the events it handed on but the newest statistics step."""
    index = LogIndex.of(run_dir)
    return index, not_stats(read(index))


def not_stats(events: list) -> list:
    return [e for e in events if not isinstance(e, LayerStats)]


# ---------------------------------------------------------------------------------------------- agreement
def test_index_hands_on_every_event_but_the_statistics_steps(real_log):
    events = read_events(real_log)
    index, handed = opened(real_log)
    assert index.skipped == 0 and index.truncated_tail == 0
    assert handed == not_stats(events)
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert index.steps == [e.step for e in stats]
    assert len(stats) >= 6


def test_a_log_with_other_json_spacing_is_indexed_alike_without_decoding_its_statistics(real_log, tmp_path,
                                                                                        monkeypatch):
    """Any valid JSON lines open, and as fast: a statistics step is found by its prefix, spaced or not."""
    import inittui.runlog.index as logindex

    spaced = tmp_path / "spaced"
    spaced.mkdir()
    lines = (real_log / EVENTS_FILE).read_text().splitlines()
    (spaced / EVENTS_FILE).write_text("".join(json.dumps(json.loads(line), indent=None) + "\n" for line in lines))
    decoded = []
    original = logindex.parse_line
    monkeypatch.setattr(logindex, "parse_line", lambda raw: decoded.append(raw) or original(raw))
    index, handed = opened(spaced)
    assert not [raw for raw in decoded if json.loads(raw)["type"] == "layers"][1:]  # only the newest, to show
    assert handed == not_stats(read_events(real_log)) and index.steps == opened(real_log)[0].steps
    assert index.layer_stats(0) == next(e for e in read_events(real_log) if isinstance(e, LayerStats))


def test_each_offset_reads_its_own_statistics_step(real_log):
    stats = [e for e in read_events(real_log) if isinstance(e, LayerStats)]
    index, _ = opened(real_log)
    for position in reversed(range(len(stats))):  # out of order, past the cache
        assert index.layer_stats(position) == stats[position]
        assert index.stats[position].step == stats[position].step
    with pytest.raises(IndexError):
        index.layer_stats(len(stats))


def test_the_newest_statistics_step_is_handed_on_where_it_was_written(real_log):
    events = read_events(real_log)
    ordered = read(LogIndex.of(real_log))
    positions = [events.index(e) for e in ordered]
    assert positions == sorted(positions)  # in log order
    assert [e for e in ordered if isinstance(e, LayerStats)] == [[e for e in events if isinstance(e, LayerStats)][-1]]
    # folded, the index's events give the same state as every event of the log
    whole, through_index = folded(events), folded(ordered)
    assert [run.record for run in whole.runs.values()] == [run.record for run in through_index.runs.values()]
    assert [run.life.layers for run in whole.runs.values()] == [run.life.layers for run in through_index.runs.values()]
    assert whole.experiment == through_index.experiment


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
        b'"accuracies":[[0.5]],"samples_per_s":1,"elapsed_s":1}',  # the right form, nonsense inside
        b'{"type":"evaluation","step":6,"epoch":1.0,"run_ids":[0,1],"test_acc":[0.9],"test_loss":[0.1,0.2]}',
        b"[" * 100_000,  # deep nesting
    ]
    damaged = lines[:3] + garbage + lines[3:]
    path.write_bytes(b"\n".join(damaged))
    index, handed = opened(run_dir)
    assert index.skipped == len(garbage)
    assert index.skipped_lines == list(range(4, 4 + len(garbage)))
    clean, clean_handed = opened(real_log)
    assert handed == clean_handed
    assert index.steps == clean.steps
    assert index.layer_stats(len(index.stats) - 1) == clean.layer_stats(len(clean.stats) - 1)


def test_a_layers_line_damaged_inside_is_counted_when_read(real_log, tmp_path):
    run_dir = tmp_path / "inside"
    shutil.copytree(real_log, run_dir)
    path = run_dir / EVENTS_FILE
    lines = path.read_text().split("\n")
    position = next(i for i, line in enumerate(lines) if line.startswith('{"type":"layers"'))
    lines[position] = lines[position][:60] + "#garbage#" + lines[position][69:]
    path.write_text("\n".join(lines))
    index, _ = opened(run_dir)
    assert index.skipped == 0  # not parsed yet
    assert index.layer_stats(0) is None
    assert index.skipped == 1 and index.skipped_lines == [position + 1]
    assert index.layer_stats(1) is not None


def test_the_newest_statistics_step_damaged_gives_way_to_the_one_before(real_log, tmp_path):
    run_dir = tmp_path / "last"
    shutil.copytree(real_log, run_dir)
    path = run_dir / EVENTS_FILE
    lines = path.read_text().split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith('{"type":"layers"'))
    lines[last] = lines[last][:60] + "#garbage#" + lines[last][69:]
    path.write_text("\n".join(lines))
    index = LogIndex.of(run_dir)
    stats = [e for e in read(index) if isinstance(e, LayerStats)]
    assert [e.step for e in stats] == [index.steps[-2]] and index.skipped == 1


def test_empty_and_blank_logs_open(tmp_path):
    (tmp_path / EVENTS_FILE).write_bytes(b"")
    index, handed = opened(tmp_path)
    assert (handed, index.stats, index.skipped) == ([], [], 0)
    (tmp_path / EVENTS_FILE).write_bytes(b"\n\n   \n")
    index, handed = opened(tmp_path)
    assert index.skipped == 0 and index.lines == 3 and handed == []


def test_a_log_cut_at_any_byte_opens_with_what_is_complete(tiny_log, tmp_path):
    data = (tiny_log / EVENTS_FILE).read_bytes()
    full, full_handed = opened(tiny_log)
    assert len(data) < 20_000 and full.stats
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    path = cut_dir / EVENTS_FILE
    for size in range(len(data) + 1):
        path.write_bytes(data[:size])
        index, handed = opened(cut_dir)
        complete = data[:size].rfind(b"\n") + 1
        assert index.offset == complete
        assert index.truncated_tail == size - complete
        assert index.skipped == 0  # the cut line may still be being written
        assert handed == full_handed[: len(handed)]
        assert index.steps == full.steps[: len(index.steps)]
        for position in range(len(index.stats)):
            assert index.layer_stats(position) == full.layer_stats(position)
        # once its writer is gone, a cut last line is a damaged one, counted once
        assert index.end() == (index.lines + 1 if size > complete else None)
        assert index.skipped == (1 if size > complete else 0) and index.end() is None


def test_following_a_growing_log_matches_opening_it_whole(real_log, tmp_path):
    data = (real_log / EVENTS_FILE).read_bytes()
    grow_dir = tmp_path / "grow"
    grow_dir.mkdir()
    path = grow_dir / EVENTS_FILE
    path.write_bytes(b"")
    index = LogIndex(path)
    seen_events, seen_stats = [], 0
    # appended in pieces that cut lines anywhere, as a writer flushing mid-line would
    for start in range(0, len(data), 997):
        with open(path, "ab") as file:
            file.write(data[start : start + 997])
        events: list = []
        update = index.update(events.append)
        seen_events.extend(not_stats(events))
        seen_stats += update.new_stats
        assert not update.restarted or start == 0
    whole, handed = opened(real_log)
    assert seen_events == handed
    assert seen_stats == len(whole.stats)
    assert [(s.step, s.offset, s.length) for s in index.stats] == [(s.step, s.offset, s.length) for s in whole.stats]
    assert index.update(seen_events.append).changed is False


def test_a_new_experiment_in_the_same_log_replaces_the_old(real_log, tmp_path):
    run_dir = tmp_path / "twice"
    shutil.copytree(real_log, run_dir)
    data = (real_log / EVENTS_FILE).read_bytes()
    (run_dir / EVENTS_FILE).write_bytes(data + data)
    index = LogIndex.of(run_dir)
    events: list = []
    update = index.update(events.append)
    whole, handed = opened(real_log)
    assert update.restarted and not_stats(events) == handed + handed  # the fold starts again at the second
    assert index.steps == whole.steps  # statistics steps of the first experiment are gone
    assert index.stats[0].offset == len(data) + whole.stats[0].offset
    assert index.layer_stats(0) == whole.layer_stats(0)
    assert folded(events).experiment == folded(read_events(real_log)).experiment


@pytest.fixture(params=["orjson", "json"])
def parser(request, monkeypatch):
    """Both parsers the index may use: orjson where installed, the standard library's without it."""
    import inittui.runlog.reader as reader

    if request.param == "json":
        monkeypatch.setattr(reader, "_fast_loads", None)
    elif reader._fast_loads is None:
        pytest.skip("orjson is not installed")
    return request.param


def test_the_line_decoder_is_tolerant_and_small(parser):
    event = Notice("x", "warning")
    assert parse_line(event.to_json().encode()) == event
    for raw in (b"", b"{", b"null", b"[]", b'{"type":"notice"}', b'{"type":"notice","message":"x","bogus":1}',
                b"\xff", b'"just a string"', b'{"type": 5}', b'{"type":"notice","message":7}',
                b'{"type":"runs","step":1,"reason":"x","runs":[{"id":"zero","init":"he","activation":"relu"}]}'):
        assert parse_line(raw) is None, raw


def test_numbers_beyond_the_json_the_writer_allows_are_taken_or_skipped_never_raised(tmp_path, parser):
    path = tmp_path / EVENTS_FILE
    runs = [record(0, "he", "relu", "running", 0)]
    lines = [ExperimentStarted({}, "cpu", "CPU", "data", 100, 10, runs, 0.0).to_json()]
    lines.append('{"type":"progress","step":3,"epoch":0.3,"run_ids":[0],"run_steps":[3],'
                 '"losses":[[NaN,Infinity,1e999]],"accuracies":[[null,-Infinity,0.5]],"samples_per_s":1,"elapsed_s":1}')
    path.write_text("\n".join(lines) + "\n")
    index = LogIndex(path)
    fold = folded(read(index))
    assert index.skipped == 0
    life = fold.runs[0].life
    # NaN is a gap; Infinity and 1e999 (inf to a parser) are values beyond any axis, kept out of the mean
    assert life.loss.maximum[2:4].tolist() == [math.inf, math.inf] and life.loss.count[:4].tolist() == [0, 0, 0, 0]
    assert life.accuracy.columns(1)[0].mean == 0.5


def test_the_decoder_is_one_function_the_index_uses(monkeypatch, real_log):
    """The index decodes with the run log's one decoder, for every line it parses."""
    import inittui.runlog.index as logindex

    calls = []
    original = logindex.parse_line

    def spy(raw: bytes):
        calls.append(raw)
        return original(raw)

    monkeypatch.setattr(logindex, "parse_line", spy)
    index, _ = opened(real_log)
    index.layer_stats(0)
    parsed = [json.loads(raw)["type"] for raw in calls]
    assert "layers" in parsed and "progress" in parsed and "started" in parsed


def test_a_long_log_opened_whole_keeps_the_same_curve_as_followed_line_by_line(tmp_path):
    """Opened whole or followed line by line, the fold is fed the same events and keeps the same curve:
    every value's min, max and count, and a spike in the same screen column."""
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
    whole = folded(opened(whole_path.parent)[1]).runs[0].life.loss
    followed_path = tmp_path / EVENTS_FILE
    followed_path.write_text("")
    index = LogIndex(followed_path)
    events = []
    for line in lines:
        with open(followed_path, "a") as file:
            file.write(line + "\n")
        events += read(index)
    followed = folded(events).runs[0].life.loss
    assert whole.width == followed.width
    assert [a.tolist() for a in (whole.minimum, whole.maximum, whole.count)] == [
        a.tolist() for a in (followed.minimum, followed.maximum, followed.count)]
    columns = [c for c in whole.columns(120) if c is not None]
    assert sum(whole.count) == (len(lines) - 1) * 26
    assert max(c.maximum for c in columns) == 99.0 and min(c.minimum for c in columns) == 1.0
    assert len([c for c in whole.columns(120) if c and c.maximum == 99.0]) == 1
