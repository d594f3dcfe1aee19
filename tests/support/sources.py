"""A producer that plays training without training: a scripted list of reports, then it holds, like an
engine between steps, until stopped. Its target records the commands the keys send."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from inittui.core.commands import Command
from inittui.core.reports import Report
from inittui.dashboard.sources import Sink, Source


class RecordingTarget:
    """Where a scripted source's commands go: kept, in order, in ``commands``."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def send(self, command: Command) -> None:
        self.commands.append(command)


class ScriptedSource(Source):
    """Live training as the dashboard sees it (keys may act on it), made of ``reports``, then of ``later``
    once :meth:`go_on` is called."""

    read_only = False

    def __init__(self, reports: Iterable[Report], later: Iterable[Report] = ()) -> None:
        super().__init__()
        self.reports, self.later = list(reports), list(later)
        self.recorder = RecordingTarget()
        self._go_on = threading.Event()

    @property
    def target(self) -> RecordingTarget:
        return self.recorder

    def go_on(self) -> None:
        self._go_on.set()

    def _produce(self, sink: Sink) -> None:
        for report in self.reports:
            sink(report)
        while not (self._go_on.wait(0.02) or self._stop.is_set()):
            pass
        if not self._stop.is_set():
            for report in self.later:
                sink(report)
        self._stop.wait()
