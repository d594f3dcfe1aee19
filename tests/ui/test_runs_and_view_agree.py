"""``inittui runs`` and ``inittui view`` read a log through the same code, so they say the same status, the same
runs and the same number of skipped lines: for a run that was removed, a damaged log and a dead writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.dashboard import wait_for
from support.logs import train_to_log
from inittui.core.config import RunSpec
from inittui.core.reports import SkippedLines
from inittui.runlog.catalogue import summarise_run
from inittui.runlog.layout import CONFIG_FILE, EVENTS_FILE
from inittui.ui.app import make_app

SIZE = (120, 40)


async def viewed(run_dir: Path) -> tuple[str, list[str], int]:
    """What the viewer says of a log: its state, its runs and how many lines it skipped."""
    app = make_app(run_dir=run_dir, fps=20)
    skipped: list[int] = []
    apply = app.model.apply

    def counting(report):
        if isinstance(report, SkippedLines):
            skipped.extend(report.lines)
        return apply(report)

    app.model.apply = counting  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.state in ("done", "stopped", "error", "interrupted"))
        await wait_for(pilot, lambda: app.source.finished.is_set() or app.model.experiment.state == "interrupted")
        await pilot.pause(0.1)
        return app.model.experiment.state, [run.record.name for run in app.model.shown_runs()], len(skipped)


def said_by_runs(run_dir: Path) -> tuple[str, list[str], int]:
    summary = summarise_run(run_dir)
    return summary.status, summary.runs, summary.skipped_lines


def dead_writer(run_dir: Path) -> None:
    header = json.loads((run_dir / CONFIG_FILE).read_text())
    (run_dir / CONFIG_FILE).write_text(json.dumps({**header, "pid": 0}))


@pytest.fixture
def finished_log(tmp_path) -> Path:
    return train_to_log(tmp_path, steps=30, runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh"),
                                                    RunSpec("lsuv", "gelu")])


async def test_a_removed_run_is_neither_counted_nor_named(finished_log):
    path = finished_log / EVENTS_FILE
    lines = path.read_text().splitlines()
    runs = json.loads(next(line for line in lines if '"type":"runs"' in line))
    runs["runs"] = runs["runs"][:2]  # run 2 removed
    runs["reason"] = "removed"
    lines.insert(len(lines) - 1, json.dumps(runs, separators=(",", ":")))  # just before the finished line
    path.write_text("\n".join(lines) + "\n")
    said = said_by_runs(finished_log)
    assert said == await viewed(finished_log)
    assert said[1] == ["he:relu", "xavier:tanh"]


async def test_a_damaged_log_counts_the_same_skipped_lines(finished_log):
    path = finished_log / EVENTS_FILE
    lines = path.read_bytes().split(b"\n")
    lines[3] = b"not json"
    lines[5] = lines[5][:40]  # cut mid-line, the writer went on
    lines.insert(6, b'{"type":"evaluation","step":6,"epoch":1.0,"run_ids":7,"test_acc":[0.9],"test_loss":[0.1]}')
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n" + b'{"type":"progress","ste')  # and a torn last line
    dead_writer(finished_log)
    said = said_by_runs(finished_log)
    assert said == await viewed(finished_log)
    assert said[2] == 4


async def test_a_log_whose_writer_died_is_interrupted_in_both(finished_log):
    path = finished_log / EVENTS_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if '"type":"finished"' not in line) + "\n")
    dead_writer(finished_log)
    said = said_by_runs(finished_log)
    assert said == await viewed(finished_log)
    assert said[0] == "interrupted"
