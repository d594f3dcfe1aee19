"""The training engine: every run of an experiment trains in one batched computation and reports only
through events. Commands (inittui.core.commands) may be sent from any thread; the loop applies them between steps.

:meth:`Engine.run` is the training loop. Each pass:

1. applies the commands sent since the last step, and waits while paused (or, done and lingering, for more);
2. takes the next batch;
3. trains one step of every run: eagerly with layer statistics at the statistics cadence, otherwise replayed
   from a CUDA graph on CUDA, or eagerly on the CPU;
4. every so often sends the steps' losses and accuracies on their way to the host, and emits what has arrived;
5. at every epoch end, evaluates every run on the test set.

The per-step losses stay on the device until a flush; on CUDA they reach the host by copies that do not wait
for the GPU, so between two statistics steps the loop never waits for it.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial

import torch

from inittui.science.activations import get_activation
from inittui.core.commands import (
    AddRun,
    Command,
    Pause,
    RemoveRun,
    Restart,
    RestartAll,
    Resume,
    SetDevice,
    SetRun,
    Stop,
    TogglePause,
)
from inittui.core.config import MNIST_CLASSES, ExperimentConfig, RunSpec
from inittui.core.errors import ConfigError
from inittui.training.data import MNISTData
from inittui.training import devices
from inittui.training.devices import HostCopy, describe_device, memory_in_use_mb, resolve_device, synchronize, to_device
from inittui.core.events import (
    DeviceChanged,
    Evaluation,
    Event,
    ExperimentFinished,
    ExperimentStarted,
    JacobianSpectra,
    LayerStats,
    Notice,
    RunRecord,
    RunsChanged,
    StateChanged,
    TrainProgress,
    experiment_runs,
    unit_shares,
)
from inittui.science.initializers import get_initializer, is_user_initializer
from inittui.training.model import ForwardRecord, forward, initial_weights, run_seed
from inittui.training.stacked import GraphCaptureFailed, StackedRuns
from inittui.science.spectrum import jacobian_spectra
from inittui.science.statistics import finite_or_none, layer_statistics
from inittui.science.theory import (
    depth_scale,
    input_second_moment,
    predicted_activation_std,
    predicted_correlations,
    predicted_from_weights,
)

# evaluation goes through the test set in chunks of at most this many activation values ([runs, chunk, width])
EVAL_VALUES = 2**22
# the statistics may take this share of training time when --stats-every is not given
STATS_TIME_BUDGET = 0.025
AUTO_STATS_FIRST_INTERVAL = 20
AUTO_STATS_MIN_INTERVAL = 10
AUTO_STATS_MAX_INTERVAL = 1000
# the Jacobian spectrum, on the first SPECTRUM_IMAGES training images, takes at most this share of training
# time: its SVDs (one per image, layer and run) cost far more than the statistics, about 0.25 s at `compare` on
# a 2-core CPU, so it has a cadence of its own, and with the statistics' 2.5 % the two stay within 3 %
SPECTRUM_TIME_BUDGET = 0.005
SPECTRUM_IMAGES = 32
# per-step losses wait on the device until the stats cadence, or until this many steps have gathered
MAX_BUFFERED_STEPS = 256
# ... or until this much wall time has passed: a slow step (many runs, a busy machine) still shows progress
PROGRESS_EVERY_S = 1.0
PAUSE_POLL_S = 0.05


class StatsCadence:
    """When to compute layer statistics: every ``fixed`` steps, or, without one, as often as keeps their cost
    within STATS_TIME_BUDGET of training time, measured as training goes (it differs by device and model)."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.next_step = 0
        # (wall time, step) when the last statistics were done; None after a pause
        self._mark: tuple[float, int] | None = None
        # training time per step, measured between the last two statistics steps
        self.seconds_per_step: float | None = None

    def due(self, step: int) -> bool:
        return step >= self.next_step

    def record(self, step: int, started: float, finished: float) -> None:
        """Statistics of ``step`` took from ``started`` to ``finished``; schedule the next ones."""
        if self.fixed is not None:
            interval = self.fixed
        elif self._mark is None or step <= self._mark[1]:
            interval = AUTO_STATS_FIRST_INTERVAL
        else:
            self.seconds_per_step = seconds_per_step = max(started - self._mark[0], 1e-9) / (step - self._mark[1])
            wanted = math.ceil((finished - started) / (STATS_TIME_BUDGET * seconds_per_step))
            interval = min(max(wanted, AUTO_STATS_MIN_INTERVAL), AUTO_STATS_MAX_INTERVAL)
        self.next_step = step + interval
        self._mark = (finished, step)

    def exclude(self, seconds: float) -> None:
        """``seconds`` just spent (on the spectrum) were neither training nor these statistics."""
        if self._mark is not None:
            self._mark = (self._mark[0] + seconds, self._mark[1])

    def resume(self, step: int) -> None:
        """Time paused is not training time."""
        self._mark = (time.perf_counter(), step)


