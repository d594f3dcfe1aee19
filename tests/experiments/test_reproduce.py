"""``inittui reproduce``: the criteria and the table on fake results, and a short run on real MNIST."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from inittui.experiments import reproduce
from inittui.core.events import Histogram
from inittui.training.model import initial_weights, run_seed
from inittui.core.presets import PRESETS
from inittui.science.probe import ProbeLayer, ProbeResult
from inittui.experiments.reproduce import (
    CRITERIA,
    PROBE,
    Criterion,
    Row,
    TrainOutcome,
    criteria_for,
    depth_ratio,
    expected,
    format_markdown,
    fraction_below,
    judge,
    layer_ratio,
    smoothed,
    theory_error,
    unit_spread,
)


def _probe_result(stds: list[float], predicted: list[float | None] | None = None, name: str = "he:relu") -> ProbeResult:
    predicted = predicted or [None] * len(stds)
    layers = [ProbeLayer(0.0, s, 0.0, None, None, p, Histogram(0.0, 1.0, [1])) for s, p in zip(stds, predicted)]
    init, activation = name.split(":")
    return ProbeResult(init, activation, layers)


# ------------------------------------------------------------------------------------------ the criteria


def test_every_criterion_names_a_run_of_its_preset_and_a_known_metric():
    for c in CRITERIA:
        assert c.metric in reproduce.METRICS
        assert c.low <= c.high
        if c.preset != PROBE:
            assert c.run in PRESETS[c.preset].runs, c
            assert c.other is None or c.other in PRESETS[c.preset].runs
    assert {c.preset for c in CRITERIA} == {"book", "seed", "deep", "symmetry", "isometry", PROBE}


def test_the_claimed_ranges():
    ranges = {(c.preset, c.run, c.metric): (c.low, c.high) for c in CRITERIA}
    assert ranges["book", "normal-0.01:relu", "test_acc"] == (0.0, 0.12)
    assert ranges["book", "xavier:relu", "test_acc"] == (0.90, 0.93)
    assert ranges["book", "he:relu", "test_acc"] == (0.92, 0.95)
    assert ranges["seed", "he:relu", "test_acc"][0] == 0.980
    assert ranges["seed", "xavier:tanh", "test_acc"][0] == 0.975
    assert ranges["deep", "he:relu", "test_acc"][0] == 0.90
    # the deep stalls, each at its epoch: test_reproduce_science.py
    assert ranges[PROBE, "he:relu", "depth_ratio"] == (0.7, 1.4)
    for run in ("he:relu", "xavier:tanh", "glorot:tanh", "orthogonal:tanh"):
        assert ranges[PROBE, run, "theory_error"] == (0.0, 0.15)


def test_smoothed_losses_and_fraction_below():
    assert smoothed([1.0, 3.0, 5.0, 7.0, 9.0], window=2) == [2.0, 6.0, 9.0]
    assert math.isnan(smoothed([1.0, None], window=2)[0])
    high = [2.3] * 400
    low = [2.3] * 200 + [1.0] * 200  # lower only from step 200 on
    assert fraction_below(low, high) == 1.0
    assert fraction_below(high, low) == 0.0
    # one window of 50 steps from step 200 where it is not below: 3 of 4 windows
    mixed = low[:300] + [3.0] * 50 + low[350:]
    assert fraction_below(mixed, high) == 0.75
    # a run that diverged (None) is not below in those windows
    assert fraction_below(low[:350] + [None] * 50, high) == 0.75
    assert math.isnan(fraction_below([1.0] * 100, [2.0] * 100))  # nothing from step 200


def test_unit_spread():
    same = torch.full((4, 3), 0.5)
    assert unit_spread([same, same.clone()]) == 0.0
    different = same.clone()
    different[2, 1] = 0.6
    assert unit_spread([same, different]) == pytest.approx(0.1 / 0.6)
    assert unit_spread([torch.zeros(3, 3)]) == 0.0
    assert unit_spread([torch.full((2, 2), math.nan)]) == math.inf or math.isnan(unit_spread([torch.full((2, 2), math.nan)]))


def test_probe_metrics():
    assert depth_ratio(_probe_result([1.0, 0.9, 1.0, 1.1, 1.05])) == pytest.approx(1.05)
    halving = [0.5 ** (i / 2) for i in range(5)]
    assert layer_ratio(_probe_result(halving)) == pytest.approx(1 / math.sqrt(2))
    assert theory_error(_probe_result([1.0, 2.0], [1.1, 1.8])) == pytest.approx(0.1)
    assert math.isnan(theory_error(_probe_result([1.0, 2.0], [1.0, None])))


def test_judge_accuracy_in_and_out_of_range():
    c = Criterion("book", "he:relu", "test_acc", 0.92, 0.95, "93.6 %")
    inside = judge(c, [TrainOutcome(test_acc={"he:relu": 0.935})])
    assert inside.passed and inside.measured == "93.50 %"
    assert not judge(c, [TrainOutcome(test_acc={"he:relu": 0.91})]).passed
    assert not judge(c, [TrainOutcome(test_acc={"he:relu": 0.96})]).passed
    # the mean over seeds is judged, and shown with its sample std
    row = judge(c, [TrainOutcome(test_acc={"he:relu": 0.93}), TrainOutcome(test_acc={"he:relu": 0.94})])
    assert row.passed and row.measured == "93.50 % ± 0.71 %"
    # a missing run or a run that never evaluated fails
    assert judge(c, [TrainOutcome(test_acc={})]).measured == "missing"
    assert not judge(c, [TrainOutcome(test_acc={"he:relu": None})]).passed
    assert not judge(c, [TrainOutcome(test_acc={"he:relu": 0.93}), TrainOutcome(test_acc={})]).passed


def test_judge_loss_symmetry_and_probe_rows():
    below = Criterion("book", "he:relu", "loss_below", 1.0, 1.0, "", other="xavier:relu")
    lower = {"he:relu": [1.0] * 400, "xavier:relu": [2.0] * 400}
    assert judge(below, [TrainOutcome(losses=lower)]).passed
    crossed = {"he:relu": [1.0] * 300 + [3.0] * 100, "xavier:relu": [2.0] * 400}
    assert not judge(below, [TrainOutcome(losses=crossed)]).passed

    symmetric = Criterion("symmetry", "constant:tanh", "unit_spread", 0.0, 1e-4, "")
    same = [torch.full((5, 7), 0.2)]
    broken = [torch.randn(5, 7, generator=torch.Generator().manual_seed(0))]
    assert judge(symmetric, [TrainOutcome(hidden_weights={"constant:tanh": same})]).passed
    assert not judge(symmetric, [TrainOutcome(hidden_weights={"constant:tanh": broken})]).passed

    keeps = Criterion(PROBE, "he:relu", "depth_ratio", 0.7, 1.4, "")
    assert judge(keeps, [{"he:relu": _probe_result([1.0, 1.0, 1.0, 1.0, 0.9])}]).passed
    assert not judge(keeps, [{"he:relu": _probe_result([1.0, 0.5, 0.3, 0.2, 0.1])}]).passed


def test_expected_text():
    by_key = {(c.preset, c.run, c.metric): c for c in CRITERIA}
    assert expected(by_key["book", "xavier:relu", "test_acc"]) == "test acc 90–93 %"
    assert expected(by_key["book", "normal-0.01:relu", "test_acc"]) == "test acc ≤ 12 %"
    assert expected(by_key["seed", "he:relu", "test_acc"]) == "test acc ≥ 98 % in every seed"
    assert expected(by_key[PROBE, "he:relu", "depth_ratio"]) == "std layer 5 / layer 1 0.7–1.4"
    assert "than xavier:relu 100 %" in expected(by_key["book", "he:relu", "loss_below"])


def test_markdown_table():
    rows = [
        Row("book", "he:relu", "93.60 %", "93.6 %", "test acc 92–95 %", True),
        Row(PROBE, "he:relu", "20.00 %", "theory", "|a − b| ≤ 15 %", False),
    ]
    text = format_markdown(rows, [0, 1, 2])
    lines = text.splitlines()
    assert lines[0] == "| preset | run | measured (mean ± std over seeds 0, 1, 2) | claim | expected | result |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == "| book | he:relu | 93.60 % | 93.6 % | test acc 92–95 % | pass |"
    assert lines[3] == "| probe | he:relu | 20.00 % | theory | \\|a − b\\| ≤ 15 % | **FAIL** |"
    assert all(line.count(" | ") == 5 for line in lines[2:])
    assert "(seed 7)" in format_markdown(rows, [7]).splitlines()[0]


# ------------------------------------------------------------------------------------------ run_reproduce, faked


def _passing_outcome(preset: str) -> TrainOutcome:
    outcome = TrainOutcome()
    for c in criteria_for(preset):
        if c.metric == "test_acc":
            outcome.test_acc[c.run] = (c.low + min(c.high, 1.0)) / 2
        elif c.metric == "loss_below":
            outcome.losses[c.run] = [1.0] * 400
            outcome.losses[c.other] = [2.0] * 400
        elif c.metric == "unit_spread":
            outcome.hidden_weights[c.run] = [torch.full((3, 3), 0.01)]
    return outcome


@pytest.fixture
def fake_training(monkeypatch):
    """run_reproduce with training and data loading replaced; returns the outcomes' test_acc to edit."""
    from tests.conftest import random_mnist

    trained: list[tuple[str, list[int]]] = []
    outcomes = {name: _passing_outcome(name) for name in PRESETS}

    def fake_train(config, data, log_dir, label):
        trained.append((config.preset, config.run_seeds))
        return [outcomes[config.preset]] * len(config.run_seeds)

    monkeypatch.setattr(reproduce, "load_mnist", lambda data_dir: random_mnist(16, 16))
    monkeypatch.setattr(reproduce, "train_preset", fake_train)
    return trained, outcomes


