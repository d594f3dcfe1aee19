"""The runs table over a seed group: one row per init:activation, each number the mean ± std over its seeds
(a diverged seed left out and counted), a key that expands a group into its seeds, and the keys that change
training acting on every seed of a group."""

from __future__ import annotations

import pytest

from support.room import Room
from support.records import record
from support.sources import RecordingTarget
from inittui.core.commands import AddRun, RemoveRun, Restart, SetRun
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.core.events import ExperimentStarted, RunRecord, RunsChanged
from inittui.dashboard import selectors
from inittui.dashboard.controller import Action, Controller
from inittui.dashboard.model import DashboardModel


def grouped_model(he_relu: list[RunRecord]) -> DashboardModel:
    """he:relu over the seeds given, and xavier:tanh alone."""
    runs = [*he_relu, record(len(he_relu), "xavier", "tanh", "running", 50, test_acc=0.8, seed=0)]
    model = DashboardModel()
    model.apply(ExperimentStarted({"preset": "compare", "seeds": [0, 1, 2]}, "cpu", "CPU", "random", 1000, 100,
                                  runs, 0.0))
    return model


def seed(run_id: int, status: str = "running", **numbers) -> RunRecord:
    return record(run_id, "he", "relu", status, 50, seed=run_id, **numbers)


def test_a_seed_group_is_one_row_of_mean_and_std_over_its_seeds():
    model = grouped_model([seed(0, train_loss=0.2, test_acc=0.90, dead=0.1, saturated=None),
                           seed(1, train_loss=0.4, test_acc=0.92, dead=0.3, saturated=None),
                           seed(2, train_loss=0.6, test_acc=0.94, dead=0.2, saturated=None)])
    group, alone = selectors.table_rows(model)
    assert group.runs == (0, 1, 2) and group.run_id == 0 and group.height == 2
    assert group.cells["test"] == "92.0\n±2.0"  # mean over line, sample std under it
    assert group.cells["loss"] == "0.400\n±0.20"
    assert group.cells["deadsat"] == "20%/–\n±10%/–"
    assert group.cells["init"] == "he\n3 seeds" and group.status == "running"
    assert alone.runs == (3,) and alone.height == 1 and alone.cells["test"] == "80.0" and alone.cells["init"] == "xavier"


def test_a_diverged_seed_is_left_out_of_the_mean_and_counted():
    model = grouped_model([seed(0, test_acc=0.90), seed(1, "diverged", test_acc=0.10), seed(2, test_acc=0.94)])
    group = selectors.table_rows(model)[0]
    assert group.cells["test"] == "92.0\n±2.8"
    assert group.cells["status"] == "mixed\n1 div"


def test_a_key_expands_the_selected_runs_group_into_its_seeds_and_folds_it_again():
    model = grouped_model([seed(0, test_acc=0.90), seed(1, test_acc=0.92), seed(2, test_acc=0.94)])
    controller = Controller(model, lambda: None, Room(), lambda: ["cpu"])
    model.view.selected = 0
    # the arrow keys step over the folded group: from its row to the next
    controller.handle(Action.SELECT_NEXT)
    assert model.view.selected == 3
    controller.handle(Action.SELECT_PREVIOUS)
    outcome = controller.handle(Action.TOGGLE_SEEDS)
    assert "a row for each of its 3 seeds" in outcome.message
    rows = selectors.table_rows(model)
    assert [row.runs for row in rows] == [(0,), (1,), (2,), (3,)]
    assert [row.cells["init"] for row in rows[:3]] == ["he s0", "he s1", "he s2"]
    controller.handle(Action.SELECT_NEXT)
    assert model.view.selected == 1  # now each seed is a row of its own
    controller.handle(Action.TOGGLE_SEEDS)
    rows = selectors.table_rows(model)
    assert [row.runs for row in rows] == [(0, 1, 2), (3,)]
    assert selectors.row_of(rows, model.view.selected) == 0  # seed 1 is shown by its group's row
    model.view.selected = 3
    assert "one seed" in controller.handle(Action.TOGGLE_SEEDS).message


def test_an_experiment_of_one_seed_keeps_a_row_a_run_even_where_two_share_a_name():
    model = DashboardModel()
    runs = [record(0, "he", "relu", seed=0), record(1, "xavier", "tanh", seed=0), record(2, "he", "relu", seed=0)]
    model.apply(ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100, runs, 0.0))
    rows = selectors.table_rows(model)
    assert [row.runs for row in rows] == [(0,), (1,), (2,)] and [row.height for row in rows] == [1, 1, 1]
    assert rows[0].cells["init"] == "he"
    model.view.selected = 0
    assert "no seed groups" in Controller(model, lambda: None, Room(), lambda: ["cpu"]).handle(Action.TOGGLE_SEEDS).message


