"""The training engine: every run of an experiment trains in one batched computation and reports only
through events. Commands (inittui.core.commands) may be sent from any thread; the loop applies them between steps.

:meth:`Engine.run` is the training loop. Each pass:

1. applies the commands sent since the last step, and waits while paused (or, done and lingering, for more);
2. takes the next batch;
3. trains one step of every run: eagerly with layer statistics at the statistics cadence, otherwise replayed
   from a CUDA graph on CUDA, or eagerly on the CPU;
4. every so often sends the steps' losses and accuracies on their way to the host, and emits what has arrived;
5. at every epoch end, evaluates every run on the test set.

Commands are applied by :mod:`~inittui.training.control`, the statistics and spectra taken by
:mod:`~inittui.training.measurements`, and flushes and deliveries made by :mod:`~inittui.training.delivery`.

The per-step losses stay on the device until a flush; on CUDA they reach the host by copies that do not wait
for the GPU, so between two statistics steps the loop never waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from inittui.core.commands import Command, Stop
from inittui.core.config import ExperimentConfig
from inittui.core.events import (
    Event,
    ExperimentFinished,
    ExperimentStarted,
    Notice,
    RunRecord,
    StateChanged,
    experiment_runs,
)
from inittui.science.theory import input_second_moment
from inittui.training import devices
from inittui.training.control import Control
from inittui.training.data import MNISTData
from inittui.training.delivery import Delivery, ThroughputMeter
from inittui.training.devices import describe_device, resolve_device, to_device
from inittui.training.measurements import Measurements
# the statistics' cadence is named here by the callers and tests that knew it as the engine's
from inittui.training.measurements import (  # noqa: F401
    AUTO_STATS_FIRST_INTERVAL,
    AUTO_STATS_MAX_INTERVAL,
    AUTO_STATS_MIN_INTERVAL,
    STATS_TIME_BUDGET,
    StatsCadence,
)
from inittui.training.stacked import GraphCaptureFailed, StackedRuns

# per-step losses wait on the device until the stats cadence, or until this many steps have gathered
MAX_BUFFERED_STEPS = 256
# ... or until this much wall time has passed: a slow step (many runs, a busy machine) still shows progress
PROGRESS_EVERY_S = 1.0
PAUSE_POLL_S = 0.05


class Engine:
    """Trains ``config.runs`` together on ``data``; call :meth:`run` from a worker thread and :meth:`send`
    commands from any thread.

    The runs keep the order the caller gave them (and runs added later come last) in every event, in
    :attr:`runs` and in :meth:`results`, whatever order the device computes them in.

    The loop composes three collaborators, each in its own module: :class:`Control` applies the commands,
    :class:`Measurements` takes the layer statistics and spectra at their cadences, and :class:`Delivery`
    brings the numbers from the device and emits them.
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
        self._stop = threading.Event()
        # the live records, in the caller's order: the training thread changes them under records_lock
        self.records = experiment_runs(config)
        self.records_lock = threading.Lock()
        self._next_id = len(self.records)
        self.control = Control(self)
        self.step = 0
        self.total_steps = config.total_steps(len(data.train_labels))
        self.steps_per_epoch = config.steps_per_epoch(len(data.train_labels))

    # ------------------------------------------------------------------ any thread
    def send(self, command: Command) -> None:
        """Queue ``command``; the loop applies it between two steps. :class:`Stop` ends the loop as well (the
        commands sent before it are still applied)."""
        self.control.commands.put(command)
        if isinstance(command, Stop):
            self._stop.set()

    def stop(self) -> None:
        """``send(Stop())``, for signal handlers."""
        self.send(Stop())

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def runs(self) -> list[RunRecord]:
        """A copy of every run's record, in the caller's order (safe from any thread)."""
        with self.records_lock:
            return [replace(run) for run in self.records]

    def results(self) -> list[RunRecord]:
        """What :attr:`runs` says: the records of the runs as they stand."""
        return self.runs

    def runs_with(self, run_ids: list[int]) -> list[RunRecord]:
        """Copies of these runs' records."""
        return [run for run in self.runs if run.id in run_ids]

    # ------------------------------------------------------------------ the training loop
    def run(self) -> ExperimentFinished:
        """Train until every run is done (or diverged), or until stopped. Returns the final event."""
        if self.device.type == "cpu":
            devices.keep_freed_cpu_memory()
        self.started = time.perf_counter()
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
            delivery = self.delivery
            while not self._stop.is_set():
                self.control.apply_commands()
                if self.control.paused or self._all_finished():
                    if not self._idle():
                        break
                    continue
                self.meter.start()
                stats_due = self.measurements.cadence.due(self.step)
                x, y = self._next_batch()
                self._train_step(x, y, stats_due)
                self.step += 1
                delivery.buffered += 1
                self.meter.count(y.shape[-1] * len(self.records))
                if (stats_due or delivery.buffered == self.stack.buffer_steps
                        or time.perf_counter() - delivery.flushed_at >= PROGRESS_EVERY_S):
                    self._flush()
                if self.measurements.spectrum_captured:  # after the flush: the step's progress is on its way
                    with self.meter.stopped():
                        self.measurements.measure_spectra()
                if self.step >= delivery.next_run_end:
                    # a run has trained its last step: make it stop before the next one
                    self._flush(wait=True)
                if self.step % self.steps_per_epoch == 0:
                    self._flush()
                    self._evaluate()
                self._deliver()
            if self._stop.is_set():
                status = "stopped"
                # commands sent before the stop still count: the log records every change the user made
                self.control.apply_commands()
                self._flush(wait=True)
        except Exception as error:  # reported as an event; the caller decides how to show it
            status, message = "error", f"{type(error).__name__}: {error}"
        self.meter.stop()
        self.meter.lap()
        finished = ExperimentFinished(
            status=status,
            step=self.step,
            elapsed_s=time.perf_counter() - self.started,
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
        self.measurements = Measurements(self, self._cpu_data.train_images, self._input_second_moment)
        # the mean-field correlations of the first runs before training's clock starts (about 0.5 s a tanh run of
        # 30 layers); a run changed later is predicted when its first spectrum is measured
        for run in self.records:
            self.measurements.correlation_theory(run.spec)
        self._allocate_batch()
        # a seed sets a run's batch order too: each seed group draws its batches from its own generator, as the
        # experiment of that seed alone draws them from its one
        self._batch_generators = [torch.Generator().manual_seed(seed) for seed in self.config.run_seeds]
        self._epoch_order: torch.Tensor | None = None
        self.delivery = Delivery(self)
        self.delivery.schedule_run_end()

    def take_run_id(self) -> int:
        """A new run's id: the next after every id given so far."""
        self._next_id += 1
        return self._next_id - 1

    def move_to(self, device: torch.device) -> None:
        """Train on ``device`` from now on, from the current weights and optimiser state."""
        self.device = device
        self.data = self._cpu_data.to(device)
        self.stack.to(device)
        self._allocate_batch()
        if self._epoch_order is not None:
            self._epoch_order = self._epoch_order.to(device)

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
            self.measurements.statistics_step(x, y)
        elif self.cuda_graphs and devices.supports_graphs(self.device) and x is self._batch_x:
            try:
                self.stack.graph_step(x, y)
            except GraphCaptureFailed as error:  # the step was trained eagerly; so will the next ones be
                self.cuda_graphs = False
                self.emit(Notice(f"CUDA graphs are off, training goes on without them: {error}", "warning"))
        else:
            self.stack.train_step(x, y)

    # ------------------------------------------------------------------ from the device to events
    def _flush(self, wait: bool = False) -> None:
        self.delivery.flush(wait)

    def _deliver(self, wait: bool = False) -> None:
        self.delivery.deliver(wait)

    def _evaluate(self) -> None:
        self.delivery.evaluate()

    # ------------------------------------------------------------------ idle: paused, or every run finished
    def _all_finished(self) -> bool:
        return all(run.status in ("done", "diverged") for run in self.records)

    def _idle(self) -> bool:
        """Wait a moment for commands; False when the loop should end (finished, and not lingering)."""
        self.meter.stop()
        if not self.control.paused:
            self._flush()
            if self.delivery.evaluated_at != self.step:
                self._evaluate()
            self._deliver(wait=True)
            if not self.linger:
                return False
            if not self.control.announced_done:
                self.emit(StateChanged("done", self.step))
                self.control.announced_done = True
        time.sleep(PAUSE_POLL_S)
        return True

    # ------------------------------------------------------------------ inspection (tests, benchmarks)
    def run_weights(self, run_id: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Copies of one run's current weights and biases (call when the loop is not running)."""
        return self.stack.run_weights(run_id)