def test_exit_status_zero_when_all_pass(fake_training, tmp_path, capsys):
    trained, _ = fake_training
    status = reproduce.run_reproduce(["book", "symmetry"], [0, 1], device="cpu", data_dir=None, log_dir=tmp_path)
    out = capsys.readouterr().out
    assert status == 0, out
    assert trained == [("book", [0, 1]), ("symmetry", [0, 1])]  # one seed group per preset
    assert "**FAIL**" not in out
    # rows for the chosen presets and the probe, none for the others
    assert "| book | xavier:relu |" in out and "| probe | orthogonal:tanh |" in out
    assert "| deep |" not in out and "| seed |" not in out


def test_exit_status_one_when_one_fails(fake_training, tmp_path, capsys):
    _, outcomes = fake_training
    outcomes["deep"].test_acc["he:relu"] = 0.5
    status = reproduce.run_reproduce(["deep"], [0], device="cpu", data_dir=None, log_dir=tmp_path)
    out = capsys.readouterr().out
    assert status == 1
    assert "| deep | he:relu | 50.00 % | 93.6 % | test acc ≥ 90 % in every seed | **FAIL** |" in out


def test_core_module_imports_no_ui():
    code = "import sys, inittui.experiments.reproduce; assert not any(m == 'textual' or m.startswith(('textual.', 'inittui.ui')) for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------------ real MNIST, short


