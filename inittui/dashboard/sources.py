"""Where the dashboard's events come from: live training, a run log being followed, or a fixed list.

Each source's :meth:`run` blocks (the app calls it from a thread worker) and hands every event to ``sink``,
which must be thread-safe. No Textual here: the sources are plain producers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inittui.core.config import ExperimentConfig
from inittui.core.events import Event, ExperimentFinished, ExperimentStarted, RunRecord
from inittui.core.reports import DataUnavailable, Failed, LogStarted, SkippedLines
from inittui.training.process import EngineProcess, train_for_dashboard

Sink = Callable[[Any], None]


@dataclass
class ProbeReady:
    results: list[Any] = field(default_factory=list)


class Source:
    read_only = True
    engine: Any = None

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.finished = threading.Event()

    def run(self, sink: Sink) -> None:
        try:
            self._produce(sink)
        except Exception as error:  # shown to the user, never a traceback over the dashboard
            sink(Failed(f"{type(error).__name__}: {error}"))
        finally:
            self.finished.set()

    def _produce(self, sink: Sink) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float) -> bool:
        return self.finished.wait(timeout)

    def close(self, timeout: float) -> bool:
        """Stop and wait up to ``timeout`` for the producer to finish (the log closes); True if it did."""
        self.stop()
        return self.wait(timeout)


class ReplaySource(Source):
    """A fixed list of events (snapshot tests, demos)."""

    def __init__(self, events: Iterable[Event]) -> None:
        super().__init__()
        self.events = list(events)

    def _produce(self, sink: Sink) -> None:
        for event in self.events:
            sink(event)


@dataclass
class RunCurvePoints:
    """One run's curves as the screen draws them: (step, value) pairs, decimated to at most a screen's width."""

    loss: list[tuple[float, float]]
    accuracy: list[tuple[float, float]]
    test: list[tuple[float, float]]
    # the experiment step at which the run's current spec started
    since: int = 0


@dataclass
class LogRead:
    """What the log index found, for the screen, after the events it found (each sent on its own): every
    run's curves whole, and where the time cursor reads steps."""

    curves: dict[int, RunCurvePoints]
    steps: Any  # a ui.state.IndexedSteps


class FollowSource(Source):
    """A run log, opened through its index (:mod:`inittui.runlog.index`): the latest state and the curves at
    screen resolution first, a statistics step read only when the time cursor lands on it; followed while
    another process appends, until the experiment finishes."""

    def __init__(self, run_dir: Path, poll_s: float = 0.25) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.poll_s = poll_s
        # the index is updated here and read by the UI thread when the cursor moves
        self.lock = threading.Lock()
        self.index: Any = None
        self._skipped_reported = 0

    def _produce(self, sink: Sink) -> None:
        from inittui.runlog.index import LogIndex
        from inittui.dashboard.state import IndexedSteps

        sink(LogStarted(self.run_dir))
        with self.lock:
            index = self.index = LogIndex.open(self.run_dir)
            events = index.state_events()
            if not events or not isinstance(events[0], ExperimentStarted):
                # the log's first line is lost: rebuild what it said from config.json, so the rest shows
                started = started_from_header(self.run_dir)
                events = [started, *events] if started is not None else events
            steps = IndexedSteps(lambda: index.steps, index.layer_stats, self.lock)
            read = LogRead(self._curves(), steps)
        self._send(events, read, sink)
        while not self._finished(index) and not self._stop.wait(self.poll_s):
            with self.lock:
                update = index.update()
                if not update.changed:
                    continue
                events = update.ordered()
                if update.new_stats:
                    latest = index.latest_layer_stats()
                    events += [latest] if latest is not None else []
                read = LogRead(self._curves(), steps)
            self._send(events, read, sink)

    def _send(self, events: list[Event], read: LogRead, sink: Sink) -> None:
        for event in events:
            sink(event)
        sink(read)
        lines = self.index.skipped_lines[self._skipped_reported :]
        if lines:
            self._skipped_reported += len(lines)
            sink(SkippedLines(lines))

    @staticmethod
    def _finished(index: Any) -> bool:
        return any(isinstance(event, ExperimentFinished) for event in index.events)

    def _curves(self) -> dict[int, RunCurvePoints]:
        from inittui.dashboard.state import MAX_POINTS

        def points(series: Any) -> list[tuple[float, float]]:
            return [(column.step, column.mean) for column in series.columns(MAX_POINTS) if column is not None]

        return {
            run_id: RunCurvePoints(points(curves.loss), points(curves.accuracy), list(curves.test), curves.started_at)
            for run_id, curves in self.index.curves.items()
        }


