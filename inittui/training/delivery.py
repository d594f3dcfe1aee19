"""From the device to events: the engine's per-step losses, accuracies, statistics and test evaluations travel
to the host as copies that do not wait for the GPU, and are emitted, in the order sent, once they have landed."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

import torch

from inittui.core.config import MNIST_CLASSES
from inittui.core.events import Evaluation, Event, TrainProgress
from inittui.training.devices import HostCopy, memory_in_use_mb

if TYPE_CHECKING:
    from inittui.training.engine import Engine

# evaluation goes through the test set in chunks of at most this many activation values ([runs, chunk, width])
EVAL_VALUES = 2**22


class ThroughputMeter:
    """Model-samples per second (one sample through one network counts one) over training time only: the
    clock stops while the engine evaluates on the test set, measures the Jacobian spectrum, is paused, or waits,
    done, for commands."""

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


class Delivery:
    """The copies on their way from ``engine``'s device, and what each becomes once it lands: progress that
    also ends the runs that have diverged or trained their last step, and test evaluations."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # steps trained since the last flush, whose losses wait on the device
        self.buffered = 0
        self.flushed_at = time.perf_counter()
        self.evaluated_at = -1
        # the step at which a running run trains its last step; the loop waits for its progress there
        self.next_run_end: float = math.inf
        self._steps_known_at = 0
        self._deliveries: deque[tuple[HostCopy | None, Callable[[list[torch.Tensor]], None]]] = deque()

    def flush(self, wait: bool = False) -> None:
        """Send the buffered steps' losses and accuracies (and the latest statistics) on their way to the host;
        with ``wait``, deliver everything sent so far before returning."""
        engine = self._engine
        if self.buffered:
            progress = partial(
                self._deliver_progress,
                step=engine.step,
                samples_per_s=engine.meter.lap(),
                elapsed_s=time.perf_counter() - engine.started,
                device_memory_mb=memory_in_use_mb(engine.device),
            )
            # a copy that lands in the background: bounding progress in time adds no wait for the GPU
            self._deliveries.append((engine.stack.take_progress(self.buffered), progress))
            self.buffered = 0
            self.flushed_at = time.perf_counter()
        for event in engine.measurements.take_pending():
            self._deliveries.append((None, partial(self._emit_measured, event)))
        self.deliver(wait)

    def deliver(self, wait: bool = False) -> None:
        """Handle, in the order sent, what has reached the host (with ``wait``, everything sent)."""
        while self._deliveries:
            copy, handle = self._deliveries[0]
            if not (wait or copy is None or copy.ready()):
                return
            self._deliveries.popleft()
            handle(copy.values() if copy is not None else [])

    def evaluate(self) -> None:
        """Test accuracy and loss of every run, emitted as an Evaluation once they reach the host."""
        engine = self._engine
        chunk = max(1, EVAL_VALUES // (len(engine.records) * max(engine.config.width, MNIST_CLASSES)))
        with engine.meter.stopped():
            accuracy, loss = engine.stack.evaluate(engine.data.test_images, engine.data.test_labels, chunk)
        self._deliveries.append((HostCopy([accuracy, loss]), partial(self._deliver_evaluation, step=engine.step)))
        self.evaluated_at = engine.step

    def schedule_run_end(self) -> None:
        """The step at which the next running run trains its last step, unless it diverges first."""
        engine = self._engine
        remaining = [engine.total_steps - run.step for run in engine.records if run.status == "running"]
        self.next_run_end = self._steps_known_at + min(remaining) if remaining else math.inf

    def _emit_measured(self, event: Event, _: list[torch.Tensor]) -> None:
        self._engine.emit(event)

    def _deliver_progress(
        self, values: list[torch.Tensor], *, step: int, samples_per_s: float, elapsed_s: float, device_memory_mb: float | None
    ) -> None:
        engine = self._engine
        losses, accuracies, steps, active = values
        positions = engine.stack.positions([run.id for run in engine.records])
        loss_rows, accuracy_rows = losses.T.tolist(), accuracies.T.tolist()
        steps_per_run, still_active = steps.tolist(), active.tolist()
        stopped = []
        with engine.records_lock:
            for run, position in zip(engine.records, positions):
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
                elif run.status == "running" and run.step >= engine.total_steps:
                    run.status = "done"
                    stopped.append(run.id)
        self._steps_known_at = step
        engine.emit(
            TrainProgress(
                step=step,
                epoch=step / engine.steps_per_epoch,
                run_ids=[run.id for run in engine.records],
                run_steps=[run.step for run in engine.records],
                losses=[[v if v == v else None for v in loss_rows[p]] for p in positions],
                accuracies=[[v if v == v else None for v in accuracy_rows[p]] for p in positions],
                samples_per_s=samples_per_s,
                elapsed_s=elapsed_s,
                device_memory_mb=device_memory_mb,
            )
        )
        if stopped:
            engine.stack.deactivate(stopped)
            engine.control.runs_changed("status")
        else:
            self.schedule_run_end()

    def _deliver_evaluation(self, values: list[torch.Tensor], *, step: int) -> None:
        engine = self._engine
        positions = engine.stack.positions([run.id for run in engine.records])
        accuracies, losses = ([row[p] for p in positions] for row in (values[0].tolist(), values[1].tolist()))
        with engine.records_lock:
            for run, accuracy in zip(engine.records, accuracies):
                run.test_acc = accuracy
                if run.best_test_acc is None or accuracy > run.best_test_acc:
                    run.best_test_acc = accuracy
        engine.emit(
            Evaluation(
                step=step,
                epoch=step / engine.steps_per_epoch,
                run_ids=[run.id for run in engine.records],
                test_acc=accuracies,
                test_loss=[v if math.isfinite(v) else None for v in losses],
            )
        )
