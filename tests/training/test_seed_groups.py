"""Seed groups: every run replicated once per seed, the replicas trained together in one batched computation.

The heart of it: run r with seed s in a group trains exactly as run r in an experiment of its own with seed s,
to the last bit: the same initial weights, the same batches, the same loss at every step, the same weights and
test accuracy at the end; and so does a group changed by one command (a new initialiser, a restart), each seed
as its experiment alone changed at the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from inittui.core.commands import Command, RemoveRun, Restart, SetRun
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import Evaluation, Event, ExperimentStarted, Notice, RunsChanged, TrainProgress
from inittui.training.data import MNISTData
from inittui.training.engine import Engine
from inittui.training.model import initial_weights, run_seed

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


# ---------------------------------------------------------------------------------------------- a group changed
CHANGED_AT = 10


def train_changed_at(config: ExperimentConfig, data: MNISTData, command: Command,
                     monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, list[Event]]:
    """Train to the end, ``command`` sent just before the step CHANGED_AT (at that step exactly, whatever the
    machine's speed)."""
    events: list[Event] = []
    engine = Engine(config, data, events.append)
    apply = engine.control.apply_commands
    sent: list[Command] = []

    def applying() -> None:
        if engine.step == CHANGED_AT and not sent:
            sent.append(command)
            engine.send(command)
        apply()

    monkeypatch.setattr(engine.control, "apply_commands", applying)
    finished = engine.run()
    assert finished.status == "done", finished.message
    return engine, events


def answers(events: list[Event]) -> list[Event]:
    """The events that answer request 1."""
    return [event for event in events if isinstance(event, (RunsChanged, Notice)) and event.request == 1]


def losses_by_run(events: list[Event]) -> dict[int, list[float | None]]:
    losses: dict[int, list[float | None]] = {}
    for event in events:
        if isinstance(event, TrainProgress):
            for run_id, run_losses in zip(event.run_ids, event.losses):
                losses.setdefault(run_id, []).extend(run_losses)
    return losses


def switch(run_ids: tuple[int, ...]) -> Command:
    return SetRun(run_ids[0], init="orthogonal", activation="tanh", request=1, with_runs=run_ids[1:])


def restart(run_ids: tuple[int, ...]) -> Command:
    return Restart(run_ids[0], request=1, with_runs=run_ids[1:])


@pytest.mark.parametrize("command", [switch, restart])
def test_a_group_changed_in_one_command_trains_each_seed_as_the_seed_alone_changed_at_the_same_step(
        command, tiny_data, monkeypatch):
    specs = [RunSpec("he", "relu"), RunSpec("xavier", "tanh")]
    config = experiment("momentum", runs=specs, seeds=SEEDS, steps=40)
    group, group_events = train_changed_at(config, tiny_data, command((0, 1, 2)), monkeypatch)
    # one answer: every seed of he:relu started again between the same two steps
    (changed,) = answers(group_events)
    assert isinstance(changed, RunsChanged) and changed.step == CHANGED_AT
    assert [(run.id, run.step) for run in changed.runs[:3]] == [(0, 0), (1, 0), (2, 0)]
    group_losses = losses_by_run(group_events)
    for place, seed in enumerate(SEEDS):
        alone, alone_events = train_changed_at(experiment("momentum", runs=specs, seed=seed, steps=40), tiny_data,
                                               command((0,)), monkeypatch)
        alone_losses = losses_by_run(alone_events)
        for index in range(len(specs)):
            replica = index * len(SEEDS) + place
            assert group.runs[replica].seed == seed and group.runs[replica].spec == alone.runs[index].spec
            assert group_losses[replica] == alone_losses[index], f"run {replica} (seed {seed}): losses"
            assert identical(list(sum(group.run_weights(replica), [])), list(sum(alone.run_weights(index), [])))
        # the changed seed drew its weights from its own seed and trained a whole life from them
        run = group.runs[place]
        assert (run.status, run.step) == ("done", 40)
        start, _ = initial_weights(run.spec, config.layer_sizes, run_seed(seed, run.spec, run.draw), None)
        assert all((now - then).abs().max() > 1e-4 for now, then in zip(group.run_weights(place)[0], start))
    assert [run.spec.name for run in group.runs[:3]] == [("orthogonal:tanh" if command is switch else "he:relu")] * 3


def test_a_group_is_removed_in_one_command_and_the_last_runs_are_not(tiny_data, monkeypatch):
    config = experiment("sgd", runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], seeds=[0, 1], steps=40)
    engine, events = train_changed_at(config, tiny_data, RemoveRun(0, request=1, with_runs=(1,)), monkeypatch)
    (removed,) = answers(events)
    assert isinstance(removed, RunsChanged) and [run.id for run in removed.runs] == [2, 3]
    assert [(run.id, run.seed, run.status, run.step) for run in engine.runs] == [(2, 0, "done", 40), (3, 1, "done", 40)]
    engine, events = train_changed_at(config, tiny_data, RemoveRun(0, request=1, with_runs=(1, 2, 3)), monkeypatch)
    (refused,) = answers(events)
    assert isinstance(refused, Notice) and refused.message == "the last run cannot be removed" and len(engine.runs) == 4