def test_the_curves_draw_each_group_as_its_mean_in_a_band_from_the_lowest_to_the_highest_seed():
    from inittui.core.events import TrainProgress
    from inittui.dashboard.views import SeedBand
    from inittui.ui.curves import curve_arrays

    model = grouped_model([seed(0), seed(1), seed(2, "diverged")])
    losses = [[1.0, 1.0], [3.0, 3.0], [50.0, 50.0], [2.0, 2.0]]
    model.apply(TrainProgress(2, 0.02, [0, 1, 2, 3], [2, 2, 2, 2], losses, losses, 1.0, 1.0))
    view = selectors.curves(model)
    assert [entry.label for entry in view.legend] == ["he:relu ×3 1 div", "xavier:tanh ×1"]
    he, xavier = view.loss
    # the diverged seed is left out of the band and of its mean
    assert isinstance(he.series, SeedBand) and len(he.series.seeds) == 2 and len(xavier.series.seeds) == 1
    (_, band, _, mean), _ = curve_arrays(view.loss, 4, 0.0, 1.0)
    assert band.min() == 1.0 and band.max() == 3.0 and set(mean.tolist()) == {2.0}
    (steps, _, _, _), _ = curve_arrays(view.loss, 4, 1.5, 2.0)  # a zoomed window: its steps alone
    assert steps.size and steps.min() >= 1.5
    model.view.hidden_runs.add(1)  # x on one seed of he:relu hides its group
    assert [entry.label for entry in selectors.curves(model).legend] == ["xavier:tanh ×1"]


def test_the_atlas_shows_each_group_as_its_mean_with_its_spread_and_a_diverged_seed_left_out():
    model = grouped_model([seed(0, best_test_acc=0.90, train_loss=0.2), seed(1, "diverged", best_test_acc=0.10),
                           seed(2, best_test_acc=0.94, train_loss=0.4)])
    he, xavier = selectors.atlas_records(model)
    assert (he.id, he.name, he.status) == (0, "he:relu", "running")
    # the mean of the two that trained
    assert he.best_test_acc == pytest.approx(0.92) and he.train_loss == pytest.approx(0.3)
    spreads = selectors.atlas_spreads(model)
    assert set(spreads) == {0, 3}
    assert spreads[0].runs == (0, 1, 2) and spreads[0].seeds == 3 and spreads[0].diverged == 1
    assert round(spreads[0].std["best_test_acc"], 6) == 0.028284 and spreads[0].std["dead"] is None
    assert spreads[3].runs == (3,) and spreads[3].std["best_test_acc"] is None and xavier.id == 3
    # every seed diverged: the group did
    model = grouped_model([seed(0, "diverged"), seed(1, "diverged"), seed(2, "diverged")])
    assert selectors.atlas_records(model)[0].status == "diverged"


def test_the_atlas_of_one_seed_shows_every_run_as_it_is_with_no_spread():
    model = DashboardModel()
    runs = [record(0, "he", "relu", best_test_acc=0.9, seed=0), record(1, "he", "relu", best_test_acc=0.5, seed=0)]
    model.apply(ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100, runs, 0.0))
    assert [(r.id, r.best_test_acc) for r in selectors.atlas_records(model)] == [(0, 0.9), (1, 0.5)]
    assert selectors.atlas_spreads(model) == {}


def test_n_steps_the_selection_through_the_selected_groups_seeds_and_the_histograms_show_that_seeds():
    from inittui.core.events import LayerStats
    from support.records import layer

    model = grouped_model([seed(0), seed(1), seed(2)])
    # each seed's layers told apart by their std
    model.apply(LayerStats(50, [0, 1, 2, 3], [[layer(1.0)], [layer(2.0)], [layer(3.0)], [layer(4.0)]],
                           [[None]] * 4))
    controller = Controller(model, lambda: None, Room(), lambda: ["cpu"])
    model.view.selected = 0
    title = selectors.histograms(model).title
    assert "run 0 he:relu s0" in title and "n: next seed" in title
    seen = []
    for _ in range(3):
        outcome = controller.handle(Action.NEXT_SEED)
        histograms = selectors.histograms(model)
        seen.append((model.view.selected, histograms.panels[0].measured, outcome.message))
    assert seen == [(1, 2.0, "he:relu: seed 1, 2 of its 3 seeds"), (2, 3.0, "he:relu: seed 2, 3 of its 3 seeds"),
                    (0, 1.0, "he:relu: seed 0, 1 of its 3 seeds")]  # after the last, the first
    assert "run 0 he:relu s0" in selectors.histograms(model).title  # back on the first seed
    # the folded table keeps the group's row for every seed selected
    model.view.selected = 2
    assert selectors.row_of(selectors.table_rows(model), model.view.selected) == 0
    model.view.selected = 3
    assert "has one seed" in controller.handle(Action.NEXT_SEED).message and model.view.selected == 3


