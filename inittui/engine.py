"""The training engine: every run of an experiment trains in one batched computation and reports only
through events. Control (pause, restart, swap init/activation, move device) arrives through thread-safe
commands applied between steps.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from inittui.activations import get_activation
from inittui.config import ConfigError, ExperimentConfig, RunSpec
from inittui.data import MNISTData
from inittui.events import (
    DeviceChanged,
    Evaluation,
    Event,
    ExperimentFinished,
    ExperimentStarted,
    LayerStats,
    Notice,
    RunInfo,
    RunResult,
    RunsChanged,
    StateChanged,
    TrainProgress,
)
from inittui.initializers import get_initializer
from inittui.model import ActivationGroups, ForwardRecord, forward, initial_weights, per_run_loss_and_correct, run_seed
from inittui.optim import BatchedOptimizer, scheduled_lr
from inittui.statistics import layer_statistics
from inittui.theory import predicted_activation_std

EVAL_CHUNK = 2500
# the statistics may take this share of training time when --stats-every is not given
STATS_TIME_BUDGET = 0.025
AUTO_STATS_FIRST_INTERVAL = 20
AUTO_STATS_MIN_INTERVAL = 10
AUTO_STATS_MAX_INTERVAL = 1000
# per-step losses wait on the device until the stats cadence, or until this many steps have gathered
MAX_BUFFERED_STEPS = 256
PAUSE_POLL_S = 0.05


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA where there is none raises ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but CUDA is not available on this machine")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    if device.type != "cpu":
        raise ConfigError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


class StatsCadence:
    """When to compute layer statistics: every ``fixed`` steps, or, without one, as often as keeps their cost
    within STATS_TIME_BUDGET of training time, measured as training goes (it differs by device and model)."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.next_step = 0
        # (wall time, step) when the last statistics were done; None after a pause
        self._mark: tuple[float, int] | None = None

    def due(self, step: int) -> bool:
        return step >= self.next_step

    def record(self, step: int, started: float, finished: float) -> None:
        """Statistics of ``step`` took from ``started`` to ``finished``; schedule the next ones."""
        if self.fixed is not None:
            interval = self.fixed
        elif self._mark is None or step <= self._mark[1]:
            interval = AUTO_STATS_FIRST_INTERVAL
        else:
            seconds_per_step = max(started - self._mark[0], 1e-9) / (step - self._mark[1])
            wanted = math.ceil((finished - started) / (STATS_TIME_BUDGET * seconds_per_step))
            interval = min(max(wanted, AUTO_STATS_MIN_INTERVAL), AUTO_STATS_MAX_INTERVAL)
        self.next_step = step + interval
        self._mark = (finished, step)

    def resume(self, step: int) -> None:
        """Time paused is not training time."""
        self._mark = (time.perf_counter(), step)


