"""An index of a run log, so that its readers decode what they need and no more.

Reading a log goes through it once, in large blocks:

- every event but the statistics steps is decoded and handed on as it is read, in log order, to be folded
  (:mod:`inittui.runlog.fold`), whether by ``inittui view`` or by ``inittui runs``; nothing of them is kept;
- each statistics step (a ``layers`` line, nearly all of a log's bytes) is recognised by its first bytes and
  only its step and byte offset are kept: a time cursor reads that one line when it lands on it. The newest
  step of what was read is decoded and handed on in its place among the events, for the latest state.

:meth:`LogIndex.update` reads what was appended since the last call, so a growing log is followed
incrementally. A line that does not decode into an event of the right shape is skipped and counted, the same
way for every reader; a last line without its newline is left for the next update (the writer may still be
writing it).
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inittui.core.events import Event, ExperimentStarted, LayerStats
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import parse_line

BLOCK_BYTES = 8 << 20
# skipped line numbers kept for the notice (the count is always exact)
SKIPPED_KEPT = 20
DECODED_KEPT = 8
# a statistics step's line, as the engine writes it or with any JSON spacing (another writer's, an editor's)
_LAYERS_PREFIX = re.compile(rb'\{\s*"type"\s*:\s*"layers"\s*,\s*"step"\s*:\s*(\d+)\s*,')
_LAYERS_PREFIX_BYTES = 64


@dataclass(frozen=True)
class StatsEntry:
    """Where one statistics step's ``layers`` line is: ``length`` bytes at ``offset``, line ``line``."""

    step: int
    offset: int
    length: int
    line: int


@dataclass
class IndexUpdate:
    """What one :meth:`LogIndex.update` found."""

    events: int = 0  # events handed on, the newest statistics step among them
    new_stats: int = 0
    skipped: int = 0
    # a new ``started`` event: every statistics step before it belonged to another experiment and was dropped
    restarted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.events or self.new_stats or self.skipped or self.restarted)


