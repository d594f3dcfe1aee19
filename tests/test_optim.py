"""The batched optimisers: each run follows torch.optim's trajectory, and a restart resets that run's state only."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import random_mnist
from torch import nn

from inittui.activations import get_activation
from inittui.config import ExperimentConfig, RunSpec
from inittui.engine import Engine
from inittui.events import ExperimentFinished, RunsChanged, TrainProgress
from inittui.model import initial_weights, run_seed
from inittui.optim import ADAM_BETAS, ADAM_EPS, MOMENTUM, BatchedOptimizer, scheduled_lr

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
    """A BatchedOptimizer over random parameters, and per run a torch.optim copy to compare against."""

    def __init__(self, kind: str, lrs: list[float], seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.kind = kind
        self.lr = torch.tensor(lrs)
        self.params = [torch.randn(shape, generator=self.generator).requires_grad_() for shape in SHAPES]
        self.optimizer = BatchedOptimizer(kind, self.params, RUNS)
        self.alone = [self._alone(run) for run in range(RUNS)]

    def _alone(self, run: int) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
        params = [p[run].detach().clone().requires_grad_() for p in self.params]
        return params, torch_optimizer(self.kind, params, self.lr[run].item())

    def step(self, active: list[float] | None = None) -> None:
        """The same random gradients to both; torch.optim steps only the active runs. An inactive run's
        gradient is NaN, as a diverged run's would be."""
        active = active or [1.0] * RUNS
        grads = [torch.randn(p.shape, generator=self.generator) for p in self.params]
        for param, grad in zip(self.params, grads):
            param.grad = grad.clone()
            param.grad[torch.tensor(active) == 0] = math.nan
        self.optimizer.step(self.lr, torch.tensor(active))
        for run, (params, optimizer) in enumerate(self.alone):
            if active[run]:
                for param, grad in zip(params, grads):
                    param.grad = grad[run].clone()
                optimizer.step()

    def assert_each_run_equals_torch(self) -> None:
        for run, (params, _) in enumerate(self.alone):
            for stacked, alone in zip(self.params, params):
                torch.testing.assert_close(stacked[run], alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_every_run_follows_torch_optim_with_its_own_learning_rate(kind):
    batched = Batched(kind, [0.1, 0.01, 0.003])
    for _ in range(25):
        batched.step()
    batched.assert_each_run_equals_torch()
    assert batched.optimizer.steps.tolist() == [25.0] * RUNS


@pytest.mark.parametrize("kind", KINDS)
def test_inactive_runs_stand_still_and_their_state_stays_finite(kind):
    """A frozen run (diverged, or done while another still trains) does not move, nor count steps; a
    non-finite gradient of its own does not reach any state. (Its moments may decay: a run becomes active
    again only through a restart, which resets them.)"""
    batched = Batched(kind, [0.05, 0.05, 0.05])
    for _ in range(5):
        batched.step()
    before = [p[1].detach().clone() for p in batched.params]
    for _ in range(4):
        batched.step([1.0, 0.0, 1.0])
    for param, want in zip(batched.params, before):
        assert torch.equal(param[1].detach(), want)
    assert batched.optimizer.steps.tolist() == [9.0, 5.0, 9.0]
    assert all(torch.isfinite(t).all() for t in batched.optimizer.state_tensors())
    batched.assert_each_run_equals_torch()  # the active runs went on as torch.optim would


@pytest.mark.parametrize("kind", KINDS)
def test_resetting_a_run_resets_its_steps_and_moments_only(kind):
    batched = Batched(kind, [0.05, 0.02, 0.01])
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
    assert len(BatchedOptimizer("sgd", params, RUNS).state_tensors()) == 1
    assert len(BatchedOptimizer("momentum", params, RUNS).state_tensors()) == 3
    adam = BatchedOptimizer("adam", params, RUNS)
    assert [tuple(t.shape) for t in adam.state_tensors()] == [(RUNS,), *SHAPES, *SHAPES]
    replaced = [torch.full_like(t, float(i)) for i, t in enumerate(adam.state_tensors())]
    adam.set_state_tensors(replaced)
    assert adam.steps is replaced[0] and adam.first == replaced[1:3] and adam.second == replaced[3:5]
    assert all(a is b for a, b in zip(adam.state_tensors(), replaced))


@pytest.mark.parametrize("kind", KINDS)
def test_the_state_lives_on_the_parameters_device(kind):
    # "meta" exists on every machine: a state made on the CPU regardless of the parameters would show here
    params = [torch.zeros(shape, device="meta") for shape in SHAPES]
    assert all(t.device.type == "meta" for t in BatchedOptimizer(kind, params, RUNS).state_tensors())


def test_constant_and_cosine_schedules():
    steps = torch.tensor([0.0, 10.0, 50.0, 100.0, 150.0])
    assert scheduled_lr(0.1, "constant", steps, 100).tolist() == pytest.approx([0.1] * 5)
    cosine = scheduled_lr(0.1, "cosine", steps, 100)
    want = [0.1 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100)) for s in steps.tolist()]
    torch.testing.assert_close(cosine, torch.tensor(want))
    assert cosine[-1].item() == pytest.approx(0.0, abs=1e-12)  # past the end it stays at zero
    # no total (zero steps) divides by one rather than by zero
    assert torch.isfinite(scheduled_lr(0.1, "cosine", torch.tensor([0.0, 1.0]), 0)).all()
    assert scheduled_lr(0.1, "cosine", torch.tensor([0.0, 1.0]), 0).tolist() == pytest.approx([0.1, 0.0], abs=1e-7)


def test_cosine_follows_torchs_cosine_annealing():
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30)
    for step in range(30):
        assert scheduled_lr(0.2, "cosine", torch.tensor([float(step)]), 30).item() == pytest.approx(
            optimizer.param_groups[0]["lr"], rel=1e-5, abs=1e-9
        )
        optimizer.step()
        schedule.step()


# ------------------------------------------------------------------------------------------ in the engine

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("glorot", "sigmoid")]


def small_config(**overrides) -> ExperimentConfig:
    values = dict(runs=list(SPECS), depth=2, width=16, batch_size=32, epochs=None, steps=40, stats_every=10)
    values.update(overrides)
    return ExperimentConfig(**values)


def train(config: ExperimentConfig, data, restart_at: int | None = None) -> tuple[Engine, int | None]:
    """Train to the end; restart run 1 after step ``restart_at``. Returns the engine and the restart's step."""
    restarted: list[int] = []

    def emit(event):
        if isinstance(event, TrainProgress) and restart_at is not None and event.step >= restart_at and not restarted:
            restarted.append(-1)
            engine.restart_run(1)
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
    config = small_config(optimizer=optimizer, lr=lr, lr_schedule=schedule)
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