def test_n_in_an_experiment_of_one_seed_says_there_are_no_seeds_to_step_through():
    model = DashboardModel()
    model.apply(ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "random", 1000, 100,
                                  [record(0, "he", "relu", seed=0)], 0.0))
    model.view.selected = 0
    controller = Controller(model, lambda: None, Room(), lambda: ["cpu"])
    assert "no seeds to step through" in controller.handle(Action.NEXT_SEED).message
    assert "n: next seed" not in selectors.histograms(model).title


def test_the_depth_view_shows_each_groups_mean_per_layer_with_its_seeds_range_a_diverged_seed_left_out():
    from inittui.core.events import LayerStats
    from support.records import layer

    model = grouped_model([seed(0), seed(1), seed(2, "diverged")])
    stds = [[1.0, 0.5], [3.0, 0.7], [90.0, 90.0], [2.0, 2.0]]
    model.apply(LayerStats(50, [0, 1, 2, 3], [[layer(a), layer(b)] for a, b in stds], [[0.9, 0.4]] * 4))
    model.view.selected = 1  # a seed of the group: the group is shown
    (he,) = selectors.depth_series(model)
    assert he.label == "0 he:relu ×3 1 div"
    assert he.activation_std == [2.0, 0.6] and he.predicted_std == [0.9, 0.4]
    assert he.seed_range["activation_std"] == ([1.0, 0.5], [3.0, 0.7])
    model.view.compare = True
    assert [series.label for series in selectors.depth_series(model)] == ["3 xavier:tanh ×1", "0 he:relu ×3 1 div"]
    assert selectors.depth_series(model)[0].seed_range == {}  # one seed: no range


# ---------------------------------------------------------------------------------------------- keys on a group
HE_NEXT = INITIALIZER_NAMES[INITIALIZER_NAMES.index("he") + 1]


def groups_model(*names: str, seeds: tuple[int, ...] = (0, 1, 2)) -> DashboardModel:
    """Each ``init:activation`` of ``names`` once per seed (ids in that order), trained with ``seeds``."""
    specs = [name.split(":") for name in names]
    runs = [record(index * len(seeds) + place, init, activation, "running", 50, seed=seed)
            for index, (init, activation) in enumerate(specs) for place, seed in enumerate(seeds)]
    model = DashboardModel()
    config = {"preset": "compare", "seeds": list(seeds)} if len(seeds) > 1 else {"preset": "compare"}
    model.apply(ExperimentStarted(config, "cpu", "CPU", "random", 1000, 100, runs, 0.0))
    model.view.selected = 0
    return model


def engine_keys(model: DashboardModel) -> tuple[Controller, RecordingTarget]:
    target = RecordingTarget()
    return Controller(model, lambda: target, Room(), lambda: ["cpu"]), target


def shown_names(model: DashboardModel) -> list[tuple[str, str]]:
    return [(selectors.shown_record(model, run).name, selectors.shown_record(model, run).status)
            for run in model.shown_runs()]


def test_i_gives_every_seed_of_the_selected_group_the_next_initialiser_in_one_command():
    model = groups_model("he:relu", "xavier:tanh")
    controller, target = engine_keys(model)
    outcome = controller.handle(Action.NEXT_INIT)
    (command,) = target.commands
    assert isinstance(command, SetRun) and command.run_ids == (0, 1, 2) and command.init == HE_NEXT
    assert command.activation is None
    # every seed shows the new initialiser, starting, so the group keeps its row; the other group goes on
    assert shown_names(model) == [(f"{HE_NEXT}:relu", "starting")] * 3 + [("xavier:tanh", "running")] * 3
    assert [row.runs for row in selectors.table_rows(model)] == [(0, 1, 2), (3, 4, 5)]
    assert outcome.message == f"he:relu → {HE_NEXT}:relu: its 3 seeds start again"
    # the engine's one answer settles all three
    runs = [record(i, HE_NEXT, "relu", seed=i) for i in range(3)]
    runs += [record(i, "xavier", "tanh", seed=i - 3) for i in range(3, 6)]
    model.apply(RunsChanged(60, "changed", runs, command.request))
    assert model.pending == {} and [row.runs for row in selectors.table_rows(model)] == [(0, 1, 2), (3, 4, 5)]


