"""Which training examples each step sees: a fresh permutation per epoch, or the book's independent random batches."""

from __future__ import annotations

import pytest
import torch
from support.data import random_mnist

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.engine import Engine
from inittui.core.presets import get_preset

TRAIN = 512


def batches_seen(config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The training-set indices of every step's batch, in order, for ``config`` (one seed) trained on random data."""
    seen: list[list[int]] = []
    draw = Engine._batch_indices

    def recording(engine: Engine) -> torch.Tensor:
        indices = draw(engine)
        (batch,) = indices.tolist()  # [groups, batch]: one seed, one group
        seen.append(batch)
        return indices

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "_batch_indices", recording)
        finished = Engine(config, random_mnist(train=TRAIN, test=64), lambda event: None).run()
    assert finished.status == "done", finished.message
    assert len(seen) == config.total_steps(TRAIN)
    return seen


def book(**overrides) -> ExperimentConfig:
    """The book preset on a small network (the sampling does not depend on it): 4 steps of 128 per epoch."""
    values = dict(width=8, steps=12, device="cpu", stats_every=1000)
    values.update(overrides)
    return get_preset("book").config(**values)


def test_the_book_preset_draws_independent_random_batches_with_replacement(monkeypatch):
    config = book()
    assert config.sampling == "random" and config.batch_size == 128
    batches = batches_seen(config, monkeypatch)
    assert all(len(batch) == 128 and all(0 <= i < TRAIN for i in batch) for batch in batches)
    drawn = [i for batch in batches for i in batch]
    # with replacement: one epoch's worth of draws (512) covers about 1 - 1/e of the 512 examples,
    # where a permutation would cover all of them once
    first_epoch = set(drawn[:TRAIN])
    assert 0.55 * TRAIN < len(first_epoch) < 0.72 * TRAIN
    # across steps and epochs: examples recur in later batches, and every batch is new
    assert len(set(drawn)) < len(drawn)
    assert len({tuple(batch) for batch in batches}) == len(batches)
    # over three epochs' worth of draws nearly every example has been seen (1 - e^-3 ≈ 95 %)
    assert len(set(drawn)) > 0.9 * TRAIN


def test_random_batches_follow_the_seed(monkeypatch):
    first = batches_seen(book(seed=3), monkeypatch)
    again = batches_seen(book(seed=3), monkeypatch)
    other = batches_seen(book(seed=4), monkeypatch)
    assert first == again
    assert first != other


def test_epoch_sampling_visits_every_example_once_per_epoch_in_a_fresh_order(monkeypatch):
    config = ExperimentConfig(runs=[RunSpec("he", "relu")], depth=1, width=8, batch_size=128, epochs=None, steps=12,
                              stats_every=1000, device="cpu")
    assert config.sampling == "epoch"
    batches = batches_seen(config, monkeypatch)
    epochs = [sum(batches[start : start + 4], []) for start in range(0, 12, 4)]
    assert all(sorted(epoch) == list(range(TRAIN)) for epoch in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
