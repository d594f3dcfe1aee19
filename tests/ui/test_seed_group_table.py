"""The real dashboard training a seed group: the runs table shows one two-line row of mean ± std per
init:activation, and x expands the selected run's group into its seeds."""

from __future__ import annotations

from support.dashboard import SIZE, dashboard_config, press, screen_text, wait_for
from support.data import noise_mnist
from inittui.core.config import parse_runs
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