class SpectrumCadence:
    """When to measure the Jacobian spectrum: at the first statistics step, at the first one after a run starts
    afresh, and otherwise as often as keeps its cost within SPECTRUM_TIME_BUDGET of training time. It is
    measured only at statistics steps, whose cadence says how long a training step takes."""

    def __init__(self) -> None:
        self._next_step: int | None = 0
        # (step, seconds) of the last spectrum, until the statistics' cadence has timed a training step after it
        self._last: tuple[int, float] | None = None

    def due(self, step: int, seconds_per_step: float | None) -> bool:
        if self._next_step is None and self._last is not None and seconds_per_step is not None:
            last_step, seconds = self._last
            self._next_step = last_step + max(math.ceil(seconds / (SPECTRUM_TIME_BUDGET * seconds_per_step)), 1)
        return self._next_step is not None and step >= self._next_step

    def record(self, step: int, seconds: float) -> None:
        self._next_step, self._last = None, (step, seconds)

    def soon(self) -> None:
        """A run starts afresh: its spectrum at initialisation is the one that matters most."""
        self._next_step = 0


class ThroughputMeter:
    """Model-samples per second (one sample through one network counts one) over training time only: the
    clock stops while the engine evaluates on the test set, is paused, or waits, done, for commands."""

    def __init__(self) -> None:
        self.samples = 0
        self.seconds = 0.0
        self._lap_samples = 0
        self._lap_seconds = 0.0
        self._since: float | None = None

    def start(self) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def stop(self) -> None:
        if self._since is not None:
            self._lap_seconds += time.perf_counter() - self._since
            self._since = None

    @contextmanager
    def stopped(self) -> Iterator[None]:
        running = self._since is not None
        self.stop()
        try:
            yield
        finally:
            if running:
                self.start()

    def count(self, samples: int) -> None:
        self._lap_samples += samples

    def lap(self) -> float:
        """Samples per second since the last lap."""
        with self.stopped():
            rate = self._lap_samples / self._lap_seconds if self._lap_seconds > 0 else 0.0
            self.samples += self._lap_samples
            self.seconds += self._lap_seconds
            self._lap_samples, self._lap_seconds = 0, 0.0
        return rate

    @property
    def overall(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def _fresh_life(run: RunRecord, spec: RunSpec, draw: int) -> None:
    """``run`` starts again: ``spec``'s weights of ``draw``, step 0, nothing measured yet."""
    run.spec, run.draw, run.status, run.step = spec, draw, "running", 0
    run.train_loss = run.train_acc = run.test_acc = run.best_test_acc = run.dead = run.saturated = None


class Engine:
    """Trains ``config.runs`` together on ``data``; call :meth:`run` from a worker thread and :meth:`send`
    commands from any thread.

    The runs keep the order the caller gave them (and runs added later come last) in every event, in
    :attr:`runs` and in :meth:`results`, whatever order the device computes them in.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        data: MNISTData,
        emit: Callable[[Event], None],
        *,
        linger: bool = False,
        cuda_graphs: bool = True,
    ) -> None:
        config.validate()
        self.config = config
        self.emit = emit
        # with linger, a finished experiment waits for commands (restart a run, …) until stopped
        self.linger = linger
        # on CUDA, replay the training step from a captured graph (turned off for good if one fails)
        self.cuda_graphs = cuda_graphs
        self.device = resolve_device(config.device)
        self._cpu_data = data.unit_scaled() if config.input_scale == "unit" else data
        self._input_second_moment = input_second_moment(self._cpu_data.train_images)
        self._predicted: dict[RunSpec, tuple[list[float | None], list[float | None]]] = {}
        self._correlation_predicted: dict[RunSpec, tuple[list[float | None], float | None, float | None]] = {}
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._runs = experiment_runs(config)
        self._next_id = len(self._runs)
        self.paused = False
        self.step = 0
        self.total_steps = config.total_steps(len(data.train_labels))
        self.steps_per_epoch = config.steps_per_epoch(len(data.train_labels))

    # ------------------------------------------------------------------ any thread
    def send(self, command: Command) -> None:
        """Queue ``command``; the loop applies it between two steps. :class:`Stop` ends the loop as well (the
        commands sent before it are still applied)."""
        self._commands.put(command)
        if isinstance(command, Stop):
            self._stop.set()

    def stop(self) -> None:
        """``send(Stop())``, for signal handlers."""
        self.send(Stop())

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def runs(self) -> list[RunRecord]:
        """A copy of every run's record, in the caller's order (safe from any thread)."""
        with self._lock:
            return [replace(run) for run in self._runs]

    def results(self) -> list[RunRecord]:
        """What :attr:`runs` says: the records of the runs as they stand."""
        return self.runs

    def runs_with(self, run_ids: list[int]) -> list[RunRecord]:
        """Copies of these runs' records."""
        return [run for run in self.runs if run.id in run_ids]

    # ------------------------------------------------------------------ the training loop
    def run(self) -> ExperimentFinished:
        """Train until every run is done (or diverged), or until stopped. Returns the final event."""
        self._started = time.perf_counter()
        # training throughput so far
        self.meter = ThroughputMeter()
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
            while not self._stop.is_set():
                self._apply_commands()
                if self.paused or self._all_finished():
                    if not self._idle():
                        break
                    continue
                self.meter.start()
                stats_due = self._cadence.due(self.step)
                x, y = self._next_batch()
                self._train_step(x, y, stats_due)
                self.step += 1
                self._buffered += 1
                self.meter.count(y.shape[-1] * len(self._runs))
                if (stats_due or self._buffered == self.stack.buffer_steps
                        or time.perf_counter() - self._flushed_at >= PROGRESS_EVERY_S):
                    self._flush()
                if self.step >= self._next_run_end:
                    # a run has trained its last step: make it stop before the next one
                    self._flush(wait=True)
                if self.step % self.steps_per_epoch == 0:
                    self._flush()
                    self._evaluate()
                self._deliver()
            if self._stop.is_set():
                status = "stopped"
                # commands sent before the stop still count: the log records every change the user made
                self._apply_commands()
                self._flush(wait=True)
        except Exception as error:  # reported as an event; the caller decides how to show it
            status, message = "error", f"{type(error).__name__}: {error}"
        self.meter.stop()
        self.meter.lap()
        finished = ExperimentFinished(
            status=status,
            step=self.step,
            elapsed_s=time.perf_counter() - self._started,
            samples_per_s=self.meter.overall,
            results=self.results(),
            message=message,
        )
        self.emit(finished)
        return finished

    def _setup(self) -> None:
        self.data = self._cpu_data.to(self.device)
        self.stack = StackedRuns(
            self.config,
            self.runs,
            self.device,
            # LSUV scales on one fixed batch: the first batch_size training images
            lsuv_batch=self._cpu_data.train_images[: self.config.batch_size],
            total_steps=self.total_steps,
            buffer_steps=min(self.config.stats_every or MAX_BUFFERED_STEPS, MAX_BUFFERED_STEPS),
        )
        # the mean-field correlations of the first runs before training's clock starts (about 0.5 s a tanh run of
        # 30 layers); a run changed later is predicted when its first spectrum is measured
        for run in self._runs:
            self._correlation_theory(run.spec)
        self._allocate_batch()
        # a seed sets a run's batch order too: each seed group draws its batches from its own generator, as the
        # experiment of that seed alone draws them from its one
        self._batch_generators = [torch.Generator().manual_seed(seed) for seed in self.config.run_seeds]
        self._epoch_order: torch.Tensor | None = None
        self._cadence = StatsCadence(self.config.stats_every)
        self._spectrum_cadence = SpectrumCadence()
        self._pending_spectra: JacobianSpectra | None = None
        self._buffered = 0
        self._flushed_at = time.perf_counter()
        self._pending_stats: LayerStats | None = None
        self._deliveries: deque[tuple[HostCopy | None, Callable[[list[torch.Tensor]], None]]] = deque()
        self._steps_known_at = 0
        self._schedule_run_end()
        self._evaluated_at = -1
        self._announced_done = False

    def _allocate_batch(self) -> None:
        # full batches ([groups, batch, …]: each seed group's own) are written into these two tensors every step:
        # a CUDA graph reads its input there
        groups, batch = len(self.config.run_seeds), self.config.batch_size
        self._batch_x = torch.empty(groups, batch, self.data.train_images.shape[1], device=self.device)
        self._batch_y = torch.empty(groups, batch, dtype=torch.long, device=self.device)

    def _batch_indices(self) -> torch.Tensor:
        """The training-set indices ``[groups, batch]`` of the step's batch of every seed group, on the device."""
        position = self.step % self.steps_per_epoch
        if position == 0 or self._epoch_order is None:
            size = len(self._cpu_data.train_labels)
            if self.config.sampling == "random":
                # the book's sampling: every batch drawn independently, with replacement across steps
                draws = self.steps_per_epoch * self.config.batch_size
                orders = [torch.randint(size, (draws,), generator=generator) for generator in self._batch_generators]
            else:
                orders = [torch.randperm(size, generator=generator) for generator in self._batch_generators]
            self._epoch_order = to_device(torch.stack(orders), self.device)
        start = position * self.config.batch_size
        return self._epoch_order[:, start : start + self.config.batch_size]

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's batches ``[groups, batch, …]``; every full one lands in the same two tensors."""
        indices = self._batch_indices()
        groups, batch = indices.shape
        flat = indices.reshape(-1)
        images, labels = self.data.train_images, self.data.train_labels
        if batch < self.config.batch_size:  # an epoch's last, shorter batch
            return images.index_select(0, flat).view(groups, batch, -1), labels.index_select(0, flat).view(groups, batch)
        torch.index_select(images, 0, flat, out=self._batch_x.view(groups * batch, -1))
        torch.index_select(labels, 0, flat, out=self._batch_y.view(-1))
        return self._batch_x, self._batch_y

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, stats_due: bool) -> None:
        if stats_due:
            self._statistics_step(x, y)
        elif self.cuda_graphs and devices.supports_graphs(self.device) and x is self._batch_x:
            try:
                self.stack.graph_step(x, y)
            except GraphCaptureFailed as error:  # the step was trained eagerly; so will the next ones be
                self.cuda_graphs = False
                self.emit(Notice(f"CUDA graphs are off, training goes on without them: {error}", "warning"))
        else:
            self.stack.train_step(x, y)

    def _statistics_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """An eager training step that records what the layer statistics need, then the statistics."""
        # the work queued before this step is training's ...
        synchronize(self.device)
        if self._spectrum_cadence.due(self.step, self._cadence.seconds_per_step):
            self._measure_spectra()  # before the step's update: at step 0, of the initial weights
        record = ForwardRecord()
        self.stack.train_step(x, y, record)
        started = time.perf_counter()
        # ... the wait for this eager step, there only for its records, is the statistics'
        synchronize(self.device)
        stats = layer_statistics(
            record.preactivations,
            record.activations,
            record.activation_grads,
            record.weights,
            record.weight_grads,
            self.stack.weights[: len(record.weights)],
            self.stack.activations.per_run,
            [self._predictions(run.spec)[0] for run in self.stack.runs],
            self.config.histogram_bins,
        )
        # layer_statistics ends with a copy to the host, so its work is done here
        self._cadence.record(self.step, started, time.perf_counter())
        layers = [stats[p] for p in self.stack.positions([run.id for run in self._runs])]
        with self._lock:
            for run, run_layers in zip(self._runs, layers):
                run.dead, run.saturated = unit_shares(run_layers)
        self._pending_stats = LayerStats(
            self.step,
            [run.id for run in self._runs],
            layers,
            [self._predictions(run.spec)[1] for run in self._runs],
        )

    def _measure_spectra(self) -> None:
        """Every run's Jacobian spectrum and correlations on the spectrum images, beside the mean field's; its
        time is left out of the statistics' cadence (the spectrum has its own)."""
        started = time.perf_counter()
        with torch.no_grad():
            record = ForwardRecord()
            forward(self.data.train_images[:SPECTRUM_IMAGES], self.stack.weights, self.stack.biases, self.stack.activations, record)
            measured = jacobian_spectra(record.preactivations, self.stack.weights[1:-1], self.stack.activations.per_run)
        seconds = time.perf_counter() - started
        self._spectrum_cadence.record(self.step, seconds)
        self._cadence.exclude(seconds)
        spectra = []
        for position in self.stack.positions([run.id for run in self._runs]):
            correlation, c_star, chi_c = self._correlation_theory(self.stack.runs[position].spec)
            spectra.append(replace(measured[position], predicted_correlation=correlation, c_star=c_star, chi_c=chi_c))
        self._pending_spectra = JacobianSpectra(self.step, [run.id for run in self._runs], spectra,
                                                seconds, SPECTRUM_IMAGES)

    def _correlation_theory(self, spec: RunSpec) -> tuple[list[float | None], float | None, float | None]:
        """The mean-field correlation per hidden layer on the spectrum images, c* and chi_c of the hidden stack's
        layers (each spec once: the prediction is of initialisation)."""
        if spec not in self._correlation_predicted:
            sizes = self.config.layer_sizes
            variances = [None if std is None else std * std * n_in
                         for std, n_in in zip(self._predictions(spec)[0], sizes[:-2])]
            if spec.init == "constant":  # not random: the mean field does not apply (as for its std)
                variances = [None] * len(variances)
            images = self._cpu_data.train_images[:SPECTRUM_IMAGES]
            correlation = [finite_or_none(c) if c is not None else None
                           for c in predicted_correlations(spec.activation, variances, images)]
            c_star = chi_c = None
            if len(variances) > 1 and variances[1] is not None:
                scale = depth_scale(spec.activation, variances[1])
                c_star, chi_c = finite_or_none(scale.c_star), finite_or_none(scale.chi_c)
            self._correlation_predicted[spec] = (correlation, c_star, chi_c)
        return self._correlation_predicted[spec]

    def _predictions(self, spec: RunSpec) -> tuple[list[float | None], list[float | None]]:
        """Per hidden layer: the initialiser's weight std and the mean-field activation std at initialisation."""
        if spec not in self._predicted and is_user_initializer(spec.init):
            self._predicted[spec] = self._drawn_predictions(spec)
        if spec not in self._predicted:
            sizes = self.config.layer_sizes
            initializer, activation = get_initializer(spec.init), get_activation(spec.activation)
            weight_std = [initializer.weight_std(n_in, n_out, activation) for n_in, n_out in zip(sizes[:-2], sizes[1:-1])]
            activation_std = predicted_activation_std(spec.init, spec.activation, sizes[:-1], self._input_second_moment)
            self._predicted[spec] = (weight_std, activation_std)
        return self._predicted[spec]

    def _drawn_predictions(self, spec: RunSpec) -> tuple[list[float | None], list[float | None]]:
        """A user's initialiser states no variance: the prediction is from the variance of the weights it drew
        (the spec's first draw of the first seed; the draw is deterministic, so these are that run's own weights,
        and in a seed group the other seeds' prediction too, drawn from the same variance)."""
        weights, _ = initial_weights(spec, self.config.layer_sizes, run_seed(self.config.run_seeds[0], spec, 0), None)
        hidden = weights[:-1]
        weight_std: list[float | None] = [float(weight.std(correction=0)) for weight in hidden]
        return weight_std, predicted_from_weights(spec.activation, hidden, self._input_second_moment)

    # ------------------------------------------------------------------ from the device to events
    def _flush(self, wait: bool = False) -> None:
        """Send the buffered steps' losses and accuracies (and the latest statistics) on their way to the host;
        with ``wait``, deliver everything sent so far before returning."""
        if self._buffered:
            progress = partial(
                self._deliver_progress,
                step=self.step,
                samples_per_s=self.meter.lap(),
                elapsed_s=time.perf_counter() - self._started,
                device_memory_mb=memory_in_use_mb(self.device),
            )
            # a copy that lands in the background: bounding progress in time adds no wait for the GPU
            self._deliveries.append((self.stack.take_progress(self._buffered), progress))
            self._buffered = 0
            self._flushed_at = time.perf_counter()
        if self._pending_stats is not None:
            stats, self._pending_stats = self._pending_stats, None
            self._deliveries.append((None, lambda _: self.emit(stats)))
        if self._pending_spectra is not None:
            spectra, self._pending_spectra = self._pending_spectra, None
            self._deliveries.append((None, lambda _: self.emit(spectra)))
        self._deliver(wait)

    def _deliver(self, wait: bool = False) -> None:
        """Handle, in the order sent, what has reached the host (with ``wait``, everything sent)."""
        while self._deliveries:
            copy, handle = self._deliveries[0]
            if not (wait or copy is None or copy.ready()):
                return
            self._deliveries.popleft()
            handle(copy.values() if copy is not None else [])

    def _deliver_progress(
        self, values: list[torch.Tensor], *, step: int, samples_per_s: float, elapsed_s: float, device_memory_mb: float | None
    ) -> None:
        losses, accuracies, steps, active = values
        positions = self.stack.positions([run.id for run in self._runs])
        loss_rows, accuracy_rows = losses.T.tolist(), accuracies.T.tolist()
        steps_per_run, still_active = steps.tolist(), active.tolist()
        stopped = []
        with self._lock:
            for run, position in zip(self._runs, positions):
                finite = [v for v in loss_rows[position] if v == v]
                if finite:
                    run.train_loss = finite[-1]
                hits = [v for v in accuracy_rows[position] if v == v]
                if hits:
                    run.train_acc = sum(hits) / len(hits)
                run.step = int(steps_per_run[position])
                if run.status == "running" and not still_active[position]:
                    run.status = "diverged"
                    stopped.append(run.id)
                elif run.status == "running" and run.step >= self.total_steps:
                    run.status = "done"
                    stopped.append(run.id)
        self._steps_known_at = step
        self.emit(
            TrainProgress(
                step=step,
                epoch=step / self.steps_per_epoch,
                run_ids=[run.id for run in self._runs],
                run_steps=[run.step for run in self._runs],
                losses=[[v if v == v else None for v in loss_rows[p]] for p in positions],
                accuracies=[[v if v == v else None for v in accuracy_rows[p]] for p in positions],
                samples_per_s=samples_per_s,
                elapsed_s=elapsed_s,
                device_memory_mb=device_memory_mb,
            )
        )
        if stopped:
            self.stack.deactivate(stopped)
            self._runs_changed("status")
        else:
            self._schedule_run_end()

    def _schedule_run_end(self) -> None:
        """The step at which the next running run trains its last step, unless it diverges first."""
        remaining = [self.total_steps - run.step for run in self._runs if run.status == "running"]
        self._next_run_end = self._steps_known_at + min(remaining) if remaining else math.inf

    def _evaluate(self) -> None:
        """Test accuracy and loss of every run, emitted as an Evaluation once they reach the host."""
        chunk = max(1, EVAL_VALUES // (len(self._runs) * max(self.config.width, MNIST_CLASSES)))
        with self.meter.stopped():
            accuracy, loss = self.stack.evaluate(self.data.test_images, self.data.test_labels, chunk)
        self._deliveries.append((HostCopy([accuracy, loss]), partial(self._deliver_evaluation, step=self.step)))
        self._evaluated_at = self.step

    def _deliver_evaluation(self, values: list[torch.Tensor], *, step: int) -> None:
        positions = self.stack.positions([run.id for run in self._runs])
        accuracies, losses = ([row[p] for p in positions] for row in (values[0].tolist(), values[1].tolist()))
        with self._lock:
            for run, accuracy in zip(self._runs, accuracies):
                run.test_acc = accuracy
                if run.best_test_acc is None or accuracy > run.best_test_acc:
                    run.best_test_acc = accuracy
        self.emit(
            Evaluation(
                step=step,
                epoch=step / self.steps_per_epoch,
                run_ids=[run.id for run in self._runs],
                test_acc=accuracies,
                test_loss=[v if math.isfinite(v) else None for v in losses],
            )
        )

    # ------------------------------------------------------------------ idle: paused, or every run finished
    def _all_finished(self) -> bool:
        return all(run.status in ("done", "diverged") for run in self._runs)

    def _idle(self) -> bool:
        """Wait a moment for commands; False when the loop should end (finished, and not lingering)."""
        self.meter.stop()
        if not self.paused:
            self._flush()
            if self._evaluated_at != self.step:
                self._evaluate()
            self._deliver(wait=True)
            if not self.linger:
                return False
            if not self._announced_done:
                self.emit(StateChanged("done", self.step))
                self._announced_done = True
        time.sleep(PAUSE_POLL_S)
        return True

    # ------------------------------------------------------------------ commands (training thread)
    def _apply_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            self._apply(command)

    def _apply(self, command: Command) -> None:
        match command:
            case Pause():
                self._pause()
            case Resume():
                self._resume()
            case TogglePause():
                self._resume() if self.paused else self._pause()
            case Stop():
                pass  # send() has stopped the loop already
            case Restart(run_id, request):
                self._restart([run_id], request)
            case RestartAll(request):
                self._restart([run.id for run in self._runs], request)
            case SetRun(run_id, init, activation, request):
                self._set_run(run_id, init, activation, request)
            case AddRun(spec, request):
                self._add_run(spec, request)
            case RemoveRun(run_id, request):
                self._remove_run(run_id, request)
            case SetDevice(device):
                self._set_device(device)

    def _pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._flush(wait=True)
            self.emit(StateChanged("paused", self.step))

    def _resume(self) -> None:
        if self.paused:
            self.paused = False
            self._cadence.resume(self.step)
            self.emit(StateChanged("running", self.step))

    # ------------------------------------------------------------------ the runs: each command answered once
    def _refuse(self, message: str, level: str, request: int | None) -> None:
        self.emit(Notice(message, level, request))

    def _run(self, run_id: int) -> RunRecord | None:
        return next((run for run in self._runs if run.id == run_id), None)

    def _spec_problem(self, spec: RunSpec) -> str | None:
        try:
            spec.validate(self.config.initializer_names)
            if is_user_initializer(spec.init):  # the user's code may fail on a new activation: refused, run kept
                initial_weights(spec, self.config.layer_sizes, run_seed(self.config.run_seeds[0], spec, 0), None)
        except ConfigError as error:
            return str(error)
        return None

    def _runs_changed(self, reason: str, request: int | None = None) -> None:
        if reason in ("restart", "changed", "added"):
            self._spectrum_cadence.soon()
        self._schedule_run_end()
        self._announced_done = False
        self.emit(RunsChanged(self.step, reason, self.runs, request))

    def _restart(self, run_ids: list[int], request: int | None) -> None:
        """The next draw of weights and fresh optimiser state for these runs."""
        runs = [run for run in map(self._run, run_ids) if run is not None]
        if not runs:
            self._refuse(f"no run with id {', '.join(map(str, run_ids))}", "warning", request)
            return
        self._flush(wait=True)
        with self._lock:
            for run in runs:
                _fresh_life(run, run.spec, run.draw + 1)
        self.stack.reinitialise(self.runs_with([run.id for run in runs]))
        self._runs_changed("restart", request)

    def _set_run(self, run_id: int, init: str | None, activation: str | None, request: int | None) -> None:
        """A new initialiser and/or activation for one run: it starts again from its first draw."""
        run = self._run(run_id)
        if run is None:
            self._refuse(f"no run with id {run_id}", "warning", request)
            return
        spec = RunSpec(init or run.spec.init, activation or run.spec.activation)
        problem = self._spec_problem(spec)
        if problem is not None:
            self._refuse(problem, "error", request)
            return
        self._flush(wait=True)
        with self._lock:
            _fresh_life(run, spec, 0)
        self.stack.reinitialise(self.runs_with([run.id]))
        self._runs_changed("changed", request)

    def _add_run(self, spec: RunSpec, request: int | None) -> None:
        problem = self._spec_problem(spec)
        if problem is not None:
            self._refuse(problem, "error", request)
            return
        self._flush(wait=True)
        # a run added is a seed group like the others: one replica per seed
        for seed in self.config.run_seeds:
            run = RunRecord(self._next_id, spec, seed=seed)
            self._next_id += 1
            self.stack.add(replace(run))
            with self._lock:
                self._runs.append(run)
        self._runs_changed("added", request)

    def _remove_run(self, run_id: int, request: int | None) -> None:
        run = self._run(run_id)
        if run is None:
            self._refuse(f"no run with id {run_id}", "warning", request)
            return
        if len(self._runs) == 1:
            self._refuse("the last run cannot be removed", "warning", request)
            return
        self._flush(wait=True)
        self.stack.remove(run_id)
        with self._lock:
            self._runs.remove(run)
        self._runs_changed("removed", request)

    def _set_device(self, name: str) -> None:
        """Move training to another device, continuing from the current weights and optimiser state."""
        try:
            device = resolve_device(name)
        except ConfigError as error:
            self.emit(Notice(str(error), "error"))
            return
        if device == self.device:
            return
        self._flush(wait=True)
        self.device = device
        self.data = self._cpu_data.to(device)
        self.stack.to(device)
        self._allocate_batch()
        if self._epoch_order is not None:
            self._epoch_order = self._epoch_order.to(device)
        self.emit(DeviceChanged(str(device), describe_device(device), self.step))

    # ------------------------------------------------------------------ inspection (tests, benchmarks)
    def run_weights(self, run_id: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Copies of one run's current weights and biases (call when the loop is not running)."""
        return self.stack.run_weights(run_id)