class LogIndex:
    """The run log at ``path`` (an ``events.jsonl``), indexed; see the module's docstring.

    Not thread-safe: call :meth:`update` and :meth:`layer_stats` from one thread, or under one lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0  # bytes read and indexed: the end of the last complete line
        self.lines = 0  # complete lines read
        self.skipped = 0
        self.skipped_lines: list[int] = []
        self.stats: list[StatsEntry] = []
        # the writer is known to be gone (see end)
        self.ended = False
        self._decoded: OrderedDict[int, LayerStats | None] = OrderedDict()

    @classmethod
    def of(cls, run_dir: Path) -> LogIndex:
        return cls(Path(run_dir) / EVENTS_FILE)

    @property
    def truncated_tail(self) -> int:
        """Bytes after the last complete line: a line being written, or cut."""
        try:
            return max(os.path.getsize(self.path) - self.offset, 0)
        except OSError:
            return 0

    @property
    def steps(self) -> list[int]:
        """The statistics steps, in log order."""
        return [entry.step for entry in self.stats]

    # ------------------------------------------------------------------ reading the file
    def update(self, on_event: Callable[[Event], None]) -> IndexUpdate:
        """Index every complete line appended since the last call, handing each event to ``on_event`` in log
        order, the newest statistics step among them (raises OSError if the log cannot be read)."""
        update = IndexUpdate()
        # events read since this update's newest statistics step: they follow it, so wait for it to be known
        self._after_stats: list[Event] = []
        self._newest: int | None = None
        self._on_event = on_event
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            pending = b""
            while True:
                block = file.read(BLOCK_BYTES)
                if not block:
                    break
                data = pending + block if pending else block
                end = data.rfind(b"\n")
                if end < 0:
                    pending = data  # one line longer than a block: keep reading
                    continue
                self._index_block(data, end, self.offset, update)
                self.offset += end + 1
                pending = data[end + 1 :]
        if self._newest is not None:
            newest = self._readable_before(self._newest, len(self.stats) - update.new_stats)
            if newest is not None:
                self._hand_on(newest, update)
        for event in self._after_stats:
            self._hand_on(event, update)
        return update

    def _hand_on(self, event: Event, update: IndexUpdate) -> None:
        update.events += 1
        self._on_event(event)

    def _event(self, event: Event, update: IndexUpdate) -> None:
        if self._newest is None:
            self._hand_on(event, update)
        else:
            self._after_stats.append(event)

    def _readable_before(self, position: int, first: int) -> LayerStats | None:
        """The statistics at ``position``, or at the one before it down to ``first`` if it is damaged."""
        for candidate in range(position, first - 1, -1):
            stats = self.layer_stats(candidate)
            if stats is not None:
                return stats
        return None

    def _index_block(self, data: bytes, end: int, base: int, update: IndexUpdate) -> None:
        """Index the complete lines of ``data[:end + 1]``, which starts at byte ``base`` of the file."""
        position = 0
        while position <= end:
            newline = data.find(b"\n", position, end + 1)
            self.lines += 1
            if newline > position:
                self._index_line(data, position, newline, base, update)
            position = newline + 1

    def _index_line(self, data: bytes, start: int, stop: int, base: int, update: IndexUpdate) -> None:
        match = _LAYERS_PREFIX.match(data, start, start + _LAYERS_PREFIX_BYTES)
        if match is not None and data[stop - 1 : stop] == b"}":
            # a statistics step: only where it is; it is decoded when asked for
            self._add_stats(StatsEntry(int(match.group(1)), base + start, stop - start, self.lines), update)
            return
        raw = data[start:stop]
        if raw.isspace():  # a blank line is no line (isspace, not strip: no copy of every line read)
            return
        event = parse_line(raw)
        if event is None:
            self._skip(self.lines, update)
        elif isinstance(event, LayerStats):  # a layers line written differently (spaces): indexed all the same
            self._add_stats(StatsEntry(event.step, base + start, stop - start, self.lines), update)
        else:
            if isinstance(event, ExperimentStarted):
                for held in self._after_stats:  # they followed a statistics step of the experiment that ended
                    self._hand_on(held, update)
                self._after_stats, self._newest = [], None
                self.stats.clear()
                self._decoded.clear()
                update.restarted, update.new_stats = True, 0
            self._event(event, update)

    def _add_stats(self, entry: StatsEntry, update: IndexUpdate) -> None:
        # the events held since the step before now precede a newer one: they go on
        held, self._after_stats = self._after_stats, []
        for event in held:
            self._hand_on(event, update)
        self.stats.append(entry)
        update.new_stats += 1
        self._newest = len(self.stats) - 1

    def _skip(self, line: int, update: IndexUpdate | None) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < SKIPPED_KEPT:
            self.skipped_lines.append(line)
        if update is not None:
            update.skipped += 1

    def end(self) -> int | None:
        """The writer is gone: a last line without its newline was cut, not being written. It is counted as
        skipped (once); returns its line number, or None when the log ends with a complete line."""
        if self.truncated_tail == 0 or self.ended:
            return None
        self.ended = True
        self._skip(self.lines + 1, None)
        return self.lines + 1

    # ------------------------------------------------------------------ statistics steps
    def layer_stats(self, position: int) -> LayerStats | None:
        """The statistics at ``position`` in :attr:`stats` (one line read), or None if that line is damaged."""
        if not 0 <= position < len(self.stats):
            raise IndexError(f"no statistics step at position {position} (there are {len(self.stats)})")
        if position in self._decoded:
            self._decoded.move_to_end(position)
            return self._decoded[position]
        entry = self.stats[position]
        with open(self.path, "rb") as file:
            file.seek(entry.offset)
            raw = file.read(entry.length)
        event = parse_line(raw)
        if not isinstance(event, LayerStats):
            event = None
            self._skip(entry.line, None)
        self._decoded[position] = event
        if len(self._decoded) > DECODED_KEPT:
            self._decoded.popitem(last=False)
        return event