def available_devices() -> list[str]:
    return ["cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()) if torch.cuda.is_available())]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


@dataclass
class _Run:
    id: int
    spec: RunSpec
    status: str = "running"
    generation: int = 0
    steps: int = 0
    best_test_acc: float | None = None
    test_acc: float | None = None
    train_loss: float | None = None


class Engine:
    """Trains ``config.runs`` together on ``data``; call :meth:`run` from a worker thread.

    Every method but :meth:`run` is safe to call from another thread: it queues a command that the training
    loop applies between two steps.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        data: MNISTData,
        emit: Callable[[Event], None],
        *,
        linger: bool = False,
    ) -> None:
        config.validate()
        self.config = config
        self.emit = emit
        # with linger, a finished experiment waits for commands (restart a run, …) until stopped
        self.linger = linger
        self.device = resolve_device(config.device)
        self._cpu_data = data.unit_scaled() if config.input_scale == "unit" else data
        images = self._cpu_data.train_images
        # the mean-field prediction starts from the inputs' mean square (1 for standardised MNIST)
        self._input_second_moment = float(torch.linalg.vector_norm(images) ** 2 / max(images.numel(), 1))
        self._commands: queue.SimpleQueue[tuple[str, tuple]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._runs = [_Run(i, spec) for i, spec in enumerate(config.runs)]
        self._next_id = len(self._runs)
        self.paused = False
        self.step = 0
        self.total_steps = config.total_steps(len(data.train_labels))
        self.steps_per_epoch = config.steps_per_epoch(len(data.train_labels))

    # ------------------------------------------------------------------ commands (any thread)
    def pause(self) -> None:
        self._commands.put(("pause", ()))

    def resume(self) -> None:
        self._commands.put(("resume", ()))

    def toggle_pause(self) -> None:
        self._commands.put(("toggle_pause", ()))

    def stop(self) -> None:
        self._stop.set()

    def restart_run(self, run_id: int) -> None:
        self._commands.put(("restart", (run_id,)))

    def restart_all(self) -> None:
        self._commands.put(("restart_all", ()))

    def set_run(self, run_id: int, init: str | None = None, activation: str | None = None) -> None:
        """Change one run's initialiser and/or activation; that run restarts, the others go on."""
        self._commands.put(("set_run", (run_id, init, activation)))

    def add_run(self, spec: RunSpec) -> None:
        self._commands.put(("add", (spec,)))

    def remove_run(self, run_id: int) -> None:
        self._commands.put(("remove", (run_id,)))

    def set_device(self, device: str) -> None:
        """Move training to ``device``, continuing from the current weights and optimiser state."""
        self._commands.put(("device", (device,)))

    @property
    def runs(self) -> list[RunInfo]:
        with self._lock:
            return [RunInfo(r.id, r.spec.init, r.spec.activation, r.status, r.steps) for r in self._runs]

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ state
    def _setup(self) -> None:
        self.data = self._cpu_data.to(self.device)
        # LSUV scales on one fixed batch: the first batch_size training images
        self._lsuv_batch = self._cpu_data.train_images[: self.config.batch_size]
        per_run = [self._fresh_weights(run) for run in self._runs]
        layers = len(self.config.layer_sizes) - 1
        self.weights = [
            torch.stack([w[layer] for w, _ in per_run]).to(self.device).requires_grad_() for layer in range(layers)
        ]
        self.biases = [
            torch.stack([b[layer] for _, b in per_run]).to(self.device).requires_grad_() for layer in range(layers)
        ]
        self.optimizer = BatchedOptimizer(self.config.optimizer, self.weights + self.biases, len(self._runs))
        self._rebuild_run_tensors()
        self._batch_generator = torch.Generator().manual_seed(self.config.seed)
        self._epoch_batches: torch.Tensor | None = None

    def _fresh_weights(self, run: _Run) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        seed = run_seed(self.config.seed, run.spec, run.generation)
        return initial_weights(run.spec, self.config.layer_sizes, seed, self._lsuv_batch)

    def _rebuild_run_tensors(self) -> None:
        """Everything derived from the run list: activation groups, trainable mask, step buffers."""
        runs = len(self._runs)
        self.groups = ActivationGroups([r.spec.activation for r in self._runs], self.device)
        self.active = torch.tensor([r.status == "running" for r in self._runs], device=self.device, dtype=torch.float)
        capacity = min(self.config.stats_every or MAX_BUFFERED_STEPS, MAX_BUFFERED_STEPS)
        self._loss_buffer = torch.full((capacity, runs), torch.nan, device=self.device)
        self._acc_buffer = torch.full((capacity, runs), torch.nan, device=self.device)
        self._buffered = 0
        sizes = self.config.layer_sizes
        self._predicted_weight_std = [
            [
                get_initializer(r.spec.init).weight_std(n_in, n_out, get_activation(r.spec.activation))
                for n_in, n_out in zip(sizes[:-2], sizes[1:-1])
            ]
            for r in self._runs
        ]
        self._predicted_activation_std = [
            predicted_activation_std(r.spec.init, r.spec.activation, sizes[:-1], self._input_second_moment)
            for r in self._runs
        ]

    def _state_tensors(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases, *self.optimizer.state_tensors()]

    def _set_state_tensors(self, tensors: list[torch.Tensor]) -> None:
        layers = len(self.weights)
        self.weights = [t.detach().requires_grad_() for t in tensors[:layers]]
        self.biases = [t.detach().requires_grad_() for t in tensors[layers : 2 * layers]]
        self.optimizer.params = self.weights + self.biases
        self.optimizer.set_state_tensors(tensors[2 * layers :])

    @torch.no_grad()
    def _reinitialise(self, positions: list[int]) -> None:
        """Fresh weights and optimiser state for the runs at ``positions``; other runs are untouched."""
        for position in positions:
            run = self._runs[position]
            weights, biases = self._fresh_weights(run)
            for stacked, fresh in zip(self.weights + self.biases, weights + biases):
                stacked[position].copy_(fresh)
            run.steps = 0
            run.status = "running"
            run.best_test_acc = run.test_acc = run.train_loss = None
        self.optimizer.reset_runs(torch.tensor(positions, device=self.device))

    def _position(self, run_id: int) -> int | None:
        for position, run in enumerate(self._runs):
            if run.id == run_id:
                return position
        self.emit(Notice(f"no run with id {run_id}", "warning"))
        return None

    # ------------------------------------------------------------------ commands (training thread)
    def _apply_commands(self) -> None:
        while True:
            try:
                name, args = self._commands.get_nowait()
            except queue.Empty:
                return
            getattr(self, f"_command_{name}")(*args)

    def _command_pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._flush_progress()
            self.emit(StateChanged("paused", self.step))

    def _command_resume(self) -> None:
        if self.paused:
            self.paused = False
            self._chunk_started = time.perf_counter()
            self._stats_cadence.resume(self.step)
            self.emit(StateChanged("running", self.step))

    def _command_toggle_pause(self) -> None:
        self._command_resume() if self.paused else self._command_pause()

    def _runs_changed(self, reason: str) -> None:
        self.emit(RunsChanged(self.step, reason, self.runs))

    def _command_restart(self, run_id: int) -> None:
        position = self._position(run_id)
        if position is not None:
            self._restart([position])

    def _command_restart_all(self) -> None:
        self._restart(list(range(len(self._runs))))

    def _restart(self, positions: list[int]) -> None:
        """Fresh draws of weights (a new generation) and optimiser state for the runs at ``positions``."""
        self._flush_progress()
        with self._lock:
            for position in positions:
                self._runs[position].generation += 1
            self._reinitialise(positions)
        self._rebuild_run_tensors()
        self._runs_changed("restart")

    def _command_set_run(self, run_id: int, init: str | None, activation: str | None) -> None:
        position = self._position(run_id)
        if position is None:
            return
        run = self._runs[position]
        spec = RunSpec(init or run.spec.init, activation or run.spec.activation)
        if not self._valid(spec):
            return
        self._flush_progress()
        with self._lock:
            run.spec = spec
            run.generation = 0
            self._reinitialise([position])
        self._rebuild_run_tensors()
        self._runs_changed("changed")

    def _valid(self, spec: RunSpec) -> bool:
        try:
            spec.validate()
        except ConfigError as error:
            self.emit(Notice(str(error), "error"))
            return False
        return True

    def _command_add(self, spec: RunSpec) -> None:
        if not self._valid(spec):
            return
        self._flush_progress()
        with self._lock:
            run = _Run(self._next_id, spec)
            self._next_id += 1
            weights, biases = self._fresh_weights(run)
            fresh = [t.unsqueeze(0).to(self.device) for t in weights + biases]
            zeros = [torch.zeros_like(t[:1]) for t in self.optimizer.state_tensors()]
            tensors = self._state_tensors()
            self._set_state_tensors(
                [torch.cat([t.detach(), extra]) for t, extra in zip(tensors, fresh + zeros)]
            )
            self._runs.append(run)
        self._rebuild_run_tensors()
        self._runs_changed("added")

    def _command_remove(self, run_id: int) -> None:
        position = self._position(run_id)
        if position is None:
            return
        if len(self._runs) == 1:
            self.emit(Notice("the last run cannot be removed", "warning"))
            return
        self._flush_progress()
        with self._lock:
            keep = torch.tensor([p for p in range(len(self._runs)) if p != position], device=self.device)
            self._set_state_tensors([t.detach().index_select(0, keep) for t in self._state_tensors()])
            del self._runs[position]
        self._rebuild_run_tensors()
        self._runs_changed("removed")

    def _command_device(self, name: str) -> None:
        try:
            device = resolve_device(name)
        except ConfigError as error:
            self.emit(Notice(str(error), "error"))
            return
        if device == self.device:
            return
        self._flush_progress()
        self.device = device
        self.data = self._cpu_data.to(device)
        self._set_state_tensors([t.detach().to(device) for t in self._state_tensors()])
        if self._epoch_batches is not None:
            self._epoch_batches = self._epoch_batches.to(device)
        self._rebuild_run_tensors()
        self.emit(DeviceChanged(str(device), describe_device(device), self.step))

    # ------------------------------------------------------------------ training
    def _batch_indices(self) -> torch.Tensor:
        position = self.step % self.steps_per_epoch
        if position == 0 or self._epoch_batches is None:
            size = len(self._cpu_data.train_labels)
            batch = self.config.batch_size
            if self.config.sampling == "random":
                # the book's sampling: every batch drawn independently, with replacement across steps
                order = torch.randint(size, (self.steps_per_epoch * batch,), generator=self._batch_generator)
            else:
                order = torch.randperm(size, generator=self._batch_generator)
            self._epoch_batches = order.to(self.device)
        start = position * self.config.batch_size
        return self._epoch_batches[start : start + self.config.batch_size]

    def _train_step(self, record: ForwardRecord | None) -> None:
        indices = self._batch_indices()
        x = self.data.train_images.index_select(0, indices)
        y = self.data.train_labels.index_select(0, indices)
        for param in self.weights + self.biases:
            param.grad = None
        logits = forward(x, self.weights, self.biases, self.groups, record)
        losses, correct = per_run_loss_and_correct(logits, y)
        # a run whose loss is not finite is frozen where it stands
        finite = torch.isfinite(losses.detach())
        self.active = self.active * finite
        losses.sum().backward()
        lr = scheduled_lr(self.config.lr, self.config.lr_schedule, self.optimizer.steps, self.total_steps)
        if record is not None:
            self._stats_after_backward(record)
        self.optimizer.step(lr, self.active)
        trained = self.active.bool()
        self._loss_buffer[self._buffered] = torch.where(trained, losses.detach(), torch.nan)
        self._acc_buffer[self._buffered] = torch.where(trained, correct / len(y), torch.nan)
        self._buffered += 1
        self.step += 1
        for run in self._runs:
            if run.status == "running":
                run.steps += 1
        self._samples_in_chunk += len(y) * len(self._runs)

    def _stats_after_backward(self, record: ForwardRecord) -> None:
        if self.device.type == "cuda":
            # charge the step's queued kernels to training, not to the statistics
            torch.cuda.synchronize(self.device)
        started = time.perf_counter()
        hidden = len(self.weights) - 1
        stats = layer_statistics(
            record.preactivations,
            record.activations,
            [w.detach() for w in self.weights[:hidden]],
            [w.grad for w in self.weights[:hidden]],
            self.groups.per_run,
            self._predicted_weight_std,
            self.config.histogram_bins,
        )
        self._pending_stats = LayerStats(
            self.step, [r.id for r in self._runs], stats, self._predicted_activation_std
        )
        # layer_statistics ends with a copy to the host, so its work is done here
        self._stats_cadence.record(self.step, started, time.perf_counter())

    def _flush_progress(self) -> None:
        """Ship buffered per-step losses (one device-to-host copy) and update run statuses."""
        if self._buffered == 0:
            return
        count = self._buffered
        losses = self._loss_buffer[:count].T.cpu().tolist()
        accuracies = self._acc_buffer[:count].T.cpu().tolist()
        still_active = self.active.cpu().tolist()
        self._buffered = 0
        now = time.perf_counter()
        elapsed = now - self._chunk_started
        samples_per_s = self._samples_in_chunk / elapsed if elapsed > 0 else 0.0
        self._chunk_started = now
        self._train_seconds += elapsed
        self._total_samples += self._samples_in_chunk
        self._samples_in_chunk = 0
        self._samples_per_s = samples_per_s
        changed = False
        with self._lock:
            for position, run in enumerate(self._runs):
                finite = [v for v in losses[position] if v == v]
                if finite:
                    run.train_loss = finite[-1]
                if run.status == "running" and not still_active[position]:
                    run.status = "diverged"
                    run.steps -= sum(1 for v in losses[position] if v != v)
                    changed = True
                elif run.status == "running" and run.steps >= self.total_steps:
                    run.status = "done"
                    changed = True
        self.emit(
            TrainProgress(
                step=self.step,
                epoch=self.step / self.steps_per_epoch,
                run_ids=[r.id for r in self._runs],
                run_steps=[r.steps for r in self._runs],
                losses=[[v if v == v else None for v in row] for row in losses],
                accuracies=[[v if v == v else None for v in row] for row in accuracies],
                samples_per_s=samples_per_s,
                elapsed_s=time.perf_counter() - self._started,
                device_memory_mb=(
                    torch.cuda.memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else None
                ),
            )
        )
        if self._pending_stats is not None:
            self.emit(self._pending_stats)
            self._pending_stats = None
        if changed:
            self._rebuild_run_tensors()
            self._runs_changed("status")

    @torch.no_grad()
    def evaluate(self) -> tuple[list[float], list[float]]:
        """Accuracy and mean loss of every run on the full test set."""
        correct = torch.zeros(len(self._runs), device=self.device)
        loss_sum = torch.zeros(len(self._runs), device=self.device)
        images, labels = self.data.test_images, self.data.test_labels
        for start in range(0, len(labels), EVAL_CHUNK):
            logits = forward(images[start : start + EVAL_CHUNK], self.weights, self.biases, self.groups)
            losses, hits = per_run_loss_and_correct(logits, labels[start : start + EVAL_CHUNK])
            loss_sum += losses * len(labels[start : start + EVAL_CHUNK])
            correct += hits
        return (correct / len(labels)).cpu().tolist(), (loss_sum / len(labels)).cpu().tolist()

    def _evaluate_and_emit(self) -> None:
        accuracies, losses = self.evaluate()
        with self._lock:
            for run, accuracy in zip(self._runs, accuracies):
                run.test_acc = accuracy
                if run.best_test_acc is None or accuracy > run.best_test_acc:
                    run.best_test_acc = accuracy
        self.emit(
            Evaluation(
                step=self.step,
                epoch=self.step / self.steps_per_epoch,
                run_ids=[r.id for r in self._runs],
                test_acc=accuracies,
                test_loss=[v if v == v and abs(v) != float("inf") else None for v in losses],
            )
        )
        self._evaluated_at = self.step

    def _any_run_reached_end(self) -> bool:
        return any(run.status == "running" and run.steps >= self.total_steps for run in self._runs)

    def _all_finished(self) -> bool:
        return all(run.status in ("done", "diverged") for run in self._runs)

    def _wait_while_idle(self) -> None:
        """Paused, or finished with linger: apply commands until resumed, restarted or stopped."""
        while not self._stop.is_set():
            self._apply_commands()
            if not self.paused and not (self._all_finished() and self.linger):
                return
            time.sleep(PAUSE_POLL_S)

    def run(self) -> ExperimentFinished:
        """Train until every run is done (or diverged), or until :meth:`stop`. Returns the final event."""
        self._started = self._chunk_started = time.perf_counter()
        self._samples_in_chunk = 0
        self._samples_per_s = 0.0
        self._train_seconds = 0.0
        self._total_samples = 0
        self._pending_stats: LayerStats | None = None
        self._stats_cadence = StatsCadence(self.config.stats_every)
        self._evaluated_at = -1
        status, message = "done", ""
        try:
            self._setup()
            self.emit(
                ExperimentStarted(
                    config=self.config.to_dict(),
                    device=str(self.device),
                    device_name=describe_device(self.device),
                    dataset=self._cpu_data.description,
                    total_steps=self.total_steps,
                    steps_per_epoch=self.steps_per_epoch,
                    runs=self.runs,
                    time=time.time(),
                )
            )
            announced_done = False
            while not self._stop.is_set():
                self._apply_commands()
                if self.paused:
                    self._wait_while_idle()
                    continue
                if self._all_finished():
                    if self._evaluated_at != self.step:
                        self._evaluate_and_emit()
                    if not self.linger:
                        break
                    if not announced_done:
                        self.emit(StateChanged("done", self.step))
                        announced_done = True
                    self._wait_while_idle()
                    continue
                announced_done = False
                stats_due = self._stats_cadence.due(self.step)
                self._train_step(ForwardRecord() if stats_due else None)
                if stats_due or self._buffered == len(self._loss_buffer) or self._any_run_reached_end():
                    self._flush_progress()
                if self.step % self.steps_per_epoch == 0:
                    self._flush_progress()
                    self._evaluate_and_emit()
            if self._stop.is_set():
                status = "stopped"
                # commands sent before the stop still count: the log records every change the user made
                self._apply_commands()
                self._flush_progress()
        except Exception as error:  # reported as an event; the caller decides how to show it
            status, message = "error", f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - self._started
        finished = ExperimentFinished(
            status=status,
            step=self.step,
            elapsed_s=elapsed,
            samples_per_s=self._total_samples / self._train_seconds if self._train_seconds else 0.0,
            results=self.results(),
            message=message,
        )
        self.emit(finished)
        return finished

    def results(self) -> list[RunResult]:
        with self._lock:
            return [
                RunResult(
                    id=r.id,
                    name=r.spec.name,
                    init=r.spec.init,
                    activation=r.spec.activation,
                    status=r.status,
                    steps=r.steps,
                    train_loss=r.train_loss,
                    test_acc=r.test_acc,
                    best_test_acc=r.best_test_acc,
                )
                for r in self._runs
            ]

    # ------------------------------------------------------------------ inspection (tests, benchmarks)
    def run_weights(self, run_id: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Copies of one run's current weights and biases (call when the loop is not running)."""
        position = next(p for p, r in enumerate(self._runs) if r.id == run_id)
        return (
            [w[position].detach().cpu().clone() for w in self.weights],
            [b[position].detach().cpu().clone() for b in self.biases],
        )
