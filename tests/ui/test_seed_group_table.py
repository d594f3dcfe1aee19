"""The real dashboard training a seed group: the runs table shows one two-line row of mean ± std per
init:activation, and g expands the selected run's group into its seeds; i changes every seed of a group, and p
keeps the seeds for the preset it starts."""

from __future__ import annotations

from support.dashboard import SIZE, dashboard_config, press, screen_text, wait_for
from support.data import noise_mnist
from inittui.core.config import INITIALIZER_NAMES, parse_runs
from inittui.training.model import initial_weights, run_seed
from inittui.ui.app import make_app
from inittui.ui.runs_table import RunsTable


async def test_the_runs_table_folds_each_seed_group_and_x_expands_it(tmp_path):
    config = dashboard_config(seeds=[0, 1, 2]).with_runs(parse_runs("he:relu,xavier:tanh"))
    app = make_app(config, data=noise_mnist(), log_dir=tmp_path / "runs", fps=20, screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target.step >= 8)
        engine = app.source.target
        assert [(run.name, run.seed) for run in engine.runs] == [
            ("he:relu", 0), ("he:relu", 1), ("he:relu", 2), ("xavier:tanh", 0), ("xavier:tanh", 1), ("xavier:tanh", 2)]
        table = app.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await wait_for(pilot, lambda: "±" in str(table.get_cell("0", "loss")))
        assert str(table.get_cell("0", "init")) == "he\n3 seeds"
        await press(pilot, "g")
        await wait_for(pilot, lambda: table.row_count == 4)
        assert [str(table.get_cell(key, "init")) for key in ("0", "1", "2")] == ["he s0", "he s1", "he s2"]
        assert "he s1" in screen_text(app)
        await press(pilot, "g")
        await wait_for(pilot, lambda: table.row_count == 2)
        # n steps the histograms through the selected group's seeds; the folded table keeps its row
        await press(pilot, "3")
        await wait_for(pilot, lambda: "run 0 he:relu s0" in screen_text(app))
        await press(pilot, "n")
        await wait_for(pilot, lambda: "run 1 he:relu s1" in screen_text(app))
        assert app.model.view.selected == 1 and table.row_count == 2


async def test_i_on_a_groups_row_gives_all_its_seeds_the_next_initialiser_and_they_train_to_the_end(tmp_path):
    config = dashboard_config(seeds=[0, 1, 2], steps=30).with_runs(parse_runs("he:relu,xavier:tanh"))
    app = make_app(config, data=noise_mnist(), log_dir=tmp_path / "runs", fps=20, screenshot_dir=tmp_path / "shots")
    following = INITIALIZER_NAMES[INITIALIZER_NAMES.index("he") + 1]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target.step >= 8)
        engine = app.source.target
        table = app.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await press(pilot, "i")
        # at once, before the engine answers: the group's row shows the new initialiser, for its three seeds
        assert str(table.get_cell("0", "init")) == f"{following}\n3 seeds" and table.row_count == 2
        done = lambda: all(run.status == "done" for run in engine.runs) and not app.model.pending  # noqa: E731
        await wait_for(pilot, lambda: engine.runs[0].spec.init == following and done(), timeout=60)
        runs = engine.runs
        assert [(run.name, run.seed, run.step) for run in runs] == [
            (f"{following}:relu", 0, 30), (f"{following}:relu", 1, 30), (f"{following}:relu", 2, 30),
            ("xavier:tanh", 0, 30), ("xavier:tanh", 1, 30), ("xavier:tanh", 2, 30)]
        await wait_for(pilot, lambda: str(table.get_cell("0", "init")) == f"{following}\n3 seeds" and "±" in str(
            table.get_cell("0", "loss")))
        # each seed drew its new weights from its own seed, and trained them
        for run in runs[:3]:
            start, _ = initial_weights(run.spec, config.layer_sizes, run_seed(run.seed, run.spec, 0), None)
            assert all((now - then).abs().max() > 1e-4 for now, then in zip(engine.run_weights(run.id)[0], start))


async def test_p_starts_the_preset_over_the_seeds_of_the_experiment_it_replaces(tmp_path):
    config = dashboard_config(seeds=[0, 1]).with_runs(parse_runs("he:relu"))
    app = make_app(config, data=noise_mnist(), log_dir=tmp_path / "runs", fps=20, screenshot_dir=tmp_path / "shots")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target.step >= 2)
        old = app.source.target
        await press(pilot, "p")
        await press(pilot, "down", "enter")  # compare → book
        await wait_for(pilot, lambda: app.source.target is not None and app.source.target is not old)
        engine = app.source.target
        assert (engine.config.preset, engine.config.seeds) == ("book", [0, 1])
        assert [(run.name, run.seed) for run in engine.runs] == [
            ("normal-0.01:relu", 0), ("normal-0.01:relu", 1), ("xavier:relu", 0), ("xavier:relu", 1),
            ("he:relu", 0), ("he:relu", 1)]
        # the table folds each of the book's three runs into a group of two seeds
        await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == 3)
        await wait_for(pilot, lambda: str(app.query_one(RunsTable).get_cell("0", "init")) == "normal-0.01\n2 seeds")
