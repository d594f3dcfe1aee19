"""The engine's loop: the user's run order in every event, late host copies, CUDA-graph fallback, commands,
the throughput meter."""

from __future__ import annotations

import pickle
import statistics
import threading
import time

import pytest
import torch
from support.data import random_mnist

from support.training import train
from inittui.core import commands
from inittui.training import devices
from inittui.training import engine as engine_module
from inittui.core.commands import AddRun, Restart, SetRun, Stop
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.engine import Engine, ThroughputMeter
from inittui.training.stacked import StackedRuns
from inittui.core.events import Evaluation, LayerStats, Notice, RunsChanged, StateChanged, TrainProgress
from inittui.training.model import ActivationSlices, forward, initial_weights, run_seed

# stack order differs from this order: sigmoid, tanh, relu, relu
SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("orthogonal", "relu"), RunSpec("glorot", "sigmoid")]


def config(**overrides) -> ExperimentConfig:
    values = dict(runs=list(SPECS), depth=2, width=16, batch_size=32, epochs=None, steps=24, stats_every=8, device="cpu")
    values.update(overrides)
    return ExperimentConfig(**values)


def test_every_event_lists_runs_in_the_users_order(tiny_data):
    engine, events = train(config(), tiny_data)
    assert [r.name for r in engine.runs] == [s.name for s in SPECS]
    assert [r.name for r in engine.results()] == [s.name for s in SPECS]
    for event in events:
        if isinstance(event, (TrainProgress, LayerStats, Evaluation)):
            assert event.run_ids == [0, 1, 2, 3]
    # each run's first loss is that of its own initial weights on the first batch
    cfg = config()
    first_batch = torch.randperm(len(tiny_data.train_labels), generator=torch.Generator().manual_seed(cfg.seed))[:32]
    progress = next(e for e in events if isinstance(e, TrainProgress))
    for run_id, spec in enumerate(SPECS):
        weights, biases = initial_weights(spec, cfg.layer_sizes, run_seed(cfg.seed, spec, 0), tiny_data.train_images[:32])
        logits = forward(tiny_data.train_images[first_batch], [w[None] for w in weights], [b[None] for b in biases],
                         ActivationSlices([spec.activation]))
        loss = torch.nn.functional.cross_entropy(logits[0], tiny_data.train_labels[first_batch]).item()
        assert progress.losses[run_id][0] == pytest.approx(loss, rel=1e-5)
    # the statistics of each run are that run's: the activation histograms' fixed ranges say which it is
    stats = next(e for e in events if isinstance(e, LayerStats))
    lows_highs = [(run[0].histograms["activations"].low, run[0].histograms["activations"].high) for run in stats.layers]
    assert lows_highs[1] == (-1.0, 1.0) and lows_highs[3] == (0.0, 1.0)
    assert lows_highs[0][0] == 0.0 and lows_highs[2][0] == 0.0
    # and the test accuracy of each run is that run's, computed here from its weights alone
    evaluation = [e for e in events if isinstance(e, Evaluation)][-1]
    for run_id, spec in enumerate(SPECS):
        weights, biases = engine.run_weights(run_id)
        logits = forward(tiny_data.test_images, [w[None] for w in weights], [b[None] for b in biases], ActivationSlices([spec.activation]))
        accuracy = (logits[0].argmax(dim=1) == tiny_data.test_labels).float().mean().item()
        assert evaluation.test_acc[run_id] == pytest.approx(accuracy, abs=1e-6)


def test_a_new_activation_does_not_reorder_the_runs(tiny_data):
    hook_done = []

    def change(engine, event):
        if isinstance(event, TrainProgress) and not hook_done:
            hook_done.append(True)
            engine.send(SetRun(3, activation="relu"))  # sigmoid, first on the device, joins the relu slice

    engine, events = train(config(), tiny_data, change)
    changed = next(e for e in events if isinstance(e, RunsChanged) and e.reason == "changed")
    assert [r.id for r in changed.runs] == [0, 1, 2, 3] and changed.runs[3].spec.activation == "relu"
    assert [e.run_ids for e in events if isinstance(e, TrainProgress)][-1] == [0, 1, 2, 3]
    assert engine.runs[3].step == 24


def test_host_copies_that_land_late_change_nothing_but_timing(tiny_data, monkeypatch):
    _, on_time = train(config(), tiny_data)
    plain_weights = None
    engine, _ = train(config(), tiny_data)
    plain_weights = [engine.run_weights(i)[0] for i in range(4)]

    # every copy to the host is still in flight the first time the loop asks (as on a busy GPU)
    asked: set[int] = set()
    ready = devices.HostCopy.ready

    def late(self):
        if id(self) not in asked:
            asked.add(id(self))
            return False
        return ready(self)

    monkeypatch.setattr(devices.HostCopy, "ready", late)
    engine, late_events = train(config(), tiny_data)

    def summary(events):
        return [(type(e).__name__, getattr(e, "step", None), getattr(e, "losses", None)) for e in events
                if not isinstance(e, (engine_module.ExperimentStarted, engine_module.ExperimentFinished))]

    assert summary(late_events) == summary(on_time)
    for run_id, weights in enumerate(plain_weights):
        for got, want in zip(engine.run_weights(run_id)[0], weights):
            assert torch.equal(got, want)


