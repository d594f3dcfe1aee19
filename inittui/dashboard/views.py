"""What each widget is handed to draw: plain data, built by :mod:`inittui.dashboard.selectors` (no Textual)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inittui.core.events import Histogram
from inittui.series.curve import MinMaxSeries
from inittui.series.density import DensityGrid

Values = Sequence[float | None]


@dataclass
class Points:
    """A curve given point by point (a run's test accuracies, once an epoch; a benchmark's raw data)."""

    x: np.ndarray
    y: np.ndarray


@dataclass
class SeedBand:
    """A seed group's curves, drawn as one: each pixel column's mean over the seeds as the line, and a faint
    band from the lowest to the highest seed there (each seed bounded as every curve is: min/max per column)."""

    seeds: list[MinMaxSeries]


@dataclass
class Curve:
    colour: str  # "#rrggbb", the run's colour
    # a bounded curve, drawn at the chart's resolution, points, or a seed group's band
    series: MinMaxSeries | Points | SeedBand
    # points only (test accuracy, measured once an epoch), not a line through them
    scatter: bool = False
    # the selected run: drawn last and bright
    selected: bool = False


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str
    selected: bool = False


@dataclass
class CurvesView:
    """A page's two charts: the loss and the accuracy (train lines, test points)."""

    loss: list[Curve]
    accuracy: list[Curve]
    legend: list[LegendEntry]
    runs: int
    steps_per_epoch: float
    # the time cursor's step on the selected run's axis; None while live
    marker: float | None = None
    # the runs hidden from the curves (x), by name
    hidden: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """One run's value under the full-screen chart's cursor."""

    label: str
    colour: str
    value: float | None
    selected: bool = False


@dataclass
class ChartView:
    """The full-screen chart: the curves over the steps of its window, and one chart's values at its cursor."""

    curves: CurvesView
    window: tuple[float, float]
    cursor: float
    readings: list[Reading]


@dataclass
class Panel:
    """One histogram panel: a layer of a run."""

    title: str
    colour: str
    histogram: Histogram | None
    measured: float | None
    predicted: float | None
    measured_label: str = "σ"


@dataclass
class HistogramsView:
    panels: list[Panel]
    title: str
    message: str = ""


@dataclass
class DepthSeries:
    """One run's per-layer numbers (index 0 is hidden layer 1); None where not measured."""

    label: str
    colour: str  # "#rrggbb"
    activation_std: Values = ()
    predicted_std: Values = ()
    # std of ∂loss/∂activation per layer, at a statistics step
    gradient_std: Values = ()
    weight_gradient_norm: Values = ()
    # ‖ΔW‖/‖W‖ of the optimiser's last step per layer
    update_ratio: Values = ()
    # the Jacobian spectrum's s_max / median of each prefix J_l, and two images' correlation, measured and
    # predicted, from the latest spectrum (its own cadence); with their numbers written out
    prefix_ratio: Values = ()
    correlation: Values = ()
    predicted_correlation: Values = ()
    # the whole stack's singular values counted over the fixed bins of log10 s (inittui.core.events)
    log10_histogram: Sequence[int] = ()
    spectrum_note: str = ""
    correlation_note: str = ""
    # drawn faint (the unselected runs when there are many)
    dim: bool = False
    # a seed group's: the numbers above are the mean over its seeds, and this the lowest and the highest seed's
    # per layer, by field name
    seed_range: dict[str, tuple[Values, Values]] = field(default_factory=dict)

    @property
    def layers(self) -> int:
        return max(len(self.activation_std), len(self.predicted_std), len(self.gradient_std),
                   len(self.weight_gradient_norm), len(self.update_ratio), len(self.prefix_ratio),
                   len(self.correlation), len(self.predicted_correlation))


@dataclass
class HeatmapPanel:
    """One layer's distribution over time."""

    title: str  # e.g. "L3"
    grid: DensityGrid
    colour: str = "#e5c07b"  # the title's colour (the run's)


@dataclass(frozen=True)
class SeedSpread:
    """A seed group's atlas cell beyond its mean: the runs it stands for (the first gives the cell its id), how
    many diverged, and each metric's std over the seeds that did not (None where none has the number)."""

    runs: tuple[int, ...]
    diverged: int
    std: dict[str, float | None]

    @property
    def seeds(self) -> int:
        return len(self.runs)


@dataclass
class TableRow:
    """One run as the runs table shows it, or a seed group's runs (``init:activation`` alike) folded into one
    row of mean ± std: plain text per column (a group's cells on two lines, the mean over the spread), the
    colour and shown status. ``run_id``: the run, or the group's first; ``members``: every run it stands for."""

    run_id: int
    colour: str
    status: str
    cells: dict[str, str]
    members: tuple[int, ...] = ()

    @property
    def runs(self) -> tuple[int, ...]:
        return self.members or (self.run_id,)

    @property
    def height(self) -> int:
        return 2 if len(self.runs) > 1 else 1


@dataclass
class Location:
    """A path the header shows shortened to the room left: ``prefix`` + path + ``suffix``."""

    path: Path | str
    prefix: str = "log "
    suffix: str = ""
    #: kept before the device and the dataset when room runs short (a viewer must go on saying "read-only")
    essential: bool = False


@dataclass
class HeaderView:
    """The header's fields, each plain text."""

    page: str
    state: str
    preset: str
    probe: bool
    cursor: str  # the time cursor's label; empty while live
    progress: str  # epoch and step
    speed: str
    elapsed: str
    device: str
    dataset: str
    extra: str = ""
    location: Location | None = None
    problems: list[str] = field(default_factory=list)
    # the Jacobian spectrum's cadence, on the page that draws it; empty elsewhere
    spectrum: str = ""
