"""The dashboard's view model: everything the pages draw, with no Textual.

:class:`DashboardModel` folds a producer's reports (through the one fold of events, :mod:`inittui.runlog.fold`)
and holds what the user chose to see (:class:`ViewSettings`), the time cursor, the changes asked of the engine
and not yet confirmed, and what the producer said about itself (the run log, problems that last). Pages read it
through :mod:`inittui.dashboard.selectors`; keys change it through :mod:`inittui.dashboard.controller`.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from pathlib import Path

from inittui.core.config import RunSpec
from inittui.core.events import (
    HISTOGRAM_KINDS,
    Event,
    ExperimentFinished,
    ExperimentStarted,
    LayerStats,
    Notice,
    RunsChanged,
    TrainProgress,
)
from inittui.core.presets import PRESETS
from inittui.core.reports import (
    DataUnavailable,
    Failed,
    LogStarted,
    LogWriteFailed,
    Report,
    SkippedLines,
    WriterGone,
)
from inittui.dashboard.steps import RecentSteps, StepStore
from inittui.dashboard.window import StepWindow
from inittui.runlog.fold import CURVES, EVERYTHING, HEADER, LAYERS, TABLE, FoldedRun, RunFold
from inittui.runlog.reader import describe_lines

NOTICE_SEVERITY = {"info": "information", "warning": "warning", "error": "error"}
NO_DATA_HINT = (
    "Showing the random-input probe instead of training. Supply MNIST with --data-dir DIR "
    "or INITTUI_DATA_DIR=DIR (the four IDX files, .gz or raw)."
)
PAGE_NAMES = ("overview", "curves", "layers", "depth", "atlas")
# what to do once training has ended for good: said in the header and to every key that acts on training
NEW_TRAINING_HINT = "p starts new training"


@dataclass
class Notification:
    """A message for the user, shown once (a toast)."""

    message: str
    severity: str = "information"
    title: str = ""
    timeout: float | None = None


@dataclass
class ViewSettings:
    """What the user chose to see: the one place every page reads its selection and toggles from."""

    page: str = PAGE_NAMES[0]
    # the selected run's id; None before there are runs
    selected: int | None = None
    # the histogram source shown: activations, pre-activations, gradients or weights
    kind: str = HISTOGRAM_KINDS[0]
    # one layer of every run (histograms), every run (depth view); the layer counted modulo the depth, so
    # that -1 is the last
    compare: bool = False
    compare_layer: int = -1
    # the loss axis: None while chosen from the data (log once the losses span 10×), else the user's choice
    log_scale: bool | None = None
    smooth: bool = False
    sort_order: int = 0
    filter_text: str = ""
    # the histograms drawn over one range (what shows a collapse) or each over its layer's own (what shows a
    # deep layer's shape)
    shared_ranges: bool = True
    # where the layers page fits only one of them: distributions over time (True) or histograms
    layers_over_time: bool = False
    # each layer's distribution over time as a heatmap (False) or as percentile bands (True)
    distribution_bands: bool = False
    # where the depth view fits only one panel: which
    depth_panel: int = 0
    atlas_metric: str = "best_test_acc"
    # the seed groups (by ``init:activation``) the runs table shows seed by seed instead of as one row
    expanded_groups: set[str] = field(default_factory=set)
    # the runs whose curves are hidden (x), on every chart
    hidden_runs: set[int] = field(default_factory=set)
    # the full-screen chart's zoom, pan and value cursor
    chart_window: StepWindow = field(default_factory=StepWindow)


@dataclass
class Pending:
    """A change asked of the engine (request ``request``) and not yet confirmed: the run shows ``spec`` as
    starting, or, with ``spec`` None, is about to be removed."""

    request: int
    spec: RunSpec | None


@dataclass
class SourceStatus:
    """What the producer said about itself."""

    read_only: bool = False
    # the run log being viewed (read-only), or the one training writes
    viewing: Path | None = None
    run_dir: Path | None = None
    data_message: str = ""
    # problems that last, shown in red for as long as they hold (this source's)
    problems: list[str] = field(default_factory=list)
    # the training process died, or its log's writer is gone: keys that act on training cannot
    ended: str = ""


class DashboardModel:
    """Folds reports into the latest state; :meth:`apply` says which parts of the screen changed."""

    def __init__(self) -> None:
        self.view = ViewSettings()
        self.begin()

    def begin(self, *, read_only: bool = False, viewing: Path | None = None, steps: StepStore | None = None,
              live: bool = False) -> None:
        """A new producer: everything it told before goes (what the user chose to see stays). ``live``: it
        trains now, so the header's clock ticks between its progress reports."""
        self.fold = RunFold()
        self.status = SourceStatus(read_only=read_only, viewing=viewing)
        self.live = live
        self.steps: StepStore = steps if steps is not None else RecentSteps()
        self.cursor_step: int | None = None
        self.cursor_stats: LayerStats | None = None
        self.cursor_unreadable = False
        self.pending: dict[int, list[Pending]] = {}
        self._requests = 0
        self.notifications: list[Notification] = []
        # (the experiment's elapsed time in the latest progress, when it arrived; from the start, 0): the
        # header's clock ticks on from it
        self.clock: tuple[float, float] | None = None
        self.view.selected = None
        self.reports = 0
        self.dropped = 0

    # ------------------------------------------------------------------ folding
    @property
    def runs(self) -> dict[int, FoldedRun]:
        return self.fold.runs

    @property
    def experiment(self):  # noqa: ANN201 (an inittui.runlog.fold.Experiment)
        return self.fold.experiment

    def apply(self, report: Report) -> set[str]:
        """Fold one report; returns the parts of the screen it made stale."""
        self.reports += 1
        match report:
            case DataUnavailable(message):
                self.status.data_message = message
                self.status.read_only = True
                self.notify(f"{message}\n{NO_DATA_HINT}", "warning", "MNIST not found", 30)
                return {HEADER}
            case LogStarted(run_dir):
                self.status.run_dir = run_dir
                return {HEADER}
            case Failed(message):
                return self._ended(message, "The dashboard stays open with what it has.")
            case WriterGone(message):
                if self.experiment.finished is None:
                    self.experiment.state = "interrupted"
                return self._ended(message, "")
            case LogWriteFailed(message):
                self.status.problems.append(f"run log incomplete: {message}")
                self.notify(f"{message}\nTraining goes on; the log keeps every line before it.", "error",
                            "run log incomplete", 60)
                return {HEADER}
            case SkippedLines(lines):
                verb = "was" if len(lines) == 1 else "were"
                self.notify(f"{describe_lines(lines)} of the run log could not be read and {verb} skipped; "
                            "everything else is shown.", "warning", "damaged run log", 30)
                return set()
            case Event():
                return self._apply_event(report)
        raise TypeError(f"not a report: {report!r}")

    def _apply_event(self, event: Event) -> set[str]:
        dirty = self.fold.apply(event)
        match event:
            case ExperimentStarted():
                self._started()
                self.clock = (0.0, time.monotonic())
            case TrainProgress():
                self.clock = (self.experiment.elapsed_s, time.monotonic())
            case LayerStats():
                if isinstance(self.steps, RecentSteps):
                    self.steps.add(event)
            case RunsChanged(request=request) if request is not None:
                self._answered(request)
            case Notice(message, level, request):
                self.notify(message, NOTICE_SEVERITY.get(level, "information"))
                if request is not None:
                    self._answered(request)
            case ExperimentFinished(status="error", message=message):
                # the engine stopped on an error: say why, for as long as it holds, and refuse the keys
                self._ended(f"training failed: {message or 'the engine gave no reason'}", "")
            case ExperimentFinished():
                self.clock = None
        self._keep_selection()
        return dirty

    def _started(self) -> None:
        self.cursor_step, self.cursor_stats, self.pending = None, None, {}
        preset = PRESETS.get(self.experiment.preset)
        if preset is not None:  # what the preset is there to show, so the user knows what to look for
            self.notify(f"expected: {preset.expected}", title=f"{preset.name}: {preset.title}", timeout=12)

    def _ended(self, message: str, more: str) -> set[str]:
        """Training is over for good (its process died, the log's writer is gone): say so while it holds."""
        self.status.problems.append(message)
        self.status.ended = message
        self.pending = {}
        if self.experiment.state in ("starting", "running", "paused"):
            self.experiment.state = "stopped"
        self.clock = None
        self.notify(f"{message}\n{more}".strip(), "error", "training ended", 30)
        return {HEADER, TABLE}

    def notify(self, message: str, severity: str = "information", title: str = "", timeout: float | None = None) -> None:
        self.notifications.append(Notification(message, severity, title, timeout))

    def take_notifications(self) -> list[Notification]:
        taken, self.notifications = self.notifications, []
        return taken

    # ------------------------------------------------------------------ changes asked of the engine
    def request(self, run_ids: list[int], spec: RunSpec | None = None) -> int:
        """A request number for a change to these runs, shown at once until the engine answers it: each run
        as ``spec`` (None: as it is, restarting) starting; as it is means with a change asked before and not yet
        confirmed, which the engine applies first."""
        self._requests += 1
        for run_id in run_ids:
            run = self.runs.get(run_id)
            if run is not None:
                earlier = self.pending_change(run_id)
                kept = earlier.spec if earlier is not None and earlier.spec is not None else run.record.spec
                self.pending.setdefault(run_id, []).append(Pending(self._requests, spec or kept))
        return self._requests

    def request_removal(self, run_ids: list[int]) -> int:
        """A request number for removing these runs, hidden at once until the engine answers it."""
        self._requests += 1
        for run_id in run_ids:
            self.pending.setdefault(run_id, []).append(Pending(self._requests, None))
        self._keep_selection()
        return self._requests

    def _answered(self, request: int) -> None:
        """The engine answered ``request``: it and every earlier request are settled (it applies them in order)."""
        for run_id in list(self.pending):
            still = [pending for pending in self.pending[run_id] if pending.request > request]
            if still:
                self.pending[run_id] = still
            else:
                del self.pending[run_id]

    def pending_change(self, run_id: int) -> Pending | None:
        """The latest change asked for this run and not yet confirmed."""
        changes = self.pending.get(run_id)
        return changes[-1] if changes else None

    def shown_runs(self) -> list[FoldedRun]:
        """The runs the screen shows: all but those whose removal is asked for."""
        return [run for run in self.runs.values()
                if not (self.pending_change(run.id) and self.pending_change(run.id).spec is None)]

    # ------------------------------------------------------------------ selection
    def _keep_selection(self) -> None:
        shown = self.shown_runs()
        if not shown:
            self.view.selected = None
        elif self.view.selected is None or self.view.selected not in {run.id for run in shown}:
            ids = [run.id for run in self.runs.values()]
            gone = self.view.selected
            # the run that was after the removed one takes its place; else the first
            after = ids.index(gone) if gone in ids else 0
            candidates = [run.id for run in shown if ids.index(run.id) >= after] or [shown[-1].id]
            self.view.selected = candidates[0]

    @property
    def selected(self) -> FoldedRun | None:
        return None if self.view.selected is None else self.runs.get(self.view.selected)

    # ------------------------------------------------------------------ the time cursor
    def move_cursor(self, delta: int) -> set[str]:
        """``delta`` statistics steps back (negative) or on; past the latest step the cursor is live again."""
        steps = self.steps.steps
        if not steps:
            return set()
        here = len(steps) - 1 if self.cursor_step is None else max(bisect.bisect_right(steps, self.cursor_step) - 1, 0)
        target = here + delta
        if target >= len(steps) - 1 and delta > 0:
            return self.cursor_to_live()
        return self.cursor_to(steps[min(max(target, 0), len(steps) - 1)])

    def cursor_to_first(self) -> set[str]:
        steps = self.steps.steps
        return self.cursor_to(steps[0]) if steps else set()

    def cursor_to_live(self) -> set[str]:
        if self.cursor_step is None:
            return set()
        self.cursor_step, self.cursor_stats, self.cursor_unreadable = None, None, False
        return set(EVERYTHING)

    def cursor_to(self, step: int) -> set[str]:
        """The cursor on the last statistics step at or before ``step``."""
        steps = self.steps.steps
        position = bisect.bisect_right(steps, step) - 1
        if position < 0:
            return set()
        self.cursor_step = steps[position]
        self.cursor_stats = self.steps.read(position)
        self.cursor_unreadable = self.cursor_stats is None
        return set(EVERYTHING)

    def cursor_label(self) -> str:
        """``step N of M (cursor)`` while the cursor is not live, else empty."""
        if self.cursor_step is None:
            return ""
        return f"step {self.cursor_step:,} of {max(self.experiment.step, self.cursor_step):,} (cursor)"

    # ------------------------------------------------------------------ the header's clock
    def elapsed_s(self, now: float | None = None) -> float:
        """The experiment's training time: the latest progress's, ticking on while it runs."""
        if not self.live or self.clock is None or self.experiment.state != "running":
            return self.experiment.elapsed_s
        elapsed, arrived = self.clock
        return elapsed + max((time.monotonic() if now is None else now) - arrived, 0.0)

    def silent_s(self, now: float | None = None) -> float | None:
        """Seconds since training last reported progress (or started) while it runs; None otherwise."""
        if not self.live or self.clock is None or self.experiment.state != "running":
            return None
        return max((time.monotonic() if now is None else now) - self.clock[1], 0.0)


__all__ = ["CURVES", "DashboardModel", "HEADER", "LAYERS", "Notification", "PAGE_NAMES", "Pending", "TABLE",
           "ViewSettings"]