def _graphs_on_the_cpu(monkeypatch, replay_wrong: bool = False) -> list:
    """Let the engine take its CUDA-graph path on the CPU, with a 'graph' that reruns the step eagerly."""
    captures: list = []

    def capture_graph(function):
        captures.append(function)
        return (lambda: None) if replay_wrong else function

    monkeypatch.setattr(devices, "supports_graphs", lambda device: True)
    monkeypatch.setattr(devices, "capture_graph", capture_graph)
    monkeypatch.setattr(devices, "run_on_side_stream", lambda function: function())
    return captures


def test_graph_steps_train_as_eager_steps_do_and_recapture_when_runs_change(tiny_data, monkeypatch):
    restart = []

    def restart_once(engine, event):
        if isinstance(event, TrainProgress) and event.step >= 8 and not restart:
            restart.append(True)
            engine.send(Restart(2))

    eager, _ = train(config(), tiny_data, restart_once, cuda_graphs=False)
    restart.clear()
    captures = _graphs_on_the_cpu(monkeypatch)
    graphed, events = train(config(), tiny_data, restart_once)
    for run_id in range(4):
        for got, want in zip(graphed.run_weights(run_id)[0], eager.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want)
    # captured at the first step without statistics, again after the restart, and when runs finish
    assert len(captures) >= 2
    assert not any(isinstance(e, Notice) for e in events)


def test_a_graph_that_fails_its_check_turns_graphs_off_with_one_notice(tiny_data, monkeypatch):
    eager, _ = train(config(), tiny_data, cuda_graphs=False)
    captures = _graphs_on_the_cpu(monkeypatch, replay_wrong=True)
    engine, events = train(config(), tiny_data)
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "CUDA graphs are off" in notices[0].message
    assert len(captures) == 1
    for run_id in range(4):
        for got, want in zip(engine.run_weights(run_id)[0], eager.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want)


def test_commands_are_small_frozen_values_that_cross_a_process_boundary():
    sent = [AddRun(RunSpec("he", "relu")), SetRun(2, activation="tanh"), Restart(1), Stop()]
    assert pickle.loads(pickle.dumps(sent)) == sent
    with pytest.raises(AttributeError):
        sent[2].run_id = 3  # type: ignore[misc]
    assert set(commands.Command.__args__) >= {type(c) for c in sent}


def test_a_command_for_a_run_that_does_not_exist_is_a_notice(tiny_data):
    asked = []

    def ask(engine, event):
        if isinstance(event, TrainProgress) and not asked:
            asked.append(True)
            engine.send(Restart(42))

    _, events = train(config(), tiny_data, ask)
    assert any(isinstance(e, Notice) and "no run with id 42" in e.message for e in events)


