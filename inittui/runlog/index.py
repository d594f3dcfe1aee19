"""An index of a run log, so that ``inittui view`` reads what the screen needs, not every event.

Opening a log reads it once, in large blocks, and keeps:

- every small event (started, runs, evaluation, state, device, notice, finished) and the latest progress;
- each run's loss and train-accuracy curves, decimated by min and max into a fixed number of buckets
  (:class:`~inittui.series.curve.MinMaxSeries`), and its test accuracies;
- for each statistics step (a ``layers`` line, nearly all of a log's bytes), only its step and its byte
  offset: a time cursor reads that one line when it lands on it.

``layers`` lines are recognised by their first bytes without being parsed; they are decoded when read, and a
line that then fails to decode is counted as skipped. :meth:`LogIndex.update` reads what was appended since,
so a growing log is followed incrementally. Undecodable lines are skipped and counted; a last line without
its newline is left for the next update (the writer may still be writing it).
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from inittui.core.events import Event, Evaluation, ExperimentStarted, LayerStats, RunRecord, RunsChanged, TrainProgress
from inittui.series.curve import MinMaxSeries
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import parse_line

BLOCK_BYTES = 8 << 20
CURVE_BUCKETS = 2048
# skipped line numbers kept for the notice (the count is always exact)
SKIPPED_KEPT = 20
DECODED_KEPT = 8
_LAYERS_PREFIX = re.compile(rb'\{"type":"layers","step":(\d+),')
_PROGRESS_PREFIX = b'{"type":"progress",'


def _last_progress_step(file, tail_bytes: int = 1 << 20) -> int:
    """The largest run step in the last progress line of the file's last ``tail_bytes``, or 0."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(size - tail_bytes, 0))
    tail = file.read()
    start = tail.rfind(_PROGRESS_PREFIX)
    end = tail.find(b"\n", start)
    if start < 0 or end < 0:
        return 0
    event = parse_line(tail[start:end])
    try:
        return max((int(step) for step in event.run_steps), default=0) if isinstance(event, TrainProgress) else 0
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class StatsEntry:
    """Where one statistics step's ``layers`` line is: ``length`` bytes at ``offset``, line ``line``."""

    step: int
    offset: int
    length: int
    line: int
    # how many small events came before it: where it falls among :attr:`LogIndex.events`
    events_before: int = 0


@dataclass
class RunCurves:
    """One run's curves, keyed by the run's own step (it restarts at 0 when the run restarts)."""

    loss: MinMaxSeries = field(default_factory=lambda: MinMaxSeries(CURVE_BUCKETS))
    accuracy: MinMaxSeries = field(default_factory=lambda: MinMaxSeries(CURVE_BUCKETS))
    # (run step, test accuracy) at each evaluation: one an epoch
    test: list[tuple[int, float]] = field(default_factory=list)
    step: int = 0
    # the experiment step at which this run (re)started: its statistics before it belong to an earlier spec
    started_at: int = 0

    @classmethod
    def sized(cls, expected_steps: int, **values: int) -> RunCurves:
        return cls(MinMaxSeries(CURVE_BUCKETS, expected_steps), MinMaxSeries(CURVE_BUCKETS, expected_steps), **values)


@dataclass
class IndexUpdate:
    """What one :meth:`LogIndex.update` found."""

    # the new small events in log order, progress aside
    events: list[Event] = field(default_factory=list)
    # the latest new progress event, and where it sits among ``events``
    progress: TrainProgress | None = None
    progress_position: int = 0
    new_stats: int = 0
    skipped: int = 0
    # a new ``started`` event: everything indexed before it was dropped
    restarted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.events or self.progress or self.new_stats or self.skipped or self.restarted)

    def ordered(self) -> list[Event]:
        """The new events in log order, the latest progress in its place: fold them in this order."""
        if self.progress is None:
            return list(self.events)
        return [*self.events[: self.progress_position], self.progress, *self.events[self.progress_position :]]


