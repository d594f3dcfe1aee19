"""The event pump between a producer thread and the screen: a thread-safe queue of reports tagged with the
producer's generation, drained into the view model at the frame rate (no Textual).

Reports that arrive often (progress, statistics, evaluations) wait for the next frame; any other report asks
for a drain at once (``wake``), so that a warning or a change of runs shows without waiting a frame.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

from inittui.core.events import Evaluation, LayerStats, TrainProgress
from inittui.core.reports import Report
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.sources import FollowSource, Source

# reports drawn only at the frame rate
BULK_REPORTS = (TrainProgress, LayerStats, Evaluation)
# what a report that cannot be shown (a bug, never a log line: the reader rejects those) raises
DROPPED_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


class EventPump:
    """Reports from the producer of generation :attr:`generation` into ``model``; older generations' are dropped."""

    def __init__(self, model: DashboardModel, wake: Callable[[], None]) -> None:
        self.model = model
        self.wake = wake
        self.generation = 0
        self._queue: queue.SimpleQueue[tuple[int, Report]] = queue.SimpleQueue()
        self.applied = 0

    def begin(self, source: Source) -> Callable[[Report], None]:
        """``source`` replaces the producer: the model starts afresh for it; returns the sink it reports to."""
        viewing = source.run_dir if isinstance(source, FollowSource) else None
        self.model.begin(read_only=source.read_only, viewing=viewing, steps=source.steps, live=not source.read_only)
        # the sink is called on the producer's thread
        self.generation += 1
        generation = self.generation

        def sink(report: Report) -> None:
            self._queue.put((generation, report))
            if not isinstance(report, BULK_REPORTS):
                self.wake()

        return sink

    def drain(self) -> set[str]:
        """Fold every queued report of the current producer; returns the parts of the screen they made stale."""
        dirty: set[str] = set()
        while True:
            try:
                generation, report = self._queue.get_nowait()
            except queue.Empty:
                return dirty
            if generation != self.generation:
                continue  # from an experiment that was replaced
            self.applied += 1
            try:
                dirty |= self.model.apply(report)
            except DROPPED_ERRORS as error:
                self.model.dropped += 1
                if self.model.dropped == 1:
                    self.model.notify(f"a report could not be shown ({type(error).__name__}: {error}); "
                                      "others may follow", "warning")