@pytest.fixture(scope="module")
def mnist():
    import os

    value = os.environ.get("INITTUI_DATA_DIR")
    if not value:
        pytest.skip("INITTUI_DATA_DIR is not set (real MNIST not available)")
    from inittui.training.data import load_mnist

    return load_mnist(value)


@pytest.mark.mnist
def test_short_book_run_on_mnist(mnist, tmp_path):
    config = PRESETS["book"].config(steps=200, device="cpu")
    (outcome,) = reproduce.train_preset(config, mnist, tmp_path, "book")
    assert outcome.status == "done"
    assert outcome.test_acc["normal-0.01:relu"] <= 0.12  # chance
    assert outcome.test_acc["he:relu"] > outcome.test_acc["normal-0.01:relu"] + 0.3
    assert all(len(losses) == 200 for losses in outcome.losses.values())
    assert sum(outcome.losses["normal-0.01:relu"][-50:]) / 50 == pytest.approx(math.log(10), abs=0.02)
    assert len(list(tmp_path.glob("*-book/events.jsonl"))) == 1  # logged, viewable later


@pytest.mark.mnist
def test_short_symmetry_run_on_mnist_is_symmetric_and_repeatable(mnist, tmp_path):
    config = PRESETS["symmetry"].config(steps=150, device="cpu")
    (first,) = reproduce.train_preset(config, mnist, tmp_path, "symmetry")
    assert first.status == "done"
    # trained: every run evaluated, a loss for every step, and every hidden layer moved from its initial draw
    assert all(acc is not None for acc in first.test_acc.values()) and len(first.test_acc) == 2
    assert all(len(losses) == 150 for losses in first.losses.values())
    for spec in config.runs:
        initial, _ = initial_weights(spec, config.layer_sizes, run_seed(config.seed, spec, 0), None)
        for now, then in zip(first.hidden_weights[spec.name], initial):
            assert (now - then).abs().max() > 1e-5, spec.name
    assert unit_spread(first.hidden_weights["constant:tanh"]) < 1e-4
    assert unit_spread(first.hidden_weights["xavier:tanh"]) > 0.1
    (again,) = reproduce.train_preset(config, mnist, tmp_path, "symmetry")  # same seed, same numbers on CPU
    assert again.status == "done"
    assert again.test_acc == first.test_acc
    assert again.losses == first.losses



