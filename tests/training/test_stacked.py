"""The stacked runs: grouped by activation on the device, checked graph capture, masking only when needed.

CUDA graphs themselves need a GPU (tests marked ``cuda``); here the capture machinery is replaced by fakes,
so that what the engine does with a graph (trust it only after a check, fall back otherwise) is tested on
every machine.
"""

from __future__ import annotations

import pytest
import torch
from support.data import random_mnist

from inittui.training import devices
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.model import stack_order
from inittui.training.optim import BatchedOptimizer
from inittui.core.events import RunRecord
from inittui.training.stacked import GraphCaptureFailed, StackedRuns

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("orthogonal", "relu"), RunSpec("glorot", "sigmoid")]


def make_stack(specs=SPECS, device="cpu", optimizer="sgd") -> StackedRuns:
    config = ExperimentConfig(runs=list(specs), depth=2, width=16, batch_size=32, optimizer=optimizer, lr=0.05)
    data = random_mnist(train=64, test=32)
    draws = [RunRecord(i, spec) for i, spec in enumerate(specs)]
    return StackedRuns(config, draws, torch.device(device), data.train_images[:32], total_steps=100, buffer_steps=8)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = random_mnist(train=32, test=1, seed=seed)
    return data.train_images, data.train_labels


def snapshot(stack: StackedRuns) -> list[torch.Tensor]:
    return [t.detach().clone() for t in [*stack.parameters, *stack.optimizer.state_tensors(), stack.active, stack.losses]]


def test_runs_are_grouped_by_activation_and_named_by_id():
    stack = make_stack()
    # sigmoid, tanh, relu, relu: ACTIVATION_NAMES order, each activation's runs in their own order
    assert stack.ids == [3, 1, 0, 2]
    assert [(a.name, n) for a, n in stack.activations.slices] == [("sigmoid", 1), ("tanh", 1), ("relu", 2)]
    assert stack_order(["relu", "tanh", "relu"]) == [1, 0, 2]
    weights, _ = stack.run_weights(1)
    assert torch.equal(weights[0], stack.weights[0][1].detach())


def test_each_run_computes_with_its_own_activation():
    stack = make_stack()
    x, _ = batch()
    logits = stack.forward(x)
    for run_id, spec in enumerate(SPECS):
        weights, biases = stack.run_weights(run_id)
        function = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[spec.activation]
        hidden = x
        for number, (weight, bias) in enumerate(zip(weights, biases)):
            hidden = hidden @ weight.T + bias
            if number < len(weights) - 1:
                hidden = function(hidden)
        torch.testing.assert_close(logits[stack.position(run_id)].detach(), hidden, rtol=1e-5, atol=1e-5)


def test_evaluation_in_chunks_is_each_runs_accuracy_and_mean_loss_on_every_sample():
    stack = make_stack()
    data = random_mnist(train=1, test=32, seed=3)
    # chunks of 7: four full ones and a ragged end of 4
    accuracy, loss = stack.evaluate(data.test_images, data.test_labels, chunk=7)
    logits = stack.forward(data.test_images).detach()
    for run_id in range(len(SPECS)):
        run_logits = logits[stack.position(run_id)]
        want_accuracy = (run_logits.argmax(dim=1) == data.test_labels).float().mean()
        want_loss = torch.nn.functional.cross_entropy(run_logits, data.test_labels)
        torch.testing.assert_close(accuracy[stack.position(run_id)], want_accuracy)
        torch.testing.assert_close(loss[stack.position(run_id)], want_loss, rtol=1e-5, atol=1e-6)
    assert 0 < loss.min() and accuracy.max() <= 1


def test_changing_an_activation_moves_the_run_and_keeps_every_other_runs_state():
    stack = make_stack(optimizer="momentum")
    x, y = batch()
    stack.train_step(x, y)
    before = {run_id: stack.run_weights(run_id) for run_id in range(4)}
    momentum_before = {run_id: stack.optimizer.first[0][stack.position(run_id)].clone() for run_id in range(4)}
    stack.reinitialise([RunRecord(1, RunSpec("xavier", "selu"))])
    assert stack.ids == [3, 0, 2, 1]
    for run_id in (0, 2, 3):
        for got, want in zip(stack.run_weights(run_id)[0], before[run_id][0]):
            assert torch.equal(got, want)
        assert torch.equal(stack.optimizer.first[0][stack.position(run_id)], momentum_before[run_id])
    assert stack.optimizer.first[0][stack.position(1)].abs().sum() == 0
    assert stack.optimizer.steps[stack.position(1)] == 0


