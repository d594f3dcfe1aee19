"""What a caller may ask of a training engine, as small frozen dataclasses (standard library only).

The same command objects go to an Engine training in a thread (``engine.send(Restart(2))``) and to one in a
child process (``process.send(Restart(2))``, pickled across a queue). The engine applies them between two
training steps, in the order sent. A command that changes the runs may carry a ``request`` number: the engine
answers it with exactly one event carrying that number, the RunsChanged that applied it or the Notice that
says why not, so that a screen showing the change ahead of the engine knows when it is confirmed.

:class:`Restart`, :class:`SetRun` and :class:`RemoveRun` name one run and may name more (``with_runs``: the
other seeds of its seed group): all are changed between the same two steps and answered once, so that the
seeds of a group start again together, as the group trained from the first step did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from inittui.core.config import RunSpec


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class TogglePause:
    pass


@dataclass(frozen=True)
class Stop:
    """Finish training: commands sent before it are still applied, and the log gets its final event."""


@dataclass(frozen=True)
class Restart:
    """Fresh weights (the run's next draw) and optimiser state for one run (and ``with_runs``); the others go on."""

    run_id: int
    request: int | None = None
    with_runs: tuple[int, ...] = ()

    @property
    def run_ids(self) -> tuple[int, ...]:
        return (self.run_id, *self.with_runs)


@dataclass(frozen=True)
class RestartAll:
    request: int | None = None


@dataclass(frozen=True)
class SetRun:
    """Change one run's (and ``with_runs``') initialiser and/or activation (None keeps it); each restarts from
    the first draw of its own seed, the others go on."""

    run_id: int
    init: str | None = None
    activation: str | None = None
    request: int | None = None
    with_runs: tuple[int, ...] = ()

    @property
    def run_ids(self) -> tuple[int, ...]:
        return (self.run_id, *self.with_runs)


@dataclass(frozen=True)
class AddRun:
    spec: RunSpec
    request: int | None = None


@dataclass(frozen=True)
class RemoveRun:
    """Remove one run (and ``with_runs``); refused where no run would be left."""

    run_id: int
    request: int | None = None
    with_runs: tuple[int, ...] = ()

    @property
    def run_ids(self) -> tuple[int, ...]:
        return (self.run_id, *self.with_runs)


@dataclass(frozen=True)
class SetDevice:
    """Move training to ``device`` (cpu, cuda, cuda:N), continuing from the current weights and optimiser state."""

    device: str


# the commands the engine answers with one event carrying their ``request``
RUN_COMMANDS = (Restart, RestartAll, SetRun, AddRun, RemoveRun)

Command = Union[Pause, Resume, TogglePause, Stop, Restart, RestartAll, SetRun, AddRun, RemoveRun, SetDevice]
