"""Where the dashboard's reports come from: live training, a run log being followed, or a fixed list.

Each source's :meth:`Source.run` blocks (the app calls it from a thread worker) and hands every report to
``sink``, which must be thread-safe. A source that trains offers a :class:`CommandTarget` for the keys that
act on training. No Textual here: the sources are plain producers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from inittui.core.commands import Command, Stop
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import (
    Event,
    ExperimentFinished,
    ExperimentStarted,
    Histogram,
    LayerStat,
    LayerStats,
    RunRecord,
)
from inittui.core.reports import DataUnavailable, Failed, LogStarted, Report, SkippedLines, WriterGone
from inittui.dashboard.steps import IndexedSteps, StepStore
from inittui.runlog.catalogue import started_from_header, writer_alive
from inittui.runlog.index import LogIndex
from inittui.training.process import EngineProcess, train_for_dashboard

if TYPE_CHECKING:
    from inittui.science.probe import ProbeResult
    from inittui.training.data import MNISTData
    from inittui.training.engine import Engine

Sink = Callable[[Report], None]
# polls of a followed log without a new line before its writer is checked on
QUIET_POLLS_BEFORE_CHECK = 8


class CommandTarget(Protocol):
    """What the keys that act on training send their commands to: an Engine, or the child process's handle."""

    def send(self, command: Command) -> None: ...


class Source:
    """A producer: :meth:`run` hands every report to a sink until there are no more or it is stopped."""

    #: whether keys may act on training (a log being viewed and the probe are read-only)
    read_only = True

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.finished = threading.Event()

    @property
    def target(self) -> CommandTarget | None:
        """Where commands go; None while there is nowhere (read-only, or training not started yet)."""
        return None

    @property
    def steps(self) -> StepStore | None:
        """Where the time cursor reads statistics steps; None: from those the dashboard receives."""
        return None

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

    def close(self, timeout: float) -> bool:
        """Stop and wait up to ``timeout`` for the producer to finish (the log closes); True if it did."""
        self.stop()
        return self.finished.wait(timeout)


class ReplaySource(Source):
    """A fixed list of reports (snapshot tests, demos)."""

    def __init__(self, reports: Iterable[Report]) -> None:
        super().__init__()
        self.reports = list(reports)

    def _produce(self, sink: Sink) -> None:
        for report in self.reports:
            sink(report)


class FollowSource(Source):
    """A run log, read through its index (:mod:`inittui.runlog.index`): every event but the statistics steps,
    in order, with the newest statistics step in its place, then followed while its writer appends, until
    the experiment finishes. The time cursor reads statistics steps one line at a time."""

    def __init__(self, run_dir: Path, poll_s: float = 0.25) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.poll_s = poll_s
        # the index is updated here and read by the UI thread when the cursor moves
        self.lock = threading.Lock()
        self.index = LogIndex.of(self.run_dir)
        self._steps = IndexedSteps(self.index, self.lock)
        self._skipped_reported = 0

    @property
    def steps(self) -> StepStore:
        return self._steps

    def _produce(self, sink: Sink) -> None:
        from inittui.core.errors import RunLogError
        from inittui.runlog.reader import read_config

        sink(LogStarted(self.run_dir))
        try:
            header = read_config(self.run_dir)
        except RunLogError:  # the header only tells whether the writer lives, and the runs if line 1 is lost
            header = {}
        first, finished = True, False

        def hand_on(event: Event | None) -> None:
            """Each event on to the screen; ``None``: the log has no event yet."""
            nonlocal first, finished
            if first and not isinstance(event, ExperimentStarted):
                # the log's first line is lost: rebuild what it said from config.json, so the rest shows
                started = started_from_header(header)
                if started is not None:
                    sink(started)
            first = False
            if event is None:
                return
            sink(event)
            finished = isinstance(event, ExperimentFinished) or (finished and not isinstance(event, ExperimentStarted))

        quiet = 0
        # whether the writer lives is asked as soon as the log is first read to its end, so that a log whose
        # writer is gone says so at once, not after QUIET_POLLS_BEFORE_CHECK polls of "running"
        asked = False
        while True:
            with self.lock:
                update = self.index.update(hand_on)
            if first:
                hand_on(None)
            self._report_skipped(sink)
            if finished:
                break
            if update.changed:
                quiet = 0
                continue
            quiet += 1
            if (quiet == QUIET_POLLS_BEFORE_CHECK or not asked) and not writer_alive(header):
                self._end(sink)
                sink(WriterGone(f"the process that wrote {self.run_dir} is gone without finishing; the log ends here"))
            asked = True
            if self._stop.wait(self.poll_s):
                return
        self._end(sink)

    def _report_skipped(self, sink: Sink) -> None:
        lines = self.index.skipped_lines[self._skipped_reported :]
        if lines:
            self._skipped_reported += len(lines)
            sink(SkippedLines(lines))

    def _end(self, sink: Sink) -> None:
        """Nobody writes the log any more: a cut last line is a damaged one."""
        with self.lock:
            line = self.index.end()
        if line is not None:
            self._skipped_reported += 1
            sink(SkippedLines([line]))

    def _send(self, events: list[Event], sink: Sink) -> bool:
        """Hand on the events (and the lines found damaged); True once the experiment has finished."""
        finished = False
        for event in events:
            sink(event)
            if isinstance(event, ExperimentStarted):
                finished = False
            elif isinstance(event, ExperimentFinished):
                finished = True
        lines = self.index.skipped_lines[self._skipped_reported :]
        if lines:
            self._skipped_reported += len(lines)
            sink(SkippedLines(lines))
        return finished