def test_add_and_remove_keep_the_other_runs():
    stack = make_stack()
    before = {run_id: stack.run_weights(run_id)[0][0] for run_id in range(4)}
    stack.add(RunRecord(7, RunSpec("he", "tanh")))
    stack.remove(0)
    assert sorted(stack.ids) == [1, 2, 3, 7]
    for run_id in (1, 2, 3):
        assert torch.equal(stack.run_weights(run_id)[0][0], before[run_id])
    # the new run's weights are its own draw, whatever it joined
    alone = make_stack([RunSpec("he", "tanh")])
    alone_weights = alone._fresh(RunRecord(7, RunSpec("he", "tanh")))[0][0]
    assert torch.equal(stack.run_weights(7)[0][0], alone_weights)


def test_the_frozen_run_mask_is_paid_only_while_some_run_is_frozen(monkeypatch):
    guards = []
    step = BatchedOptimizer.step
    monkeypatch.setattr(BatchedOptimizer, "step", lambda self, *a: guards.append(a[-1]) or step(self, *a))
    stack = make_stack()
    x, y = batch()
    for _ in range(3):
        stack.train_step(x, y)
    assert guards == [False, False, False]
    stack.deactivate([2])
    frozen_before = stack.run_weights(2)[0]
    stack.train_step(x, y)
    assert guards[-1] is True
    assert all(torch.equal(a, b) for a, b in zip(stack.run_weights(2)[0], frozen_before))
    assert torch.isnan(stack.losses[3, stack.position(2)]) and not torch.isnan(stack.losses[3, stack.position(0)])
    # a restart brings every run back: no more masking
    stack.reinitialise([RunRecord(2, SPECS[2], draw=1)])
    stack.train_step(x, y)
    assert guards[-1] is False


def test_a_run_whose_loss_is_not_finite_is_frozen_in_the_same_step():
    stack = make_stack()
    x, y = batch()
    with torch.no_grad():
        stack.weights[0][stack.position(1)].fill_(float("inf"))
    untouched = [w.clone() for w in stack.run_weights(0)[0]]
    stack.train_step(x, y)
    assert stack.active.tolist()[stack.position(1)] == 0
    assert all(torch.isfinite(w).all() for w in stack.run_weights(1)[0][1:])
    assert not all(torch.equal(a, b) for a, b in zip(stack.run_weights(0)[0], untouched))


def _fake_capture(replay_wrong: bool = False, raise_on_capture: bool = False):
    """A stand-in for CUDA graph capture on the CPU: the 'graph' reruns the function eagerly."""
    captures = []

    def capture_graph(function):
        if raise_on_capture:
            raise RuntimeError("operation not permitted when stream is capturing")
        captures.append(function)
        if replay_wrong:
            return lambda: None  # a graph that forgot its work
        return function

    return capture_graph, captures


def test_capture_trains_exactly_one_step_and_replays_it(monkeypatch):
    capture_graph, captures = _fake_capture()
    monkeypatch.setattr(devices, "capture_graph", capture_graph)
    monkeypatch.setattr(devices, "run_on_side_stream", lambda function: function())
    graphed, eager = make_stack(), make_stack()
    x, y = batch()
    for number in range(3):
        graphed.graph_step(x, y)
        eager.train_step(x, y)
        for got, want in zip(snapshot(graphed), snapshot(eager)):
            torch.testing.assert_close(got, want, equal_nan=True)
    assert len(captures) == 1
    assert graphed.slot.item() == 3
    # any change to the run set drops the graph: the next step captures again
    graphed.reinitialise([RunRecord(0, SPECS[0], draw=1)])
    graphed.graph_step(x, y)
    assert len(captures) == 2


@pytest.mark.parametrize("fault", ["wrong replay", "capture raises"])
def test_a_graph_that_fails_its_check_leaves_the_eager_step(monkeypatch, fault):
    capture_graph, _ = _fake_capture(replay_wrong=fault == "wrong replay", raise_on_capture=fault == "capture raises")
    monkeypatch.setattr(devices, "capture_graph", capture_graph)
    monkeypatch.setattr(devices, "run_on_side_stream", lambda function: function())
    graphed, eager = make_stack(), make_stack()
    x, y = batch()
    with pytest.raises(GraphCaptureFailed, match="replay gave other weights" if fault == "wrong replay" else "capture failed"):
        graphed.graph_step(x, y)
    eager.train_step(x, y)
    for got, want in zip(snapshot(graphed), snapshot(eager)):
        torch.testing.assert_close(got, want, equal_nan=True)
    assert graphed.slot.item() == 1


@pytest.mark.cuda
def test_a_cuda_graph_replays_the_eager_step():
    graphed, eager = make_stack(device="cuda"), make_stack(device="cuda")
    x, y = (t.cuda() for t in batch())
    for _ in range(5):
        graphed.graph_step(x, y)
        eager.train_step(x, y)
    for got, want in zip(snapshot(graphed), snapshot(eager)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)
