"""Seed groups: every run replicated once per seed, the replicas trained together in one batched computation.

The heart of it: run r with seed s in a group trains exactly as run r in an experiment of its own with seed s,
to the last bit: the same initial weights, the same batches, the same loss at every step, the same weights and
test accuracy at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import Evaluation, Event, ExperimentStarted, TrainProgress
from inittui.training.data import MNISTData
from inittui.training.engine import Engine

# every activation, and LSUV (which scales its draw on data)
SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("normal-0.01", "sigmoid"),
         RunSpec("he", "gelu"), RunSpec("lsuv", "selu"), RunSpec("orthogonal", "leaky-relu")]
SEEDS = [0, 1, 2]
STEPS = 200


@dataclass
class Trace:
    """Everything one experiment did, run by run (by run id)."""

    initial: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    final: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    batches: list[list[list[int]]] = field(default_factory=list)  # per step, per seed group
    losses: dict[int, list[float | None]] = field(default_factory=dict)
    test_acc: dict[int, list[float]] = field(default_factory=dict)
    seeds: dict[int, int | None] = field(default_factory=dict)


def trace(config: ExperimentConfig, data: MNISTData, monkeypatch: pytest.MonkeyPatch) -> Trace:
    seen = Trace()
    draw = Engine._batch_indices

    def recording(engine: Engine) -> torch.Tensor:
        indices = draw(engine)
        seen.batches.append(indices.tolist())
        return indices

    def emit(event: Event) -> None:
        if isinstance(event, ExperimentStarted):
            for run in event.runs:
                weights, biases = engine.run_weights(run.id)
                seen.initial[run.id] = weights + biases
                seen.seeds[run.id] = run.seed
        if isinstance(event, TrainProgress):
            for run_id, losses in zip(event.run_ids, event.losses):
                seen.losses.setdefault(run_id, []).extend(losses)
        if isinstance(event, Evaluation):
            for run_id, accuracy in zip(event.run_ids, event.test_acc):
                seen.test_acc.setdefault(run_id, []).append(accuracy)

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "_batch_indices", recording)
        engine = Engine(config, data, emit)
        finished = engine.run()
    assert finished.status == "done", finished.message
    assert all(run.status == "done" and run.step == STEPS for run in finished.results)
    for run in finished.results:
        weights, biases = engine.run_weights(run.id)
        seen.final[run.id] = weights + biases
    return seen


def experiment(optimizer: str, **overrides: object) -> ExperimentConfig:
    values: dict[str, object] = dict(runs=list(SPECS), depth=2, width=16, batch_size=32, epochs=None, steps=STEPS,
                                     stats_every=10, device="cpu", optimizer=optimizer)
    values.update(overrides)
    return ExperimentConfig(**values)  # type: ignore[arg-type]


def identical(got: list[torch.Tensor], want: list[torch.Tensor]) -> bool:
    return all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_run_in_a_seed_group_trains_bit_for_bit_as_in_an_experiment_of_its_own(optimizer, tiny_data, monkeypatch):
    group = trace(experiment(optimizer, seeds=SEEDS), tiny_data, monkeypatch)
    assert len(group.final) == len(SPECS) * len(SEEDS)
    for g, seed in enumerate(SEEDS):
        alone = trace(experiment(optimizer, seed=seed), tiny_data, monkeypatch)
        # every step's batch of the seed's group is the batch the seed's own experiment draws
        assert [step[g] for step in group.batches] == [step[0] for step in alone.batches]
        for index, spec in enumerate(SPECS):
            # in the group, a run's replicas come together: he:relu seed 0, 1, 2, then the next run
            replica = index * len(SEEDS) + g
            assert group.seeds[replica] == seed and alone.seeds[index] == seed
            assert identical(group.initial[replica], alone.initial[index]), f"{spec.name} seed {seed}: initial weights"
            assert group.losses[replica] == alone.losses[index], f"{spec.name} seed {seed}: losses"
            assert group.test_acc[replica] == alone.test_acc[index], f"{spec.name} seed {seed}: test accuracy"
            assert identical(group.final[replica], alone.final[index]), f"{spec.name} seed {seed}: final weights"
            # and it trained: its weights moved
            assert not identical(alone.final[index], alone.initial[index])


def test_the_seeds_of_a_group_differ_in_weights_and_batches(tiny_data, monkeypatch):
    group = trace(experiment("sgd", seeds=[0, 1], steps=STEPS), tiny_data, monkeypatch)
    assert group.batches[0][0] != group.batches[0][1]
    assert not identical(group.initial[0], group.initial[1])
    assert group.losses[0] != group.losses[1]