def probe_events(results: list[ProbeResult], dataset: str) -> list[Event]:
    """The random-input probe as an experiment of its own: one run per probed initialiser × activation, its
    layers measured once (no training: no loss, no gradient)."""
    runs = [RunRecord(run_id, RunSpec(result.init, result.activation), "probe") for run_id, result in enumerate(results)]
    layers = [
        [
            LayerStat(layer.mean, layer.std, layer.dead, layer.saturated, None, None, None, None,
                      {"activations": Histogram(layer.histogram.low, layer.histogram.high, layer.histogram.counts)})
            for layer in result.layers
        ]
        for result in results
    ]
    predicted = [[layer.predicted_std for layer in result.layers] for result in results]
    started = ExperimentStarted({"preset": "probe"}, "", "", dataset, 0, 1, runs, 0.0)
    return [started, LayerStats(0, [run.id for run in runs], layers, predicted)]


class _TrainingSource(Source):
    """Trains ``config``; without MNIST it shows the random-input probe instead."""

    read_only = False

    def __init__(self, config: ExperimentConfig, *, data_dir: str | None = None, log_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_dir = data_dir
        self.log_dir = log_dir
        self._target: CommandTarget | None = None

    @property
    def target(self) -> CommandTarget | None:
        return None if self.read_only else self._target

    def _show_probe(self, message: str, sink: Sink) -> None:
        from inittui.science.probe import run_probe

        self.read_only = True
        sink(DataUnavailable(message))
        seen = list(dict.fromkeys(self.config.runs))
        results = [run_probe([spec.init], [spec.activation], seed=self.config.seed)[0] for spec in seen]
        for event in probe_events(results, "no data: random-input probe"):
            sink(event)

    def stop(self) -> None:
        super().stop()
        if self._target is not None:
            self._target.send(Stop())


class LiveSource(_TrainingSource):
    """Trains in a thread of this process on data handed in (tests) or loaded here."""

    def __init__(self, config: ExperimentConfig, *, data: MNISTData | None = None, data_dir: str | None = None,
                 log_dir: Path | None = None) -> None:
        super().__init__(config, data_dir=data_dir, log_dir=log_dir)
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

    def _attach(self, engine: Engine) -> None:
        self._target = engine
        if self._stop.is_set():
            engine.stop()


class ProcessSource(_TrainingSource):
    """Trains in a child process (see inittui.training.process), so drawing never slows training down."""

    def __init__(self, config: ExperimentConfig, *, threads: int | None = None, data_dir: str | None = None,
                 log_dir: Path | None = None) -> None:
        super().__init__(config, data_dir=data_dir, log_dir=log_dir)
        self.threads = threads
        self.process: EngineProcess | None = None

    def _produce(self, sink: Sink) -> None:
        process = self.process = EngineProcess(self.config, data_dir=self.data_dir, log_dir=self.log_dir,
                                               threads=self.threads)
        process.start()
        self._target = process
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
        if self.process is not None:
            self.process.join(0)  # stuck: ended by force, so that no process outlives the dashboard
        return False
