"""The batched optimisers: each run follows torch.optim's trajectory, and a restart resets that run's state only."""

from __future__ import annotations

import math

import pytest
import torch
from support.data import random_mnist
from torch import nn

from support.training import small_config
from inittui.science.activations import get_activation
from inittui.core.commands import Restart
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.engine import Engine
from inittui.core.events import ExperimentFinished, RunsChanged, TrainProgress
from inittui.training.model import initial_weights, run_seed
from inittui.training.optim import ADAM_BETAS, ADAM_EPS, MOMENTUM, BatchedOptimizer, zero_frozen

RUNS = 3
SHAPES = [(RUNS, 5, 4), (RUNS, 5)]  # a weight and a bias, stacked over runs
KINDS = ["sgd", "momentum", "adam"]


def torch_optimizer(kind: str, params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """What the batched optimiser promises to equal, for one run."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def test_the_constants_are_torchs_defaults_as_the_readme_states():
    assert MOMENTUM == 0.9 and ADAM_BETAS == (0.9, 0.999) and ADAM_EPS == 1e-8


class Batched:
    """A BatchedOptimizer over random parameters, and per run a torch.optim copy (with torch's cosine schedule
    where asked) to compare against."""

    def __init__(self, kind: str, lr: float, schedule: str = "constant", total_steps: int = 0, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.kind, self.lr, self.schedule, self.total_steps = kind, lr, schedule, total_steps
        self.params = [torch.randn(shape, generator=self.generator) for shape in SHAPES]
        self.optimizer = BatchedOptimizer(kind, lr, schedule, total_steps, self.params)
        self.alone = [self._alone(run) for run in range(RUNS)]

    def _alone(self, run: int) -> tuple[list[torch.Tensor], torch.optim.Optimizer, object]:
        params = [p[run].clone().requires_grad_() for p in self.params]
        optimizer = torch_optimizer(self.kind, params, self.lr)
        schedule = (
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.total_steps)
            if self.schedule == "cosine"
            else None
        )
        return params, optimizer, schedule

    def step(self, active: list[float] | None = None) -> None:
        """The same random gradients to both; torch.optim steps only the active runs. An inactive run's
        gradient is NaN, as a diverged run's would be; the update is guarded only while some run is inactive,
        as the engine does."""
        active = active or [1.0] * RUNS
        grads = [torch.randn(p.shape, generator=self.generator) for p in self.params]
        given = [grad.clone() for grad in grads]
        for grad in given:
            grad[torch.tensor(active) == 0] = math.nan
        self.optimizer.step(self.params, given, torch.tensor(active), guard=0.0 in active)
        for run, (params, optimizer, schedule) in enumerate(self.alone):
            if active[run]:
                for param, grad in zip(params, grads):
                    param.grad = grad[run].clone()
                optimizer.step()
                if schedule is not None:
                    schedule.step()

    def assert_each_run_equals_torch(self) -> None:
        for run, (params, _, _) in enumerate(self.alone):
            for stacked, alone in zip(self.params, params):
                torch.testing.assert_close(stacked[run], alone.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_every_run_follows_torch_optim(kind):
    batched = Batched(kind, 0.05)
    start = [p.clone() for p in batched.params]
    for _ in range(25):
        batched.step()
    batched.assert_each_run_equals_torch()
    assert batched.optimizer.steps.tolist() == [25.0] * RUNS
    assert all((now - then).abs().amin(dim=tuple(range(1, now.dim()))).gt(0).all() for now, then in zip(batched.params, start))


@pytest.mark.parametrize("kind", KINDS)
def test_inactive_runs_stand_still_and_their_state_stays_finite(kind):
    """A frozen run (diverged, or done while another still trains) does not move, nor count steps; a
    non-finite gradient of its own does not reach any state. (Its moments may decay: a run becomes active
    again only through a restart, which resets them.)"""
    batched = Batched(kind, 0.05)
    for _ in range(5):
        batched.step()
    before = [p[1].clone() for p in batched.params]
    moments = [t[1].clone() for t in batched.optimizer.first + batched.optimizer.second]
    for _ in range(4):
        batched.step([1.0, 0.0, 1.0])
    for param, want in zip(batched.params, before):
        assert torch.equal(param[1], want)
    assert batched.optimizer.steps.tolist() == [9.0, 5.0, 9.0]
    assert all(torch.isfinite(t).all() for t in batched.optimizer.state_tensors())
    # no gradient reaches it: its moments can only shrink
    for frozen, moment in zip(moments, batched.optimizer.first + batched.optimizer.second):
        assert (moment[1].abs() <= frozen.abs()).all()
    batched.assert_each_run_equals_torch()  # the active runs went on as torch.optim would


@pytest.mark.parametrize("kind", KINDS)
def test_resetting_a_run_resets_its_steps_and_moments_only(kind):
    batched = Batched(kind, 0.05)
    for _ in range(10):
        batched.step()
    others_state = [(t[0].clone(), t[2].clone()) for t in batched.optimizer.state_tensors()]
    batched.optimizer.reset_runs(torch.tensor([1]))
    assert batched.optimizer.steps.tolist() == [10.0, 0.0, 10.0]
    for tensor, (first, third) in zip(batched.optimizer.state_tensors(), others_state):
        assert torch.equal(tensor[1], torch.zeros_like(tensor[1]))
        assert torch.equal(tensor[0], first) and torch.equal(tensor[2], third)
    # from here run 1 follows a fresh torch.optim from where its weights stand; the others go on as before
    batched.alone[1] = batched._alone(1)
    for _ in range(10):
        batched.step()
    batched.assert_each_run_equals_torch()
    assert batched.optimizer.steps.tolist() == [20.0, 10.0, 20.0]


def test_state_tensors_are_the_step_count_then_each_moment():
    params = [torch.zeros(SHAPES[0]), torch.zeros(SHAPES[1])]
    assert len(BatchedOptimizer("sgd", 0.1, "constant", 0, params).state_tensors()) == 1
    assert len(BatchedOptimizer("momentum", 0.1, "constant", 0, params).state_tensors()) == 3
    adam = BatchedOptimizer("adam", 0.1, "constant", 0, params)
    assert [tuple(t.shape) for t in adam.state_tensors()] == [(RUNS,), *SHAPES, *SHAPES]
    replaced = [torch.full_like(t, float(i)) for i, t in enumerate(adam.state_tensors())]
    adam.set_state_tensors(replaced)
    assert adam.steps is replaced[0] and adam.first == replaced[1:3] and adam.second == replaced[3:5]
    assert all(a is b for a, b in zip(adam.state_tensors(), replaced))


@pytest.mark.parametrize("kind", KINDS)
def test_the_state_lives_on_the_parameters_device(kind):
    # "meta" exists on every machine: a state made on the CPU regardless of the parameters would show here
    params = [torch.zeros(shape, device="meta") for shape in SHAPES]
    assert all(t.device.type == "meta" for t in BatchedOptimizer(kind, 0.1, "constant", 0, params).state_tensors())


@pytest.mark.parametrize("kind", KINDS)
def test_cosine_follows_torchs_cosine_annealing_and_stops_at_its_end(kind):
    batched = Batched(kind, 0.2, "cosine", total_steps=30)
    for _ in range(30):
        batched.step()
    batched.assert_each_run_equals_torch()
    # past the end the rate stays at zero (torch's schedule would rise again: it is periodic)
    ended = [p.clone() for p in batched.params]
    for _ in range(5):
        batched.step()
        assert all(torch.equal(now, then) for now, then in zip(batched.params, ended))


@pytest.mark.parametrize("kind", KINDS)
def test_a_reset_run_starts_its_cosine_schedule_again(kind):
    batched = Batched(kind, 0.2, "cosine", total_steps=20)
    for _ in range(12):
        batched.step()
    batched.optimizer.reset_runs(torch.tensor([1]))
    batched.alone[1] = batched._alone(1)
    for _ in range(8):
        batched.step()
    batched.assert_each_run_equals_torch()


def test_no_total_steps_ends_the_schedule_after_one_full_rate_step_rather_than_dividing_by_zero():
    params = [torch.zeros(SHAPES[0])]
    optimizer = BatchedOptimizer("sgd", 0.1, "cosine", 0, params)
    ones = [torch.ones(SHAPES[0])]
    optimizer.step(params, ones, torch.ones(RUNS), guard=False)
    assert torch.equal(params[0], torch.full(SHAPES[0], -0.1))
    optimizer.step(params, ones, torch.ones(RUNS), guard=False)
    assert torch.equal(params[0], torch.full(SHAPES[0], -0.1))


# ------------------------------------------------------------------------------------------ in the engine

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("glorot", "sigmoid")]


def train(config: ExperimentConfig, data, restart_at: int | None = None) -> tuple[Engine, int | None]:
    """Train to the end; restart run 1 after step ``restart_at``. Returns the engine and the restart's step."""
    restarted: list[int] = []

    def emit(event):
        if isinstance(event, TrainProgress) and restart_at is not None and event.step >= restart_at and not restarted:
            restarted.append(-1)
            engine.send(Restart(1))
        elif isinstance(event, RunsChanged) and event.reason == "restart":
            restarted[0] = event.step
        elif isinstance(event, ExperimentFinished):
            assert event.status == "done", event.message

    engine = Engine(config, data, emit)
    engine.run()
    return engine, (restarted[0] if restarted else None)


def train_alone(spec: RunSpec, config: ExperimentConfig, data, generation: int, first_step: int) -> list[torch.Tensor]:
    """One run trained the plain torch.optim way from its weights of ``generation``, on the experiment's
    batches from ``first_step`` on, for the experiment's number of steps."""
    weights, biases = initial_weights(spec, config.layer_sizes, run_seed(config.seed, spec, generation), None)
    params = [t.clone().requires_grad_() for t in weights + biases]
    layers = len(weights)
    total = config.total_steps(len(data.train_labels))
    optimizer = torch_optimizer(config.optimizer, params, config.lr)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total) if config.lr_schedule == "cosine" else None
    )
    activation = get_activation(spec.activation).function
    generator = torch.Generator().manual_seed(config.seed)
    per_epoch = config.steps_per_epoch(len(data.train_labels))
    orders = []
    for step in range(first_step + total):
        if step % per_epoch == 0:
            orders.append(torch.randperm(len(data.train_labels), generator=generator))
        if step < first_step:
            continue
        index = orders[step // per_epoch][(step % per_epoch) * config.batch_size :][: config.batch_size]
        hidden = data.train_images[index]
        for number in range(layers):
            hidden = hidden @ params[number].T + params[layers + number]
            if number < layers - 1:
                hidden = activation(hidden)
        loss = nn.functional.cross_entropy(hidden, data.train_labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
    return [p.detach() for p in params[:layers]]


@pytest.mark.parametrize(
    "optimizer,lr,schedule", [("adam", 3e-3, "cosine"), ("momentum", 0.02, "constant")], ids=["adam", "momentum"]
)
def test_restarting_one_run_resets_its_optimiser_state_and_schedule_only(optimizer, lr, schedule):
    data = random_mnist()
    config = small_config(SPECS, optimizer=optimizer, lr=lr, lr_schedule=schedule)
    baseline, _ = train(config, data)
    restarted, restart_step = train(config, data, restart_at=20)
    assert restart_step is not None and restart_step >= 20
    # the others: exactly as without the restart
    for run_id in (0, 2):
        for got, want in zip(restarted.run_weights(run_id)[0], baseline.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want)
    # the restarted run: fresh weights (generation 1), fresh moments, step count and schedule, as if it
    # had started alone at the restart
    expected = train_alone(SPECS[1], config, data, generation=1, first_step=restart_step)
    for got, want in zip(restarted.run_weights(1)[0], expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert [run.step for run in restarted.runs] == [40, 40, 40]


@pytest.mark.parametrize("by_position", [True, False])
def test_zeroing_frozen_runs_touches_their_slices_only(by_position):
    grads = [torch.randn(4, 3, 2), torch.randn(4, 3)]
    grads[0][1] = math.nan
    want = [grad.clone() for grad in grads]
    zero_frozen(grads, torch.tensor([1.0, 0.0, 1.0, 0.0]), by_position)
    for grad, given in zip(grads, want):
        assert torch.equal(grad[[0, 2]], given[[0, 2]])
        assert torch.equal(grad[[1, 3]], torch.zeros_like(given[[1, 3]]))