class LogIndex:
    """The run log at ``path`` (an ``events.jsonl``), indexed; see the module's docstring.

    Not thread-safe: call :meth:`update` and the readers from one thread (or hand results across).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # the run steps the log already reaches: the curves of the runs it starts with are sized for them
        self._expected_steps = 0
        self.offset = 0  # bytes read and indexed: the end of the last complete line
        self.lines = 0  # complete lines read
        self.skipped = 0
        self.skipped_lines: list[int] = []
        self._reset()

    @classmethod
    def open(cls, run_dir: Path) -> LogIndex:
        """Index a run directory's log as it is now (raises OSError if it cannot be read)."""
        index = cls(Path(run_dir) / EVENTS_FILE)
        index.update()
        return index

    def _reset(self) -> None:
        self.events: list[Event] = []
        self.latest_progress: TrainProgress | None = None
        self._progress_position = 0  # where the latest progress sits among ``events``
        self.curves: dict[int, RunCurves] = {}
        self._runs: dict[int, RunRecord] = {}
        self.stats: list[StatsEntry] = []
        self._decoded: OrderedDict[int, LayerStats | None] = OrderedDict()

    # ------------------------------------------------------------------ reading the file
    @property
    def truncated_tail(self) -> int:
        """Bytes after the last complete line: a line being written, or cut."""
        try:
            return max(os.path.getsize(self.path) - self.offset, 0)
        except OSError:
            return 0

    def update(self) -> IndexUpdate:
        """Index every complete line appended since the last call."""
        update = IndexUpdate()
        with open(self.path, "rb") as file:
            if self.offset == 0:
                self._expected_steps = _last_progress_step(file)
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
        return update

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
        match = _LAYERS_PREFIX.match(data, start, start + 48)
        if match is not None and data[stop - 1 : stop] == b"}":
            # a statistics step: only where it is; it is decoded when the cursor lands on it
            self.stats.append(StatsEntry(int(match.group(1)), base + start, stop - start, self.lines, len(self.events)))
            update.new_stats += 1
            return
        raw = data[start:stop]
        if not raw.strip():
            return
        event = parse_line(raw)
        if event is None or not self._fold(event, update):
            self._skip(self.lines, update)
        elif isinstance(event, LayerStats):  # a layers line written differently (spaces): index it all the same
            self.stats.append(StatsEntry(event.step, base + start, stop - start, self.lines, len(self.events)))
            update.new_stats += 1

    def _skip(self, line: int, update: IndexUpdate | None) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < SKIPPED_KEPT:
            self.skipped_lines.append(line)
        if update is not None:
            update.skipped += 1

    # ------------------------------------------------------------------ folding small events
    def _fold(self, event: Event, update: IndexUpdate) -> bool:
        """Take in one decoded event; False when its fields are not what the type says (a damaged line)."""
        try:
            if isinstance(event, ExperimentStarted):
                self._reset()
                update.events.clear()
                update.progress = None
                update.restarted = True
                update.new_stats = 0
                self._sync_runs(event.runs, 0)
            elif isinstance(event, RunsChanged):
                self._sync_runs(event.runs, event.step)
            elif isinstance(event, TrainProgress):
                self._fold_progress(event)
                self.latest_progress, self._progress_position = event, len(self.events)
                update.progress, update.progress_position = event, len(update.events)
                return True
            elif isinstance(event, Evaluation):
                for run_id, accuracy in zip(event.run_ids, event.test_acc):
                    curves = self.curves.get(run_id)
                    if curves is not None and accuracy is not None and math.isfinite(accuracy):
                        curves.test.append((curves.step, float(accuracy)))
            elif isinstance(event, LayerStats):
                return True
        except (TypeError, ValueError, AttributeError):
            return False
        self.events.append(event)
        update.events.append(event)
        return True

    def _sync_runs(self, infos: list[RunRecord], step: int) -> None:
        """The run table changed; a run with a new spec or fewer steps restarted: its curves start again."""
        for info in infos:
            known = self._runs.get(info.id)
            curves = self.curves.get(info.id)
            restarted = known is not None and (
                known.spec != info.spec or info.step < (curves.step if curves else 0)
            )
            if curves is None or restarted:
                # runs there from the start run to the end of the log; others start small and grow
                expected = self._expected_steps if step == 0 and not restarted else 0
                self.curves[info.id] = RunCurves.sized(expected, step=int(info.step), started_at=int(step))
            self._runs[info.id] = info

    def _fold_progress(self, event: TrainProgress) -> None:
        for run_id, run_step, losses, accuracies in zip(event.run_ids, event.run_steps, event.losses, event.accuracies):
            curves = self.curves.get(run_id)
            if curves is None or run_step < curves.step:
                curves = self.curves[run_id] = RunCurves(started_at=int(event.step) - len(losses))
            first = int(run_step) - len(losses) + 1
            curves.loss.extend(first, losses)
            curves.accuracy.extend(first, accuracies)
            curves.step = int(run_step)

    # ------------------------------------------------------------------ what the screen asks for
    def state_events(self) -> list[Event]:
        """The small events, the latest progress and the latest statistics, in log order: folded into the
        dashboard's state they give its latest table and header (the curves come from :attr:`curves`)."""
        placed: list[tuple[int, int, Event]] = [(i, 1, e) for i, e in enumerate(self.events)]
        if self.latest_progress is not None:
            placed.append((self._progress_position, 0, self.latest_progress))
        position = self._latest_readable()
        if position is not None:
            placed.append((self.stats[position].events_before, 0, self.layer_stats(position)))
        # a progress and a statistics step at the same place: the statistics came last
        placed.sort(key=lambda item: (item[0], item[1], isinstance(item[2], LayerStats)))
        return [event for _, _, event in placed]

    @property
    def steps(self) -> list[int]:
        """The statistics steps, in log order."""
        return [entry.step for entry in self.stats]

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

    def latest_layer_stats(self) -> LayerStats | None:
        """The last statistics step that decodes."""
        position = self._latest_readable()
        return None if position is None else self.layer_stats(position)

    def _latest_readable(self) -> int | None:
        for position in range(len(self.stats) - 1, -1, -1):
            if self.layer_stats(position) is not None:
                return position
        return None

    def position_at(self, step: int) -> int | None:
        """The position in :attr:`stats` of the last statistics step at or before ``step``; None if none."""
        low, high = 0, len(self.stats)
        while low < high:
            middle = (low + high) // 2
            if self.stats[middle].step <= step:
                low = middle + 1
            else:
                high = middle
        return low - 1 if low else None

    def spread_positions(self, count: int, since_step: int = 0) -> list[int]:
        """At most ``count`` positions in :attr:`stats` from ``since_step`` on, evenly spread, the last included:
        what a distributions-over-time chart of ``count`` columns reads."""
        first = self.position_at(since_step - 1)
        first = 0 if first is None else first + 1
        total = len(self.stats) - first
        if total <= 0 or count <= 0:
            return []
        if total <= count:
            return list(range(first, len(self.stats)))
        if count == 1:
            return [len(self.stats) - 1]
        return sorted({first + round(i * (total - 1) / (count - 1)) for i in range(count)})
