"""A producer that plays training without training: a scripted list of reports, then it holds, like an
engine between steps, until stopped. Its target records the commands the keys send."""

from __future__ import annotations

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
    """Live training as the dashboard sees it (keys may act on it), made of ``reports``."""

    read_only = False

    def __init__(self, reports: Iterable[Report]) -> None:
        super().__init__()
        self.reports = list(reports)
        self.recorder = RecordingTarget()

    @property
    def target(self) -> RecordingTarget:
        return self.recorder

    def _produce(self, sink: Sink) -> None:
        for report in self.reports:
            sink(report)
        self._stop.wait()
