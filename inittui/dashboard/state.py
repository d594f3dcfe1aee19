"""What the dashboard knows, folded from events: plain Python, no Textual.

The UI thread drains the event queue into :class:`DashboardState` at the frame rate; widgets then draw the
latest values. Everything is keyed by run id (runs come and go), never by position.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from inittui.core.events import (
    HISTOGRAM_KINDS,
    DeviceChanged,
    Evaluation,
    Event,
    ExperimentFinished,
    ExperimentStarted,
    Histogram,
    LayerStat,
    LayerStats,
    Notice,
    RunRecord,
    RunsChanged,
    StateChanged,
    TrainProgress,
)

# one colour per run id, the same in the table, the curves and the histograms
RUN_COLOURS = (
    "#e06c75",  # red
    "#61afef",  # blue
    "#98c379",  # green
    "#e5c07b",  # yellow
    "#c678dd",  # magenta
    "#56b6c2",  # cyan
    "#d19a66",  # orange
    "#abb2bf",  # grey
)
# a curve keeps at most this many points: when it fills up, its points are reduced to the minimum and the
# maximum of each of SERIES_COLUMNS equal stretches of x, so spikes survive and memory stays bounded. A chart
# half as wide as a 220-column terminal has about 210 braille pixel columns: more would not be seen.
MAX_POINTS = 1024
SERIES_COLUMNS = 256
# statistics steps a live dashboard keeps for its time cursor (a run log being viewed keeps only their offsets)
STEPS_KEPT = 128


def run_colour(run_id: int) -> str:
    return RUN_COLOURS[run_id % len(RUN_COLOURS)]


@dataclass
class LayerView:
    """One hidden layer as the histogram panel draws it, from training statistics or from the probe."""

    histograms: dict[str, Histogram]
    measured: dict[str, float | None]
    predicted: dict[str, float | None]
    dead: float | None = None
    saturated: float | None = None
    # the depth view's numbers: std of ∂loss/∂activation, ‖∂loss/∂W‖ and ‖ΔW‖/‖W‖ of the last update
    gradient_std: float | None = None
    weight_gradient_norm: float | None = None
    update_ratio: float | None = None

    @classmethod
    def from_stat(cls, stat: LayerStat, predicted_std: float | None) -> LayerView:
        return cls(
            histograms=stat.histograms,
            measured={
                "activations": stat.std,
                "preactivations": stat.preactivation_std,
                "gradients": stat.grad_norm,
                "weights": stat.weight_std,
            },
            predicted={"activations": predicted_std, "weights": stat.predicted_weight_std},
            dead=stat.dead,
            saturated=stat.saturated,
            gradient_std=stat.activation_grad_std,
            weight_gradient_norm=stat.grad_norm,
            update_ratio=stat.update_ratio,
        )


def minmax_decimate(x: np.ndarray, y: np.ndarray, columns: int) -> np.ndarray:
    """Indices of the points to keep: the first and last, and the lowest and highest point of each of
    ``columns`` equal stretches of x. ``x`` must be sorted and finite, ``y`` free of NaN."""
    if x.size <= 2 * columns:
        return np.arange(x.size)
    with np.errstate(over="ignore", invalid="ignore"):
        position = (x - x[0]) / (x[-1] - x[0]) * columns
    column = np.clip(np.nan_to_num(position, nan=0.0), 0, columns - 1).astype(np.int64)
    starts = np.flatnonzero(np.diff(column, prepend=-1))
    ends = np.append(starts[1:], x.size)
    # sorted by stretch, then by y: each stretch's first entry is its lowest point, its last the highest
    order = np.lexsort((y, column))
    return np.unique(np.concatenate([[0, x.size - 1], order[starts], order[ends - 1]]))


class Series:
    """A curve in increasing x (steps), bounded in length with its extremes kept.

    ``x`` and ``y`` are float arrays. NaN and non-finite x are dropped; ±inf y is kept (it is a value beyond
    any axis, drawn at the edge).
    """

    def __init__(self) -> None:
        self._x = np.empty(MAX_POINTS + 1)
        self._y = np.empty(MAX_POINTS + 1)
        self._count = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self._count]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._count]

    def __len__(self) -> int:
        return self._count

    def append(self, x: float, y: float) -> None:
        if not math.isfinite(x) or math.isnan(y) or (self._count and x < self._x[self._count - 1]):
            return
        self._x[self._count] = x
        self._y[self._count] = y
        self._count += 1
        if self._count > MAX_POINTS:
            keep = minmax_decimate(self.x, self.y, SERIES_COLUMNS)
            self._count = keep.size
            self._x[: keep.size] = self._x[keep]
            self._y[: keep.size] = self._y[keep]

    def clear(self) -> None:
        self._count = 0

    def at(self, x: float) -> int | None:
        """The index of the last point at or before ``x``, or None if there is none."""
        index = int(np.searchsorted(self.x, x, side="right")) - 1
        return index if index >= 0 else None


@dataclass
class RunState:
    id: int
    init: str
    activation: str
    status: str = "running"
    step: int = 0
    train_loss: float | None = None
    train_acc: float | None = None
    test_acc: float | None = None
    best_test_acc: float | None = None
    loss: Series = field(default_factory=Series)
    accuracy: Series = field(default_factory=Series)
    test: Series = field(default_factory=Series)
    layers: list[LayerView] = field(default_factory=list)
    # the experiment step at which this run's current spec started (its own step counts from there)
    since: int = 0
    # the statistics step ``layers`` were measured at
    layers_step: int = 0
    # (init, activation) pairs asked of the engine and not yet confirmed by it, oldest first
    pending: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.init}:{self.activation}"

    @property
    def colour(self) -> str:
        return run_colour(self.id)

    @property
    def dead(self) -> float | None:
        return _mean([layer.dead for layer in self.layers])

    @property
    def saturated(self) -> float | None:
        return _mean([layer.saturated for layer in self.layers])

    def reset(self) -> None:
        """The run restarted: its history no longer applies."""
        self.step = 0
        self.train_loss = self.train_acc = self.test_acc = self.best_test_acc = None
        self.loss.clear()
        self.accuracy.clear()
        self.test.clear()
        self.layers = []
        self.layers_step = 0


def _layer_views(event: LayerStats, index: int, layers: list[LayerStat]) -> list[LayerView]:
    """The views of the layers of the ``index``-th run of ``event``."""
    predicted = event.predicted_std[index] if index < len(event.predicted_std) else []
    return [
        LayerView.from_stat(stat, predicted[layer] if layer < len(predicted) else None)
        for layer, stat in enumerate(layers)
    ]


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return sum(known) / len(known) if known else None


# the parts of the screen an event can make stale
HEADER, TABLE, CURVES, HISTOGRAMS = "header", "table", "curves", "histograms"


class StepStore(Protocol):
    """Where the time cursor finds statistics steps: ``steps`` in increasing order, and each one's statistics
    (None when it cannot be read: a damaged log line)."""

    @property
    def steps(self) -> list[int]: ...

    # whether ``read`` is a lookup in memory (else a read from a file, which a caller may want off the UI thread)
    in_memory: bool

    def read(self, position: int) -> LayerStats | None: ...


class RecentSteps:
    """The statistics a live dashboard has received, for its time cursor: at most ``capacity`` steps. When
    full, every other one is dropped (the first and the latest stay), so the cursor still spans the whole run."""

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
    """A run log's statistics steps, read from the log one line at a time (``read``, e.g. a LogIndex's
    ``layer_stats``, called under ``lock`` when another thread updates the index)."""

    in_memory = False

    def __init__(self, steps: Callable[[], list[int]], read: Callable[[int], LayerStats | None], lock: Any = None) -> None:
        self._steps, self._read, self._lock = steps, read, lock

    @property
    def steps(self) -> list[int]:
        return self._steps()

    def read(self, position: int) -> LayerStats | None:
        if self._lock is None:
            return self._read(position)
        with self._lock:
            return self._read(position)


class DashboardState:
    """Folds events into the latest numbers per run; :meth:`apply` says which parts of the screen changed."""

    def __init__(self) -> None:
        self.runs: dict[int, RunState] = {}
        self.config: dict[str, Any] = {}
        self.preset = ""
        self.device = ""
        self.device_name = ""
        self.dataset = ""
        self.state = "starting"
        self.step = 0
        self.epoch = 0.0
        self.total_steps = 0
        self.steps_per_epoch = 1
        self.samples_per_s = 0.0
        self.elapsed_s = 0.0
        self.device_memory_mb: float | None = None
        self.notices: list[Notice] = []
        self.finished: ExperimentFinished | None = None
        self.probe = False
        # the time cursor: the statistics step shown, None while live, and that step's layers per run
        self.step_store: StepStore = RecentSteps()
        self.cursor_step: int | None = None
        self._cursor_layers: dict[int, list[LayerView]] = {}
        self.cursor_unreadable = False

    # ------------------------------------------------------------------ folding
    def apply(self, event: Event) -> set[str]:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        return handler(event) if handler is not None else set()

    def _sync_runs(self, infos: list[RunRecord]) -> None:
        runs: dict[int, RunState] = {}
        for info in infos:
            run = self.runs.get(info.id)
            spec = (info.spec.init, info.spec.activation)
            if run is None:
                run = RunState(info.id, info.spec.init, info.spec.activation, since=max(self.step - info.step, 0))
            elif run.pending:
                # the engine confirms requests in order; until it has the latest, the screen shows that one
                if spec in run.pending:
                    del run.pending[: run.pending.index(spec) + 1]
                if run.pending:
                    runs[info.id] = run
                    continue
                run.reset()
                run.since = max(self.step - info.step, 0)
            elif (run.init, run.activation) != spec or info.step < run.step:
                run.reset()
                run.since = max(self.step - info.step, 0)
            run.init, run.activation, run.status, run.step = info.spec.init, info.spec.activation, info.status, info.step
            runs[info.id] = run
        self.runs = runs

    def request_spec(self, run: RunState, init: str, activation: str) -> None:
        """The user asked for ``init:activation`` on ``run``: shown at once, until the engine confirms it."""
        run.pending.append((init, activation))
        run.reset()
        run.since = self.step
        run.init, run.activation, run.status = init, activation, "starting"

    def _on_ExperimentStarted(self, event: ExperimentStarted) -> set[str]:
        self.__init__()
        self.config = event.config
        self.preset = str(event.config.get("preset", ""))
        self.device, self.device_name = event.device, event.device_name
        self.dataset = event.dataset
        self.total_steps, self.steps_per_epoch = event.total_steps, max(event.steps_per_epoch, 1)
        self.state = "running"
        self._sync_runs(event.runs)
        return {HEADER, TABLE, CURVES, HISTOGRAMS}

    def _on_RunsChanged(self, event: RunsChanged) -> set[str]:
        self._sync_runs(event.runs)
        return {TABLE, CURVES, HISTOGRAMS}

    def _on_TrainProgress(self, event: TrainProgress) -> set[str]:
        self.step, self.epoch = event.step, event.epoch
        self.samples_per_s, self.elapsed_s = event.samples_per_s, event.elapsed_s
        self.device_memory_mb = event.device_memory_mb
        for run_id, run_step, losses, accuracies in zip(event.run_ids, event.run_steps, event.losses, event.accuracies):
            run = self.runs.get(run_id)
            if run is None or run.pending:
                continue  # unknown, or still training what the user has already left
            if run_step < run.step:
                run.reset()
                run.since = max(event.step - run_step, 0)
            run.step = run_step
            known = [v for v in losses if v is not None]
            if known:
                run.train_loss = known[-1]
                run.loss.append(run_step, sum(known) / len(known))
            hits = [v for v in accuracies if v is not None]
            if hits:
                run.train_acc = sum(hits) / len(hits)
                run.accuracy.append(run_step, run.train_acc)
        return {HEADER, TABLE, CURVES}

    def _on_LayerStats(self, event: LayerStats) -> set[str]:
        if isinstance(self.step_store, RecentSteps):
            self.step_store.add(event)
        for index, (run_id, layers) in enumerate(zip(event.run_ids, event.layers)):
            run = self.runs.get(run_id)
            if run is None or run.pending:
                continue
            run.layers = _layer_views(event, index, layers)
            run.layers_step = event.step
        return {TABLE, HISTOGRAMS}

    def _on_Evaluation(self, event: Evaluation) -> set[str]:
        for run_id, accuracy in zip(event.run_ids, event.test_acc):
            run = self.runs.get(run_id)
            if run is None or run.pending or accuracy is None:
                continue
            run.test_acc = accuracy
            run.best_test_acc = accuracy if run.best_test_acc is None else max(run.best_test_acc, accuracy)
            run.test.append(run.step, accuracy)
        return {TABLE, CURVES}

    def _on_StateChanged(self, event: StateChanged) -> set[str]:
        self.state = event.state
        return {HEADER, TABLE}

    def _on_DeviceChanged(self, event: DeviceChanged) -> set[str]:
        self.device, self.device_name = event.device, event.device_name
        return {HEADER}

    def _on_Notice(self, event: Notice) -> set[str]:
        self.notices.append(event)
        return set()

    def _on_ExperimentFinished(self, event: ExperimentFinished) -> set[str]:
        self.finished = event
        self.state = event.status
        self.step = event.step
        for result in event.results:
            run = self.runs.get(result.id)
            if run is not None and run.status == "running" and event.status != "done":
                run.status = event.status
        return {HEADER, TABLE}

    # ------------------------------------------------------------------ probe (no data)
    def show_probe(self, results: list[Any], dataset: str) -> None:
        """The random-input probe in place of training: one pseudo-run per probed init:activation."""
        self.__init__()
        self.probe = True
        self.state = "probe"
        self.dataset = dataset
        self.preset = "probe"
        for run_id, result in enumerate(results):
            run = RunState(run_id, result.init, result.activation, status="probe")
            run.layers = [
                LayerView(
                    histograms={"activations": layer.histogram},
                    measured={"activations": layer.std},
                    predicted={"activations": layer.predicted_std},
                    dead=layer.dead,
                    saturated=layer.saturated,
                )
                for layer in result.layers
            ]
            self.runs[run_id] = run

    # ------------------------------------------------------------------ time cursor
    def use_steps(self, store: StepStore) -> None:
        """Read the cursor's statistics from ``store`` (a run log's index) instead of keeping them."""
        self.step_store = store
        if self.cursor_step is not None:
            self._load_cursor(self.cursor_step)

    def load_curves(self, curves: dict[int, Any]) -> set[str]:
        """Every run's curves from a run log's index (``RunCurvePoints``), in place of what events added."""
        for run_id, points in curves.items():
            run = self.runs.get(run_id)
            if run is None or run.pending:
                continue
            run.since = points.since
            for series, values in ((run.loss, points.loss), (run.accuracy, points.accuracy), (run.test, points.test)):
                series.clear()
                for x, y in values:
                    series.append(x, y)
        return {CURVES, TABLE}

    def move_cursor(self, delta: int) -> set[str]:
        """``delta`` statistics steps back (negative) or on; past the latest step the cursor is live again."""
        steps = self.step_store.steps
        if not steps:
            return set()
        here = len(steps) - 1 if self.cursor_step is None else max(bisect.bisect_right(steps, self.cursor_step) - 1, 0)
        target = here + delta
        if target >= len(steps) - 1 and delta > 0:
            return self.cursor_to_live()
        return self._load_cursor(steps[min(max(target, 0), len(steps) - 1)])

    def cursor_to_first(self) -> set[str]:
        steps = self.step_store.steps
        return self._load_cursor(steps[0]) if steps else set()

    def cursor_to_live(self) -> set[str]:
        if self.cursor_step is None:
            return set()
        self.cursor_step = None
        self._cursor_layers = {}
        self.cursor_unreadable = False
        return {HEADER, TABLE, CURVES, HISTOGRAMS}

    def _load_cursor(self, step: int) -> set[str]:
        steps = self.step_store.steps
        position = bisect.bisect_right(steps, step) - 1
        if position < 0:
            return set()
        self.cursor_step = steps[position]
        event = self.step_store.read(position)
        self.cursor_unreadable = event is None
        self._cursor_layers = {}
        if event is not None:
            for index, (run_id, layers) in enumerate(zip(event.run_ids, event.layers)):
                run = self.runs.get(run_id)
                if run is None or event.step < run.since:
                    continue  # a run not there yet, or one that has since restarted with another spec
                self._cursor_layers[run_id] = _layer_views(event, index, layers)
        return {HEADER, TABLE, CURVES, HISTOGRAMS}

    def run_at_cursor(self, run: RunState) -> RunState:
        """``run`` with the numbers it had at the cursor's step (itself while live): what the table shows."""
        if self.cursor_step is None:
            return run
        run_step = min(self.cursor_step - run.since, run.step)
        if run_step < 0:
            return dataclasses.replace(run, step=0, train_loss=None, train_acc=None, test_acc=None,
                                       best_test_acc=None, layers=[])
        loss, accuracy, test = run.loss.at(run_step), run.accuracy.at(run_step), run.test.at(run_step)
        tests = run.test.y[: test + 1] if test is not None else np.empty(0)
        return dataclasses.replace(
            run,
            step=run_step,
            train_loss=None if loss is None else float(run.loss.y[loss]),
            train_acc=None if accuracy is None else float(run.accuracy.y[accuracy]),
            test_acc=None if test is None else float(run.test.y[test]),
            best_test_acc=float(np.nanmax(tests)) if tests.size and not np.isnan(tests).all() else None,
            layers=self.layer_views(run),
        )

    def cursor_label(self) -> str:
        """``step N of M (cursor)`` while the cursor is not live, else empty."""
        if self.cursor_step is None:
            return ""
        return f"step {self.cursor_step:,} of {max(self.step, self.cursor_step):,} (cursor)"

    # ------------------------------------------------------------------ views
    def layer_views(self, run: RunState) -> list[LayerView]:
        """The per-layer numbers every page draws for ``run`` (index 0 is hidden layer 1): the one place
        widgets read per-step data from, so that what they show follows the time cursor."""
        if self.cursor_step is None:
            return run.layers
        return self._cursor_layers.get(run.id, [])

    def layer_history(self, run: RunState, limit: int) -> list[tuple[int, list[LayerView]]]:
        """``run``'s layers at the statistics steps the store holds, from its start up to the time cursor (or
        the latest step), oldest first: at most ``limit`` steps spread evenly over them, the last one always
        among them. Steps that cannot be read (a damaged log line) are left out."""
        steps = self.step_store.steps
        first = bisect.bisect_left(steps, run.since)
        end = len(steps) if self.cursor_step is None else bisect.bisect_right(steps, self.cursor_step)
        if end - first <= limit:
            positions = list(range(first, end))
        elif limit < 2:
            positions = [end - 1] if limit == 1 else []
        else:
            positions = sorted({round(first + (end - 1 - first) * k / (limit - 1)) for k in range(limit)})
        history = []
        for position in positions:
            event = self.step_store.read(position)
            if event is None or run.id not in event.run_ids:
                continue
            index = event.run_ids.index(run.id)
            history.append((event.step, _layer_views(event, index, event.layers[index])))
        return history

    def layers_step(self, run: RunState) -> int:
        """The statistics step :meth:`layer_views` was measured at: the cursor's, or the run's latest."""
        return self.cursor_step if self.cursor_step is not None else run.layers_step

    def run_status(self, run: RunState) -> str:
        """What the table shows: an experiment-wide pause shows on every running run."""
        if run.status == "running" and self.state in ("paused", "stopped"):
            return self.state
        return run.status

    def run_epoch(self, run: RunState) -> float:
        return run.step / self.steps_per_epoch


__all__ = ["DashboardState", "HISTOGRAM_KINDS", "IndexedSteps", "LayerView", "RecentSteps", "RunState", "Series",
           "StepStore", "run_colour"]
