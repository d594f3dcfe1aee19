"""The user's initialisers on the dashboard as ``inittui --init-file`` runs it: the child process loads the file,
``i``/``I`` cycle through the user's names after the built-ins, and one that fails leaves the run as it was."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.dashboard import SIZE, press, record_notes, wait_for
from support.idx import write_mnist_files
from support.paths import ROOT
from support.records import record

from inittui.cli import build_parser, config_from_args
from inittui.core.reports import Failed
from inittui.dashboard.selectors import histograms
from inittui.dashboard.sources import ProcessSource
from inittui.training.process import EngineProcess
from inittui.ui.app import make_app
from inittui.ui.atlas import grid_problem, render_atlas
from inittui.ui.screens.help import help_markdown

EXAMPLE = ROOT / "examples" / "my_init.py"
SMALL = ["--width", "16", "--depth", "3", "--steps", "1000000", "--stats-every", "5", "--batch-size", "64",
         "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory) -> Path:
    return write_mnist_files(tmp_path_factory.mktemp("mnist"), train_count=60_000, test_count=10_000, gz=False)


def dashboard(argv: list[str], tiny_mnist: Path, tmp_path: Path):
    config = config_from_args(build_parser().parse_args(["train", *argv, *SMALL]))
    app = make_app(config, data_dir=str(tiny_mnist), log_dir=tmp_path / "runs", fps=20)
    record_notes(app)
    assert isinstance(app.source, ProcessSource)  # the real child process, which alone runs the user's code
    return app


def spec(app, run_id: int) -> str:
    return app.model.runs[run_id].record.spec.name


async def test_i_cycles_through_the_users_initialisers_trained_in_the_child(tmp_path, tiny_mnist):
    app = dashboard(["--init-file", str(EXAMPLE), "--runs", "critical-tanh:tanh,he:relu"], tiny_mnist, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.step > 5 and app.model.runs[0].life.layers, timeout=90)
        assert "p from the drawn variance" in histograms(app.model).title
        assert all(p is not None for p in app.model.runs[0].life.predicted)
        await press(pilot, "i")  # after critical-tanh, the file's next one
        await wait_for(pilot, lambda: spec(app, 0) == "sparse:tanh" and not app.model.pending_change(0)
                       and app.model.runs[0].record.step > 0, timeout=60)
        await press(pilot, "i")  # and round to the first built-in
        await wait_for(pilot, lambda: spec(app, 0) == "xavier:tanh" and not app.model.pending_change(0)
                       and app.model.runs[0].record.step > 0, timeout=60)
        assert "p from the drawn variance" not in histograms(app.model).title
        assert spec(app, 1) == "he:relu" and app.model.runs[1].record.status == "running"


async def test_an_initialiser_that_fails_on_I_leaves_the_run_as_it_was(tmp_path, tiny_mnist):
    path = tmp_path / "picky.py"
    path.write_text(textwrap.dedent('''
        import inittui

        @inittui.initializer("no-relu")
        def no_relu(weight, *, activation, generator):
            """W ~ N(0, 1/n_in), but never with relu"""
            if activation == "relu":
                raise RuntimeError("not with relu")
            weight.normal_(0.0, weight.shape[1] ** -0.5, generator=generator)
    '''))
    app = dashboard(["--init-file", str(path), "--runs", "xavier:tanh"], tiny_mnist, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.experiment.step > 5, timeout=90)
        await press(pilot, "a")
        await wait_for(pilot, lambda: spec(app, 0) == "xavier:relu" and not app.model.pending_change(0)
                       and app.model.runs[0].record.step > 0, timeout=60)
        await press(pilot, "I")  # before xavier, round to the last: the user's no-relu, which fails with relu
        await wait_for(pilot, lambda: any("no_relu()" in note for note in app.notes), timeout=60)
        note = next(note for note in app.notes if "no_relu()" in note)
        assert str(path) in note and "raises RuntimeError" in note and "not with relu" in note
        await wait_for(pilot, lambda: not app.model.pending_change(0), timeout=10)
        step = app.model.runs[0].record.step
        await wait_for(pilot, lambda: app.model.runs[0].record.step > step, timeout=60)  # it trains on, as it was
        assert spec(app, 0) == "xavier:relu" and app.model.runs[0].record.status == "running"
        assert not app.model.status.problems


def test_the_child_refuses_a_file_that_fails_when_run_in_one_line_and_logs_nothing(tmp_path):
    path = tmp_path / "boom.py"
    path.write_text(textwrap.dedent('''
        import inittui

        @inittui.initializer("boom")
        def boom(weight, *, activation, generator):
            """W = boom"""
            raise ValueError("no good")
    '''))
    # what the dashboard's process can tell without running the file passes; the child finds the rest
    config = config_from_args(build_parser().parse_args(["train", "--init-file", str(path), "--runs", "boom:relu", *SMALL]))
    process = EngineProcess(config, data_dir=str(tmp_path / "none"), log_dir=tmp_path / "runs", threads=1)
    process.start()
    items = list(process.events())
    assert items == [Failed(f"{path}: boom(): raises ValueError for a 16×784 weight with relu: no good")]
    assert process.join(timeout=30)
    assert not (tmp_path / "runs").exists()


def test_the_atlas_takes_the_users_initialisers_as_rows_after_the_built_ins():
    pairs = [(init, activation) for init in ("sparse", "he", "critical-tanh") for activation in ("relu", "tanh")]
    assert grid_problem(pairs) is None
    assert "1 of the 2 × 2 combinations has no run (he:selu)" in grid_problem(
        [("normal-1", "relu"), ("he", "relu"), ("normal-1", "selu")])
    assert "2 of the 2 × 2 combinations have no run" in grid_problem([("he", "relu"), ("xavier", "tanh")])
    cells = [record(i, init, activation, "done", 10, best_test_acc=0.5 + i / 100) for i, (init, activation) in enumerate(pairs)]
    lines, layout = render_atlas(cells, 100, 30)
    assert layout is not None and len(lines) == 30
    assert [label.strip() for label in layout.row_labels] == ["he", "sparse", "critical-tanh"]


def test_the_help_screen_gives_each_users_initialiser_its_docstring_as_formula():
    config = config_from_args(build_parser().parse_args(["train", "--init-file", str(EXAMPLE)]))
    text = help_markdown("", config.user_initializers)
    row = next(line for line in text.splitlines() if line.startswith("| sparse |"))
    assert row.startswith("| sparse | `W_ij ~ N(0, 1) for 15 inputs j per unit i, chosen at random; 0 elsewhere` | Martens 2010")
    assert "p from the drawn variance" in row and "| critical-tanh | `W = 1.0 · Q, Q orthogonal" in text