def test_throughput_counts_training_time_only(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(engine_module.time, "perf_counter", lambda: clock[0])
    meter = ThroughputMeter()
    meter.start()
    meter.count(1000)
    clock[0] = 1.0
    with meter.stopped():  # test evaluation, say
        clock[0] = 5.0
    meter.count(1000)
    clock[0] = 2.0 + 4.0
    assert meter.lap() == pytest.approx(1000.0)
    meter.stop()  # paused
    clock[0] = 100.0
    meter.start()
    meter.count(500)
    clock[0] = 101.0
    assert meter.lap() == pytest.approx(500.0)
    assert meter.overall == pytest.approx(2500 / 3.0)


def test_waiting_when_done_is_not_training_time(tiny_data):
    events: list = []
    engine = Engine(config(steps=16), tiny_data, events.append, linger=True)
    worker = threading.Thread(target=engine.run)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not any(isinstance(e, StateChanged) and e.state == "done" for e in events):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        done_at = len(events)
        time.sleep(1.5)  # the user looks at the finished dashboard, then restarts a run
        engine.send(Restart(0))
        while not any(isinstance(e, RunsChanged) and e.reason == "status" for e in events[done_at:]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        engine.stop()
        worker.join(timeout=10)
    before = [e.samples_per_s for e in events[:done_at] if isinstance(e, TrainProgress)]
    after = [e.samples_per_s for e in events[done_at:] if isinstance(e, TrainProgress)]
    # counting the 1.5 s wait would make the first speed after the restart a hundred times lower or worse;
    # a tenth leaves room for a busy machine's noise in steps of a few milliseconds
    assert after and min(after) > statistics.median(before) / 10


@pytest.mark.cuda
def test_cuda_graphs_capture_and_train_as_eager_steps_do(tiny_data):
    eager, _ = train(config(device="cuda", steps=40), tiny_data, cuda_graphs=False)
    graphed, events = train(config(device="cuda", steps=40), tiny_data)
    assert not any(isinstance(e, Notice) for e in events)  # captured, checked, never fell back
    for run_id in range(4):
        for got, want in zip(graphed.run_weights(run_id)[0], eager.run_weights(run_id)[0]):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
def test_between_statistics_steps_the_loop_never_waits_for_the_gpu(monkeypatch):
    """Replays, batches, evaluation and copies to the host, under CUDA's sync debug mode set to raise."""

    def strict(method, when=lambda *args, **kwargs: True):
        def wrapped(*args, **kwargs):
            if not when(*args, **kwargs):
                return method(*args, **kwargs)
            torch.cuda.set_sync_debug_mode("error")
            try:
                return method(*args, **kwargs)
            finally:
                torch.cuda.set_sync_debug_mode("default")

        return wrapped

    monkeypatch.setattr(StackedRuns, "graph_step", strict(StackedRuns.graph_step, lambda self, x, y: self._replay is not None))
    monkeypatch.setattr(Engine, "_next_batch", strict(Engine._next_batch))
    monkeypatch.setattr(Engine, "_evaluate", strict(Engine._evaluate))
    monkeypatch.setattr(Engine, "_flush", strict(Engine._flush, lambda self, wait=False: not wait))
    monkeypatch.setattr(Engine, "_deliver", strict(Engine._deliver, lambda self, wait=False: not wait))
    data = random_mnist(train=2048)
    # 64 steps an epoch: flushes and evaluations at 64 and 128, statistics only at step 0
    engine, events = train(config(device="cuda", steps=150, stats_every=1000, batch_size=32), data)
    assert not any(isinstance(e, Notice) for e in events)
    assert [e.step for e in events if isinstance(e, Evaluation)] == [64, 128, 150]


def test_progress_is_sent_at_least_every_progress_interval_whatever_the_statistics_cadence(tiny_data, monkeypatch):
    """Slow steps (many runs, a busy machine) and statistics every 1000 steps: without a bound in time the
    steps would wait in the buffer for 256 of them, and the dashboard would look hung."""
    monkeypatch.setattr(engine_module, "PROGRESS_EVERY_S", 0.05)
    step = Engine._train_step

    def slow_step(self, *args, **kwargs):
        time.sleep(0.02)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "_train_step", slow_step)
    _, events = train(config(steps=40, stats_every=1000), tiny_data)
    progress = [event for event in events if isinstance(event, TrainProgress)]
    assert len(progress) >= 8  # about one every 3 steps; by steps alone, 2
    # every step is told once, in order
    assert [event.step - len(event.losses[0]) for event in progress] == [0] + [event.step for event in progress[:-1]]


def test_restart_all_at_an_epochs_end_leaves_no_number_of_the_old_lives(tiny_data):
    """R as the epoch's last step is told: the engine evaluates the old weights first, then restarts; neither
    the engine's records nor the fold give a restarted run a number of its old life."""
    from inittui.core.commands import RestartAll
    from inittui.runlog.fold import RunFold

    epoch = len(tiny_data.train_labels) // 32
    sent = []

    def at_epoch_end(engine, event):
        if isinstance(event, TrainProgress) and event.step == epoch and not sent:
            sent.append(True)
            engine.send(RestartAll())

    engine, events = train(config(steps=epoch + 4, stats_every=4), tiny_data, at_epoch_end)
    assert sent
    fold = RunFold()
    for event in events:
        fold.apply(event)
    evaluation_at_end = next(e for e in events if isinstance(e, Evaluation) and e.step == epoch)
    [restart] = [e for e in events if isinstance(e, RunsChanged) and e.reason == "restart"]
    assert events.index(evaluation_at_end) < events.index(restart)
    assert all((r.step, r.test_acc, r.best_test_acc, r.train_loss) == (0, None, None, None) for r in restart.runs)
    for run_id, run in fold.runs.items():
        old, new = run.lives
        assert new.started_at == epoch
        assert old.test == [(epoch, evaluation_at_end.test_acc[run_id])]
        assert new.test and all(step > 0 for step, _ in new.test)  # only evaluations of its own weights
        assert new.record.best_test_acc == max(accuracy for _, accuracy in new.test)
        assert engine.results()[run_id].best_test_acc == new.record.best_test_acc


def test_the_spectrum_is_not_training_time(tiny_data, monkeypatch):
    """Like the test evaluation, the Jacobian spectrum (at 60 runs the one at step 0 takes as long as 50 training
    steps) stops the throughput's clock."""
    from inittui.training.measurements import Measurements

    measure, pause_s, measured = Measurements.measure_spectra, 2.0, []

    def slow_spectrum(self):
        measured.append(True)
        time.sleep(pause_s)
        return measure(self)

    monkeypatch.setattr(Measurements, "measure_spectra", slow_spectrum)
    engine, _ = train(config(steps=24), tiny_data)
    assert measured  # the spectrum was measured at step 0, inside a training step
    assert engine.meter.seconds < pause_s