def started_from_header(run_dir: Path) -> ExperimentStarted | None:
    """An ExperimentStarted as far as ``config.json`` tells it (no device), or None if it cannot be read."""
    from inittui.core.errors import RunLogError
    from inittui.runlog.reader import read_config

    try:
        header = read_config(run_dir)
        config = ExperimentConfig.from_dict(header["config"])
    except (RunLogError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return ExperimentStarted(
        config=header["config"],
        device="",
        device_name="device not recorded (first log line damaged)",
        dataset=str(header.get("dataset", "")),
        total_steps=config.total_steps(),
        steps_per_epoch=config.steps_per_epoch(),
        runs=[RunRecord(index, spec) for index, spec in enumerate(config.runs)],
        time=0.0,
    )


class _TrainingSource(Source):
    """Trains ``config``; without MNIST it runs the random-input probe instead."""

    read_only = False

    def __init__(self, config: ExperimentConfig, *, data_dir: str | None = None, log_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.engine: Any = None

    def _show_probe(self, message: str, sink: Sink) -> None:
        from inittui.science.probe import run_probe

        self.read_only = True
        sink(DataUnavailable(message))
        seen = list(dict.fromkeys((spec.init, spec.activation) for spec in self.config.runs))
        sink(ProbeReady([run_probe([init], [activation], seed=self.config.seed)[0] for init, activation in seen]))

    def stop(self) -> None:
        super().stop()
        if self.engine is not None:
            self.engine.stop()


class LiveSource(_TrainingSource):
    """Trains in a thread of this process on data handed in (tests) or loaded here."""

    def __init__(self, config: ExperimentConfig, *, data: Any = None, **where: Any) -> None:
        super().__init__(config, **where)
        self.data = data

    def _produce(self, sink: Sink) -> None:
        from inittui.core.errors import DataError
        from inittui.training.data import load_mnist

        if self.data is None:
            try:
                self.data = load_mnist(self.data_dir)
            except DataError as error:
                self._show_probe(str(error), sink)
                return
        if not self._stop.is_set():
            train_for_dashboard(self.config, self.data, self.log_dir, sink, self._attach)

    def _attach(self, engine: Any) -> None:
        self.engine = engine
        if self._stop.is_set():
            engine.stop()


class ProcessSource(_TrainingSource):
    """Trains in a child process (see inittui.training.process), so drawing never slows training down."""

    def __init__(self, config: ExperimentConfig, **where: Any) -> None:
        super().__init__(config, **where)
        # multiprocessing's resource tracker is started with the process's stderr; once Textual has replaced
        # stderr, starting it fails ("bad value(s) in fds_to_keep"), so start it while the real one is there
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()

    def _produce(self, sink: Sink) -> None:
        import torch

        process = EngineProcess(
            self.config, data_dir=self.data_dir, log_dir=self.log_dir, threads=torch.get_num_threads()
        )
        process.start()
        self.engine = process
        if self._stop.is_set():
            process.stop()
        for item in process.events():
            if isinstance(item, DataUnavailable):
                self._show_probe(item.message, sink)
            else:
                sink(item)
        process.join(timeout=1.0)

    def close(self, timeout: float) -> bool:
        if super().close(timeout):
            return True
        if isinstance(self.engine, EngineProcess):
            self.engine.join(0)  # stuck: ended by force, so that no process outlives the dashboard
        return False
