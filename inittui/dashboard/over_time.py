"""Each hidden layer's distribution over time, for the run and histogram source shown (no Textual).

One :class:`~inittui.series.density.DistributionHistory` per layer, kept only while the layers page shows it:
when the run, its life or the source changes it starts afresh from the statistics steps the store holds (at
most OVER_TIME_REFILL layer histograms, evenly spread over the life up to the time cursor), read from memory
at once or, from a run log, in a worker (:meth:`OverTime.read`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from inittui.core.events import LayerStat
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import run_colour, shown_layers, shown_life, shown_record
from inittui.dashboard.steps import StepStore
from inittui.dashboard.views import HeatmapPanel
from inittui.series.density import DistributionHistory
from inittui.series.spread import spread

# each layer's history keeps this many columns (each a statistics step, or merged pairs)
OVER_TIME_COLUMNS = 128
# layer histograms read into a history that starts afresh: bounds what one key press costs (about 60 µs each),
# so a deep run's history starts from fewer, evenly spread steps
OVER_TIME_REFILL = 1280

# (run id, the life's first step, histogram source)
HistoryKey = tuple[int, int, str]
# (statistics step, that step's layers of the run)
Past = list[tuple[int, list[LayerStat]]]


@dataclass
class Refill:
    """Statistics steps to read from a run log (off the UI thread) before a history can be shown whole."""

    key: HistoryKey
    run_id: int
    store: StepStore
    positions: list[int]


class OverTime:
    """See the module's docstring."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.key: HistoryKey | None = None
        self.histories: list[DistributionHistory] = []
        self.last_step: int | None = None

    def sync(self, model: DashboardModel) -> Refill | None:
        """Bring the histories up to the run and step shown; a Refill when past steps must be read from a log."""
        run = model.selected
        life = None if run is None else shown_life(model, run)
        if run is None or life is None:
            self.clear()
            return None
        layers, _, step = shown_layers(model, run)
        key = (run.id, life.started_at, model.view.kind)
        refill = None
        if key != self.key or len(layers) != len(self.histories) or (
            self.last_step is not None and step is not None and step < self.last_step
        ):
            self.key, self.last_step = key, None
            self.histories = [DistributionHistory(OVER_TIME_COLUMNS) for _ in layers]
            positions = self._positions(model, life.started_at, len(layers))
            if model.steps.in_memory:
                for past_step, past_layers in self.read(Refill(key, run.id, model.steps, positions)):
                    if step is None or past_step < step:
                        self._add(past_step, past_layers)
            elif positions:
                refill = Refill(key, run.id, model.steps, positions)
        if layers and step is not None and step != self.last_step:
            self._add(step, layers)
        return refill

    @staticmethod
    def _positions(model: DashboardModel, since: int, layers: int) -> list[int]:
        steps = model.steps.steps
        first = bisect.bisect_left(steps, since)
        end = len(steps) if model.cursor_step is None else bisect.bisect_right(steps, model.cursor_step)
        limit = max(2, min(OVER_TIME_COLUMNS, OVER_TIME_REFILL // max(layers, 1)))
        return spread(end - first, limit, first)

    @staticmethod
    def read(refill: Refill) -> Past:
        """The run's layers at the refill's steps, oldest first; unreadable steps left out. Thread-safe when the
        store is (a run log's store reads under its lock)."""
        past = []
        for position in refill.positions:
            stats = refill.store.read(position)
            if stats is None or refill.run_id not in stats.run_ids:
                continue
            past.append((stats.step, stats.layers[stats.run_ids.index(refill.run_id)]))
        return past

    def adopt(self, key: HistoryKey, past: Past) -> bool:
        """Histories from steps read by :meth:`read`, if the same run, life and source are still shown."""
        if key != self.key or not past:
            return False
        self.histories = [DistributionHistory(OVER_TIME_COLUMNS) for _ in past[-1][1]]
        self.last_step = None
        for step, layers in past:
            self._add(step, layers)
        return True

    def _add(self, step: int, layers: list[LayerStat]) -> None:
        kind = self.key[2] if self.key else "activations"
        for history, stat in zip(self.histories, layers):
            histogram = stat.histograms.get(kind)
            measured = {"activations": stat.std, "preactivations": stat.preactivation_std,
                        "gradients": stat.grad_norm, "weights": stat.weight_std}[kind]
            if histogram is not None:
                history.add(step, histogram.low, histogram.high, histogram.counts, measured)
            else:
                history.add(step, 0.0, 0.0, [], measured)
        self.last_step = step

    def panels(self, model: DashboardModel) -> tuple[list[HeatmapPanel], str, str]:
        """(panels, heading, message) for the heatmaps."""
        run = model.selected
        if run is None:
            return [], "", "no runs"
        colour = run_colour(run.id)
        panels = [HeatmapPanel(f"L{index + 1}", history.snapshot(), colour)
                  for index, history in enumerate(self.histories) if history.count]
        first = min((int(history.first_step[0]) for history in self.histories if history.count), default=None)
        since = f" since step {first:,}" if first is not None else ""
        heading = f"{model.view.kind} over time{since} · run {run.id} {shown_record(model, run).name}"
        return panels, heading, "no layer statistics yet"
