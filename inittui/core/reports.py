"""What a producer hands the dashboard beside the engine's events: where the run log is, what went wrong.
With the events they make :data:`Report`, the one type on the channel from a producer to the screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from inittui.core.events import Event


@dataclass
class DataUnavailable:
    """MNIST could not be loaded; ``message`` is the loader's one-line reason."""

    message: str


@dataclass
class LogStarted:
    """The run log is being written in ``run_dir``."""

    run_dir: Path


@dataclass
class LogWriteFailed:
    """Writing the run log failed (a full disk, an I/O error): it ends at its last complete line while
    training goes on. ``message`` is one line naming the file, the reason and that last line."""

    message: str


@dataclass
class Failed:
    """Producing events failed (the training process died, an error): ``message`` is one line for the user."""

    message: str


@dataclass
class WriterGone:
    """The process writing a followed run log is gone, and the log never said the experiment finished."""

    message: str


@dataclass
class SkippedLines:
    """Lines of a followed log that could not be read (damaged or cut), by their 1-based numbers."""

    lines: list[int]


Report = Union[Event, DataUnavailable, LogStarted, LogWriteFailed, Failed, WriterGone, SkippedLines]
