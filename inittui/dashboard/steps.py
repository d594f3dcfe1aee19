"""Where the time cursor finds statistics steps: those a live dashboard received, or a run log's, read one line
at a time through its index."""

from __future__ import annotations

import bisect
import threading
from typing import Protocol

from inittui.core.events import LayerStats
from inittui.runlog.index import LogIndex

# statistics steps a live dashboard keeps for its time cursor (a run log being viewed keeps only their offsets)
STEPS_KEPT = 128


class StepStore(Protocol):
    """``steps`` in increasing order, and each one's statistics (None when it cannot be read: a damaged log
    line). ``in_memory``: whether :meth:`read` is a lookup in memory (else a read from a file, which a caller
    may want off the UI thread)."""

    in_memory: bool

    @property
    def steps(self) -> list[int]: ...

    def read(self, position: int) -> LayerStats | None: ...


class RecentSteps:
    """The statistics a live dashboard has received: at most ``capacity`` steps. When full, every other one is
    dropped (the first and the latest stay), so the cursor still spans the whole run."""

    in_memory = True

    def __init__(self, capacity: int = STEPS_KEPT) -> None:
        self.capacity = capacity
        self.steps: list[int] = []
        self._stats: list[LayerStats] = []

    def add(self, event: LayerStats) -> None:
        if self.steps and event.step <= self.steps[-1]:
            # the same step again, or an earlier one (the experiment restarted): later ones no longer apply
            cut = bisect.bisect_left(self.steps, event.step)
            del self.steps[cut:], self._stats[cut:]
        self.steps.append(event.step)
        self._stats.append(event)
        if len(self.steps) > self.capacity:
            keep = [*range(0, len(self.steps) - 1, 2), len(self.steps) - 1]
            self.steps = [self.steps[i] for i in keep]
            self._stats = [self._stats[i] for i in keep]

    def read(self, position: int) -> LayerStats | None:
        return self._stats[position]


class IndexedSteps:
    """A run log's statistics steps, read through its index under ``lock`` (the producer thread updates the
    index while the UI reads it)."""

    in_memory = False

    def __init__(self, index: LogIndex, lock: threading.Lock) -> None:
        self._index, self._lock = index, lock

    @property
    def steps(self) -> list[int]:
        with self._lock:
            return self._index.steps

    def read(self, position: int) -> LayerStats | None:
        with self._lock:
            return self._index.layer_stats(position)
