"""What the dashboard knows, folded from events: plain Python, no Textual.

The UI thread drains the event queue into :class:`DashboardState` at the frame rate; widgets then draw the
latest values. Everything is keyed by run id (runs come and go), never by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inittui.events import (
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
    RunInfo,
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


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return sum(known) / len(known) if known else None


# the parts of the screen an event can make stale
HEADER, TABLE, CURVES, HISTOGRAMS = "header", "table", "curves", "histograms"


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

    # ------------------------------------------------------------------ folding
    def apply(self, event: Event) -> set[str]:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        return handler(event) if handler is not None else set()

    def _sync_runs(self, infos: list[RunInfo]) -> None:
        runs: dict[int, RunState] = {}
        for info in infos:
            run = self.runs.get(info.id)
            spec = (info.init, info.activation)
            if run is None:
                run = RunState(info.id, info.init, info.activation)
            elif run.pending:
                # the engine confirms requests in order; until it has the latest, the screen shows that one
                if spec in run.pending:
                    del run.pending[: run.pending.index(spec) + 1]
                if run.pending:
                    runs[info.id] = run
                    continue
                run.reset()
            elif (run.init, run.activation) != spec or info.step < run.step:
                run.reset()
            run.init, run.activation, run.status, run.step = info.init, info.activation, info.status, info.step
            runs[info.id] = run
        self.runs = runs

    def request_spec(self, run: RunState, init: str, activation: str) -> None:
        """The user asked for ``init:activation`` on ``run``: shown at once, until the engine confirms it."""
        run.pending.append((init, activation))
        run.reset()
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
        for index, (run_id, layers) in enumerate(zip(event.run_ids, event.layers)):
            run = self.runs.get(run_id)
            if run is None or run.pending:
                continue
            predicted = event.predicted_std[index] if index < len(event.predicted_std) else []
            run.layers = [
                LayerView.from_stat(stat, predicted[layer] if layer < len(predicted) else None)
                for layer, stat in enumerate(layers)
            ]
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

    # ------------------------------------------------------------------ views
    def layer_views(self, run: RunState) -> list[LayerView]:
        """The per-layer numbers every page draws for ``run`` (index 0 is hidden layer 1): the one place
        widgets read per-step data from, so that what they show can follow a chosen step."""
        return run.layers

    def layers_step(self, run: RunState) -> int:
        """The statistics step :meth:`layer_views` was measured at."""
        return run.layers_step

    def run_status(self, run: RunState) -> str:
        """What the table shows: an experiment-wide pause shows on every running run."""
        if run.status == "running" and self.state in ("paused", "stopped"):
            return self.state
        return run.status

    def run_epoch(self, run: RunState) -> float:
        return run.step / self.steps_per_epoch


__all__ = ["DashboardState", "HISTOGRAM_KINDS", "LayerView", "RunState", "Series", "run_colour"]
