"""The engine: batched training equals training each run alone; control commands touch only their run."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from support.data import random_mnist
from torch import nn

from support.training import small_config, train
from inittui.core.commands import AddRun, Pause, RemoveRun, Restart, Resume, SetDevice, SetRun
from inittui.core.errors import ConfigError
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.engine import Engine, resolve_device
from inittui.core.events import Evaluation, JacobianSpectra, LayerStats, RunsChanged, TrainProgress
from inittui.training import measurements as measurements_module
from inittui.science.activations import get_activation
from inittui.science.spectrum import jacobian_spectra
from inittui.training.model import ActivationSlices, ForwardRecord, forward, initial_weights, run_seed

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("lsuv", "gelu")]


def assert_moved(engine: Engine, run_id: int, spec: RunSpec, config: ExperimentConfig, data, least: float) -> None:
    """Every layer of the run has moved by more than ``least`` from its initial weights (generation 0)."""
    seed = run_seed(config.seed, spec, 0)
    initial, _ = initial_weights(spec, config.layer_sizes, seed, data.train_images[: config.batch_size])
    for layer, (now, then) in enumerate(zip(engine.run_weights(run_id)[0], initial)):
        assert (now - then).abs().max() > least, f"layer {layer + 1} of {spec.name} did not train"


def reference_training(spec: RunSpec, config: ExperimentConfig, data) -> list[torch.Tensor]:
    """The same run trained alone the plain PyTorch way: nn.Linear layers, torch.optim, same batches."""
    from inittui.science.activations import get_activation

    sizes = config.layer_sizes
    weights, biases = initial_weights(spec, sizes, run_seed(config.seed, spec, 0), data.train_images[: config.batch_size])
    layers = []
    for weight, bias in zip(weights, biases):
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        layers.append(linear)
    activation = get_activation(spec.activation).function
    params = [p for layer in layers for p in layer.parameters()]
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=config.lr)
    elif config.optimizer == "momentum":
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.total_steps(len(data.train_labels)))
        if config.lr_schedule == "cosine"
        else None
    )
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = config.steps_per_epoch(len(data.train_labels))
    for step in range(config.total_steps(len(data.train_labels))):
        if step % steps_per_epoch == 0:
            order = torch.randperm(len(data.train_labels), generator=generator)
        index = order[(step % steps_per_epoch) * config.batch_size :][: config.batch_size]
        hidden = data.train_images[index]
        for number, layer in enumerate(layers):
            hidden = layer(hidden)
            if number < len(layers) - 1:
                hidden = activation(hidden)
        loss = nn.functional.cross_entropy(hidden, data.train_labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
    return [layer.weight.detach() for layer in layers]


@pytest.mark.parametrize(
    "optimizer,lr,schedule",
    [("sgd", 0.05, "constant"), ("momentum", 0.02, "constant"), ("adam", 1e-3, "cosine")],
)
def test_batched_runs_follow_the_trajectory_of_each_run_trained_alone(optimizer, lr, schedule, tiny_data):
    # 40 steps of batch 32 over 512 samples: crosses two epoch boundaries (reshuffles)
    config = small_config(SPECS, optimizer=optimizer, lr=lr, lr_schedule=schedule)
    engine, _ = train(config, tiny_data)
    for run in engine.runs:
        weights, _ = engine.run_weights(run.id)
        expected = reference_training(run.spec, config, tiny_data)
        for got, want in zip(weights, expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_a_run_gets_the_same_weights_whatever_it_is_compared_with(tiny_data):
    together, _ = train(small_config(SPECS), tiny_data)
    alone, _ = train(small_config(runs=[SPECS[1]]), tiny_data)
    for got, want in zip(together.run_weights(1)[0], alone.run_weights(0)[0]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # equal after training, not merely at the start
    assert_moved(together, 1, SPECS[1], small_config(SPECS), tiny_data, least=1e-3)


def _on_step(step: int, action):
    done = []

    def hook(engine, event):
        if isinstance(event, TrainProgress) and event.step >= step and not done:
            done.append(True)
            action(engine)

    return hook


def test_restarting_one_run_leaves_the_others_untouched(tiny_data):
    config = small_config(SPECS)
    baseline, _ = train(config, tiny_data)
    restarted, events = train(config, tiny_data, _on_step(20, lambda e: e.send(Restart(1))))
    for run_id in (0, 2):
        for got, want in zip(restarted.run_weights(run_id)[0], baseline.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want)
    # the restarted run drew fresh weights and trained a full run of its own
    assert any(isinstance(e, RunsChanged) and e.reason == "restart" for e in events)
    assert [r.step for r in restarted.runs] == [40, 40, 40]
    assert not torch.equal(restarted.run_weights(1)[0][0], baseline.run_weights(1)[0][0])
    last_progress = [e for e in events if isinstance(e, TrainProgress)][-1]
    assert last_progress.step > 40  # run 1 kept training after the others finished


def test_changing_a_runs_init_and_activation_restarts_only_that_run(tiny_data):
    config = small_config(SPECS)
    baseline, _ = train(config, tiny_data)
    changed, events = train(config, tiny_data, _on_step(10, lambda e: e.send(SetRun(0, init="orthogonal", activation="selu"))))
    assert changed.runs[0].spec == RunSpec("orthogonal", "selu")
    for run_id in (1, 2):
        for got, want in zip(changed.run_weights(run_id)[0], baseline.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want)
    change = next(e for e in events if isinstance(e, RunsChanged) and e.reason == "changed")
    assert change.runs[0].spec.init == "orthogonal" and change.runs[0].step == 0


def test_adding_and_removing_runs(tiny_data):
    def edit(engine):
        engine.send(AddRun(RunSpec("glorot", "sigmoid")))
        engine.send(RemoveRun(0))

    engine, events = train(small_config(SPECS), tiny_data, _on_step(10, edit))
    assert [r.name for r in engine.runs] == ["xavier:tanh", "lsuv:gelu", "glorot:sigmoid"]
    assert [r.id for r in engine.runs] == [1, 2, 3]
    assert all(r.status == "done" and r.step == 40 for r in engine.runs)
    evaluation = [e for e in events if isinstance(e, Evaluation)][-1]
    assert evaluation.run_ids == [1, 2, 3]


def test_a_diverging_run_is_frozen_and_the_others_go_on(tiny_data):
    config = small_config(runs=[RunSpec("normal-1", "relu"), RunSpec("xavier", "tanh")], lr=50.0, depth=3, width=64)
    engine, events = train(config, tiny_data)
    statuses = {r.name: r.status for r in engine.runs}
    assert statuses == {"normal-1:relu": "diverged", "xavier:tanh": "done"}
    weights, _ = engine.run_weights(0)
    assert all(torch.isfinite(w).all() for w in weights)
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert progress[-1].losses[0][-1] is None and progress[-1].losses[1][-1] is not None


def test_layer_statistics_describe_every_layer(tiny_data):
    config = small_config(runs=[RunSpec("normal-1", "tanh"), RunSpec("he", "relu")], width=32, depth=3)
    _, events = train(config, tiny_data)
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert [e.step for e in stats] == [0, 10, 20, 30]
    first = stats[0]
    tanh_layers, relu_layers = first.layers
    assert len(tanh_layers) == 3
    for layer in tanh_layers:
        hist = layer.histograms["activations"]
        assert (hist.low, hist.high) == (-1.0, 1.0)
        assert sum(hist.counts) == config.batch_size * config.width
        assert layer.saturated > 0.3 and layer.dead is None  # std-1 weights saturate tanh
    for layer in relu_layers:
        assert layer.dead is not None and layer.saturated is None
        assert layer.histograms["activations"].low == 0.0
        assert layer.predicted_weight_std == pytest.approx((2 / (784 if layer is relu_layers[0] else 32)) ** 0.5)
    assert first.predicted_std[1][1] == pytest.approx(relu_layers[1].std, rel=0.3)


def test_the_spectrum_is_measured_at_initialisation_and_after_a_restart_on_the_first_images(tiny_data, monkeypatch):
    config = small_config(runs=[RunSpec("orthogonal-critical", "tanh"), RunSpec("he", "relu")], width=24, depth=4)
    sent_before_svds: list[int] = []  # how many progress events had been sent when each spectrum's SVDs began

    def counted(*args, **kwargs):
        sent_before_svds.append(sum(isinstance(e, TrainProgress) for e in seen))
        return jacobian_spectra(*args, **kwargs)

    monkeypatch.setattr(measurements_module, "jacobian_spectra", counted)
    seen: list = []
    restart_at_20 = _on_step(20, lambda e: e.send(Restart(1)))
    engine, events = train(config, tiny_data, lambda engine, event: (seen.append(event), restart_at_20(engine, event)))
    spectra = [e for e in events if isinstance(e, JacobianSpectra)]
    # at step 0, and at the statistics step after the restart; not at every statistics step: its own budget
    assert [e.step for e in spectra] == [0, 30]
    first = spectra[0]
    # the SVDs of step 0's weights begin once step 0's progress is sent, so that training shows as under way first
    assert sent_before_svds[0] == 1
    assert first.run_ids == [0, 1] and first.images == 32 and first.seconds > 0
    # what the science function gives for the same weights and images, in the caller's order of runs
    sizes = config.layer_sizes
    for run_id, spectrum in zip(first.run_ids, first.spectra):
        spec = config.runs[run_id]
        weights, biases = initial_weights(spec, sizes, run_seed(config.seed, spec, 0), None)
        activation = get_activation(spec.activation)
        record = ForwardRecord()
        forward(tiny_data.train_images[:32], [w.unsqueeze(0) for w in weights], [b.unsqueeze(0) for b in biases],
                ActivationSlices([spec.activation]), record)
        (expected,) = jacobian_spectra(record.preactivations, [w.unsqueeze(0) for w in weights[1:-1]], [activation])
        assert spectrum.s_max == pytest.approx(expected.s_max, rel=1e-5)
        assert spectrum.prefix_ratio == pytest.approx(expected.prefix_ratio, rel=1e-5)
        assert len(spectrum.correlation) == len(spectrum.predicted_correlation) == 4
        assert spectrum.correlation[0] == pytest.approx(spectrum.predicted_correlation[0], abs=0.02)
    critical, relu = first.spectra
    # orthogonal at the critical gain with tanh: near isometry; He with ReLU: half the singular values collapse
    assert critical.s_max / critical.s_median < 3
    assert relu.s_max / relu.s_median > 10
    assert critical.c_star == 1.0 and critical.chi_c == pytest.approx(1.0, abs=1e-3)


def test_constant_init_keeps_every_unit_of_a_layer_identical(tiny_data):
    # a learning rate large enough that the constant run's hidden weights move by ~20 % of their value
    config = small_config(runs=[RunSpec("constant", "tanh"), RunSpec("xavier", "tanh")], steps=30, lr=0.5)
    engine, _ = train(config, tiny_data)
    assert_moved(engine, 0, config.runs[0], config, tiny_data, least=1e-3)
    assert_moved(engine, 1, config.runs[1], config, tiny_data, least=1e-2)
    constant, _ = engine.run_weights(0)
    for weight in constant[:-1]:
        moved = (weight - 0.01).abs().max()
        # every unit (row) equal to the first, to rounding: far below how far the weights moved
        assert (weight - weight[:1]).abs().max() <= 1e-4 * moved
    xavier, _ = engine.run_weights(1)
    assert xavier[0].std(dim=0).mean() > 1e-3


def test_stop_from_another_thread_is_honoured_quickly():
    data = random_mnist(train=4096)
    engine = Engine(small_config(SPECS, steps=100_000, width=64), data, lambda event: None)
    finished = []
    worker = threading.Thread(target=lambda: finished.append(engine.run()))
    worker.start()
    time.sleep(1.0)
    engine.send(Pause())
    time.sleep(0.3)
    paused_at = engine.step
    time.sleep(0.3)
    assert engine.step == paused_at
    engine.send(Resume())
    time.sleep(0.3)
    assert engine.step > paused_at
    asked = time.perf_counter()
    engine.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.perf_counter() - asked < 0.5
    assert finished[0].status == "stopped", finished[0].message


def test_test_accuracy_is_reported_even_when_training_is_shorter_than_an_epoch(tiny_data):
    engine, events = train(small_config(SPECS, steps=5), tiny_data)
    evaluations = [e for e in events if isinstance(e, Evaluation)]
    assert [e.step for e in evaluations] == [5]
    assert all(r.test_acc is not None for r in engine.results())


def test_asking_for_cuda_without_cuda_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu:7")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.cuda
def test_cuda_training_matches_cpu_and_device_moves_keep_the_state():
    data = random_mnist()
    cpu, _ = train(small_config(SPECS, device="cpu"), data)
    gpu, _ = train(small_config(SPECS, device="cuda"), data)
    for run in cpu.runs:
        for got, want in zip(gpu.run_weights(run.id)[0], cpu.run_weights(run.id)[0]):
            torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)

    hops: list[str] = []

    def hop(engine, event):
        # to CUDA after step 10, back to the CPU after step 20
        if isinstance(event, TrainProgress) and event.step >= 10 * (len(hops) + 1) and len(hops) < 2:
            hops.append("cuda" if not hops else "cpu")
            engine.send(SetDevice(hops[-1]))

    moved, events = train(small_config(SPECS, device="cpu"), data, hop)
    assert [e.device for e in events if e.type == "device"] == ["cuda:0", "cpu"]
    for run in cpu.runs:
        for got, want in zip(moved.run_weights(run.id)[0], cpu.run_weights(run.id)[0]):
            torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)


def test_commands_sent_just_before_stop_are_applied_and_reported(tiny_data):
    def change_then_stop(engine):
        engine.send(SetRun(1, init="glorot"))
        engine.stop()

    engine, events = train(small_config(SPECS, steps=1000), tiny_data, _on_step(5, change_then_stop), status="stopped")
    assert engine.runs[1].spec.init == "glorot"
    assert any(isinstance(e, RunsChanged) and e.runs[1].spec.init == "glorot" for e in events)
    assert events[-1].status == "stopped"
