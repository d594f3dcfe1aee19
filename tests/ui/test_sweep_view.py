"""``inittui view SWEEP_DIR``: the grid over a sweep's axes, its held axes, and cells filled in as the
experiments finish, read from ``sweep.json`` alone."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from support.dashboard import wait_for
from inittui.dashboard.sweep_grid import GridSettings, sweep_axes, sweep_grid, sweep_points
from inittui.runlog.manifest import DONE, FAILED, PENDING, RUNNING, ExperimentEntry, SweepManifest
from inittui.ui.sweep_view import SweepViewer

RUNS = ["he:relu", "xavier:tanh"]


def result(name: str, test_acc: float, status: str = "done") -> dict:
    return {"name": name, "status": status, "steps": 50, "train_loss": 1.0 - test_acc, "test_acc": test_acc}


def entry(depth: int, lr: float, state: str = PENDING, results: list[dict] | None = None) -> ExperimentEntry:
    name = f"depth{depth}-lr{lr}"
    return ExperimentEntry(name, {"depth": depth, "lr": lr}, {"runs": RUNS, "depth": depth, "lr": lr}, name,
                           state=state, results=results or [])


def manifest(directory: Path, entries: list[ExperimentEntry]) -> SweepManifest:
    sweep = SweepManifest.new(directory, "grid", str(directory / "grid.toml"), entries)
    sweep.save()
    return sweep


def four(directory: Path) -> SweepManifest:
    return manifest(directory, [
        entry(2, 0.01, DONE, [result("he:relu", 0.45), result("xavier:tanh", 0.53)]),
        entry(2, 0.1, DONE, [result("he:relu", 0.83), result("xavier:tanh", 0.0, "diverged")]),
        entry(3, 0.01, RUNNING),
        entry(3, 0.1, FAILED),
    ])


# ---------------------------------------------------------------------------------------------- the grid
def test_every_run_of_every_experiment_is_a_point_and_only_finished_ones_have_numbers(tmp_path):
    sweep = four(tmp_path)
    points = sweep_points(sweep)
    assert len(points) == 8
    done = [p for p in points if p.experiment == "depth2-lr0.01"]
    assert [(p.coordinates["init"], p.coordinates["activation"], p.metrics["test_acc"]) for p in done] == [
        ("he", "relu", 0.45), ("xavier", "tanh", 0.53)]
    assert all(not p.metrics for p in points if p.state in (RUNNING, FAILED))
    assert sweep_axes(sweep, points) == {"run": RUNS, "init": ["he", "xavier"], "activation": ["relu", "tanh"],
                                         "depth": [2, 3], "lr": [0.01, 0.1]}


def test_the_runs_go_down_the_first_swept_axis_across_and_the_rest_is_held(tmp_path):
    sweep = four(tmp_path)
    points = sweep_points(sweep)
    axes = sweep_axes(sweep, points)
    grid = sweep_grid(points, axes, GridSettings.default(axes))
    assert (grid.settings.rows, grid.settings.columns, grid.settings.held) == ("run", "depth", {"lr": 0.01})
    assert grid.rows == RUNS and grid.columns == [2, 3]
    assert grid.cells[(0, 0)].metrics["test_acc"] == 0.45 and grid.cells[(1, 1)].state == RUNNING
    held = grid.settings.next_held(axes, "lr")
    assert sweep_grid(points, axes, held).cells[(0, 0)].metrics["test_acc"] == 0.83


def test_run_never_stands_beside_its_own_init_or_activation(tmp_path):
    sweep = four(tmp_path)
    axes = sweep_axes(sweep, sweep_points(sweep))
    settings = GridSettings.default(axes)
    seen = set()
    for _ in range(12):
        settings = settings.next_axis(axes, "columns")
        seen.add(settings.columns)
        assert settings.columns not in ("run", "init", "activation")
    assert seen == {"depth", "lr"}
    by_init = GridSettings("init", "depth").fitted(axes)
    # init shown: activation is held (not run), and the cells are the runs of that activation
    assert by_init.held == {"activation": "relu", "lr": 0.01}
    by_axes = GridSettings("depth", "lr").fitted(axes)
    assert by_axes.held == {"run": "he:relu"}


def test_a_user_initialiser_in_a_run_name_is_only_a_name(tmp_path):
    sweep = manifest(tmp_path, [ExperimentEntry("a", {}, {"runs": ["critical-tanh:tanh"]}, "a")])
    assert sweep_points(sweep)[0].coordinates["init"] == "critical-tanh"


# ---------------------------------------------------------------------------------------------- the screen
def table_text(app: SweepViewer) -> list[list[str]]:
    table = app.query_one("#sweep-grid", DataTable)
    return [[str(cell.plain if isinstance(cell, Text) else cell).strip() for cell in table.get_row_at(row)]
            for row in range(table.row_count)]


def header(app: SweepViewer) -> str:
    return str(app.query_one("#sweep-header", Static).render())


async def test_cells_fill_in_as_experiments_finish_and_keys_change_the_axes(tmp_path):
    sweep = four(tmp_path)
    app = SweepViewer(tmp_path, poll_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one("#sweep-grid", DataTable).row_count == 2)
        assert table_text(app) == [["he:relu", "45.0%", "…"], ["xavier:tanh", "53.0%", "…"]]
        assert "2/4 done, 1 running, 1 failed" in header(app)
        sweep.entry("depth3-lr0.01").state = DONE
        sweep.entry("depth3-lr0.01").results = [result("he:relu", 0.61), result("xavier:tanh", 0.66)]
        sweep.save()
        await wait_for(pilot, lambda: table_text(app)[0][2] == "61.0%")
        assert "3/4 done" in header(app)
        await pilot.press("v")  # lr, the one held axis, to its next value
        await wait_for(pilot, lambda: table_text(app)[1][1] == "✗ diverged")
        assert table_text(app)[0] == ["he:relu", "83.0%", "failed"]
        await pilot.press("r")  # the rows from the runs to their initialisers: the activation is held now
        assert app.settings.rows == "init" and app.settings.held == {"activation": "relu", "lr": 0.1}
        assert table_text(app) == [["he", "83.0%", "failed"], ["xavier", "", ""]]
        await pilot.press("m")
        assert app.settings.metric == "train_loss" and table_text(app)[0][1] == "0.17"


async def test_an_unreadable_sweep_json_is_said_and_the_grid_stays(tmp_path):
    four(tmp_path)
    app = SweepViewer(tmp_path, poll_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one("#sweep-grid", DataTable).row_count == 2)
        (tmp_path / "sweep.json").write_text('{"sweep": "grid", "experi')
        await wait_for(pilot, lambda: "cannot be read" in header(app))
        assert table_text(app)[0][1] == "45.0%"


def test_view_of_a_sweep_directory_opens_the_sweep_viewer(tmp_path, monkeypatch):
    import inittui.ui.sweep_view as sweep_view
    from inittui.cli import command_view

    four(tmp_path)
    opened = []
    monkeypatch.setattr(sweep_view, "run_sweep_viewer", lambda directory: opened.append(directory) or 0)
    assert command_view(argparse.Namespace(run=str(tmp_path), log_dir=None, fps=4.0)) == 0
    assert opened == [tmp_path]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_sweep_grid_snapshot(tmp_path, monkeypatch, size, snap_compare):
    # the directory is in the header: a relative one, so that the picture does not change with tmp_path
    monkeypatch.chdir(tmp_path)
    Path("sweep-grid").mkdir()
    four(Path("sweep-grid"))
    assert snap_compare(SweepViewer(Path("sweep-grid")), terminal_size=size)


def test_the_docs_list_every_key_of_the_sweep_viewer_and_its_example_sweep_expands():
    from support.paths import ROOT
    from inittui.experiments.sweep import expand, read_settings
    from inittui.ui.sweep_view import SWEEP_BINDINGS

    docs = (ROOT / "docs" / "sweeps.md").read_text()
    table = docs[docs.index("## Viewing a sweep"):]
    table = table[table.index("| key |"):]
    documented = [line.split("`")[1] for line in table[: table.index("\n\n")].splitlines()[2:]]
    assert documented == [binding.key for binding in SWEEP_BINDINGS]
    fixed, axes = read_settings(ROOT / "examples" / "depth_lr.toml")
    assert axes == {"depth": [2, 3], "lr": [0.01, 0.1]} and len(expand(fixed, axes)) == 4