def test_the_depth_scale_rows_judge_measured_against_predicted_in_every_seed():
    chaotic, critical = (next(c for c in CRITERIA if c.preset == "isometry" and c.run == run and c.metric == metric)
                         for run, metric in (("orthogonal:tanh", "depth_scale_factor"),
                                             ("orthogonal-critical:tanh", "correlation_decay")))

    def outcome(run: str, measured: float | None, xi_c: float | None) -> TrainOutcome:
        return TrainOutcome(initial_depth_scale={run: measured}, initial_xi_c={run: xi_c})

    # seeds 10-19's extremes, 10.1 and 14.4 against xi_c = 12.1, pass; a factor 1.6 either way fails
    assert judge(chaotic, [outcome("orthogonal:tanh", 10.1, 12.1), outcome("orthogonal:tanh", 14.4, 12.1)]).passed
    too_long = outcome("orthogonal:tanh", 12.1 * 1.6, 12.1)
    assert not judge(chaotic, [outcome("orthogonal:tanh", 14.4, 12.1), too_long]).passed
    assert not judge(chaotic, [outcome("orthogonal:tanh", 12.1 / 1.6, 12.1)]).passed
    # no finite prediction or no fit: nothing to compare, so the row fails rather than passes
    assert not judge(chaotic, [outcome("orthogonal:tanh", 12.0, math.inf)]).passed
    assert not judge(chaotic, [outcome("orthogonal:tanh", None, 12.1)]).passed
    # at the edge of chaos: no decay (xi = inf) or one slower than the depth passes, a faster one fails
    assert judge(critical, [outcome("orthogonal-critical:tanh", math.inf, 2.5e8),
                            outcome("orthogonal-critical:tanh", 45.0, 2.5e8)]).passed
    assert not judge(critical, [outcome("orthogonal-critical:tanh", 20.0, 2.5e8)]).passed