def test_from_an_expanded_seeds_row_the_keys_still_act_on_its_whole_group():
    model = groups_model("he:relu", "xavier:tanh")
    controller, target = engine_keys(model)
    controller.handle(Action.TOGGLE_SEEDS)
    model.view.selected = 4  # xavier:tanh seed 1, on a row of its own
    controller.handle(Action.TOGGLE_SEEDS)
    model.view.selected = 1  # he:relu seed 1
    controller.handle(Action.PREVIOUS_ACTIVATION)
    controller.handle(Action.RESTART_RUN)
    switched, restarted = target.commands
    assert isinstance(switched, SetRun) and switched.run_ids == (0, 1, 2) and switched.init is None
    assert isinstance(restarted, Restart) and restarted.run_ids == (0, 1, 2)
    activation = switched.activation
    # the restart asked right after the switch shows the switched spec, for every seed
    assert shown_names(model)[:3] == [(f"he:{activation}", "starting")] * 3


def test_i_and_a_pass_over_a_pair_another_group_trains_and_say_so_where_every_one_is_taken():
    after = INITIALIZER_NAMES[INITIALIZER_NAMES.index("he") + 2]
    model = groups_model("he:relu", f"{HE_NEXT}:relu")
    controller, target = engine_keys(model)
    controller.handle(Action.NEXT_INIT)
    assert target.commands[-1].init == after  # HE_NEXT:relu is the other group's: passed over
    # every activation with he is trained by another group: nothing to switch to, nothing sent
    model = groups_model(*(f"he:{name}" for name in ACTIVATION_NAMES))
    controller, target = engine_keys(model)
    outcome = controller.handle(Action.NEXT_ACTIVATION)
    assert target.commands == [] and outcome.severity == "warning"
    assert outcome.message == "another seed group trains every activation with he: nothing to switch to"


def test_r_restarts_and_a_second_minus_removes_every_seed_of_the_group():
    model = groups_model("he:relu", "xavier:tanh")
    controller, target = engine_keys(model)
    assert controller.handle(Action.RESTART_RUN).message == "restarting he:relu: its 3 seeds"
    assert target.commands[-1].run_ids == (0, 1, 2)
    assert shown_names(model)[:3] == [("he:relu", "starting")] * 3
    asked = controller.handle(Action.REMOVE_RUN)
    assert "remove he:relu (its 3 seeds)? press - again" in asked.message and len(target.commands) == 1
    assert controller.handle(Action.REMOVE_RUN).message == "he:relu (its 3 seeds) removed"
    removal = target.commands[-1]
    assert isinstance(removal, RemoveRun) and removal.run_ids == (0, 1, 2)
    assert [run.id for run in model.shown_runs()] == [3, 4, 5] and model.view.selected == 3
    # the group left is the last: it stays
    assert controller.handle(Action.REMOVE_RUN).message == "the last run cannot be removed"


def test_with_one_seed_a_key_changes_the_selected_run_alone_even_where_another_run_shares_its_pair():
    model = groups_model("he:relu", "he:relu", f"{HE_NEXT}:relu", seeds=(0,))
    controller, target = engine_keys(model)
    controller.handle(Action.NEXT_INIT)
    controller.handle(Action.RESTART_RUN)
    switched, restarted = target.commands
    assert switched.run_ids == (0,) and switched.init == HE_NEXT  # two runs of one pair are two runs
    assert restarted.run_ids == (0,)
    assert shown_names(model) == [(f"{HE_NEXT}:relu", "starting"), ("he:relu", "running"),
                                  (f"{HE_NEXT}:relu", "running")]


def test_plus_adds_a_group_of_the_next_initialiser_no_group_trains_and_says_so_where_every_one_is_taken():
    after = INITIALIZER_NAMES[INITIALIZER_NAMES.index("he") + 2]
    model = groups_model("he:relu", f"{HE_NEXT}:relu")
    controller, target = engine_keys(model)
    controller.handle(Action.ADD_RUN)
    (added,) = target.commands
    assert isinstance(added, AddRun) and added.spec.name == f"{after}:relu"  # HE_NEXT:relu is trained: passed over
    model = groups_model(*(f"{name}:relu" for name in INITIALIZER_NAMES))
    controller, target = engine_keys(model)
    outcome = controller.handle(Action.ADD_RUN)
    assert target.commands == [] and outcome.severity == "warning"
    assert outcome.message == "a seed group trains every initialiser with relu: nothing to add"
    # one seed: two runs of one pair are two runs, as before
    model = groups_model("he:relu", f"{HE_NEXT}:relu", seeds=(0,))
    controller, target = engine_keys(model)
    controller.handle(Action.ADD_RUN)
    assert target.commands[-1].spec.name == f"{HE_NEXT}:relu"
