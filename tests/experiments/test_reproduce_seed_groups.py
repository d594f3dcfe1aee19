"""``inittui reproduce`` trains each preset's seeds as one seed group: on the CPU the claims keep the numbers
that one experiment per seed gave, to the last digit, because a seed group trains every seed bit for bit as
that seed alone."""

from __future__ import annotations

import pytest
import torch

from inittui.core.presets import PRESETS
from inittui.experiments import reproduce
from inittui.experiments.reproduce import TrainOutcome, criteria_for, format_markdown, judge
from inittui.training.data import load_mnist
from support.idx import write_mnist_files

SEEDS = [0, 1, 2]
# a few steps of the presets whose claims look at test accuracy, losses and trained hidden weights
SHORT = {"book": {"steps": 12, "batch_size": 32}, "symmetry": {"steps": 12, "batch_size": 32}}


def _tiny_mnist(data_dir: str):
    return load_mnist(data_dir, download=False, expected_counts=None)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    return str(write_mnist_files(tmp_path_factory.mktemp("mnist"), train_count=256, test_count=64))


def _per_seed_experiments(preset: str, data_dir: str, log_dir) -> list[TrainOutcome]:
    """The path reproduce took before seed groups: one experiment of its own per seed."""
    data = _tiny_mnist(data_dir)
    outcomes = []
    for seed in SEEDS:
        config = PRESETS[preset].config(**SHORT[preset], seed=seed, device="cpu")
        (outcome,) = reproduce.train_preset(config, data, log_dir, f"{preset} seed {seed}")
        outcomes.append(outcome)
    return outcomes


def _assert_same_numbers(grouped: TrainOutcome, alone: TrainOutcome) -> None:
    assert grouped.seed == alone.seed
    assert grouped.status == alone.status == "done"
    assert grouped.losses == alone.losses  # exact floats, every step
    assert grouped.test_acc == alone.test_acc
    assert grouped.epoch_test_acc == alone.epoch_test_acc
    assert grouped.statuses == alone.statuses
    assert grouped.hidden_weights.keys() == alone.hidden_weights.keys()
    for name, weights in grouped.hidden_weights.items():
        assert all(torch.equal(a, b) for a, b in zip(weights, alone.hidden_weights[name], strict=True)), name


@pytest.mark.parametrize("preset", sorted(SHORT))
def test_a_seed_group_reproduce_gives_every_seeds_numbers_of_one_experiment_per_seed(
    preset, data_dir, monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(reproduce, "load_mnist", _tiny_mnist)
    trained: list[list[int]] = []
    train = reproduce.train_preset

    def counted(config, *args, **kwargs):
        trained.append(config.run_seeds)
        return train(config, *args, **kwargs)

    monkeypatch.setattr(reproduce, "train_preset", counted)
    reproduce.run_reproduce([preset], SEEDS, device="cpu", data_dir=data_dir, log_dir=tmp_path,
                            overrides={preset: SHORT[preset]})
    out = capsys.readouterr().out
    assert trained == [SEEDS]  # one batched experiment for the three seeds

    alone = _per_seed_experiments(preset, data_dir, tmp_path / "alone")
    # every claim's row, as one experiment per seed gives it, is in reproduce's table to the last digit
    for criterion in criteria_for(preset):
        row = format_markdown([judge(criterion, alone)], SEEDS).splitlines()[2]
        assert row in out.splitlines(), row

    grouped_config = PRESETS[preset].config(**SHORT[preset], **reproduce.seed_group(SEEDS), device="cpu")
    grouped = train(grouped_config, _tiny_mnist(data_dir), tmp_path / "grouped", preset)
    assert [outcome.seed for outcome in grouped] == SEEDS
    for grouped_outcome, alone_outcome in zip(grouped, alone, strict=True):
        _assert_same_numbers(grouped_outcome, alone_outcome)


def test_one_seed_is_an_experiment_of_its_own_and_a_group_is_labelled_by_its_seeds():
    assert reproduce.seed_group([3]) == {"seed": 3, "seeds": []}
    assert reproduce.seed_group([0, 1, 2]) == {"seed": 0, "seeds": [0, 1, 2]}
    assert reproduce.seeds_label("book", [3]) == "book seed 3"
    assert reproduce.seeds_label("book", [0, 1, 2]) == "book seeds 0, 1, 2"
