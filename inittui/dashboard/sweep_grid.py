"""A sweep as a grid, as ``inittui view SWEEP_DIR`` draws it: every run of every experiment in ``sweep.json`` is
a point over the sweep's axes (``run``, its ``init`` and its ``activation``, then the sweep file's axes); two
axes are the rows and the columns, and every other axis is held at one chosen value. ``run`` is its init and
activation together: shown, neither is held; neither shown, ``run`` is held whole. Textual-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from inittui.runlog.manifest import DONE, SweepManifest

RUN_AXES = ("run", "init", "activation")
# (key in an experiment's results, label): what a cell shows
METRICS = (("test_acc", "test accuracy"), ("train_loss", "train loss"))


@dataclass(frozen=True)
class SweepPoint:
    """One run of one experiment: where it sits on every axis, its experiment's state and its numbers."""

    coordinates: dict[str, Any]
    experiment: str
    state: str  # the experiment's: pending, running, done, failed
    status: str = ""  # the run's own, once its experiment is done: done, diverged, ...
    metrics: dict[str, float] = field(default_factory=dict)


def sweep_points(manifest: SweepManifest) -> list[SweepPoint]:
    """Every run of every experiment, finished or not (an unfinished one has no numbers yet)."""
    points = []
    for entry in manifest.experiments:
        results = {str(result.get("name")): result for result in entry.results if isinstance(result, dict)}
        for name in entry.config.get("runs", []):
            # not RunSpec.parse: a user's initialiser (--init-file) is unknown here, and only the names matter
            init, _, activation = str(name).partition(":")
            result = results.get(str(name), {}) if entry.state == DONE else {}
            metrics = {key: float(value) for key, _ in METRICS
                       if isinstance((value := result.get(key)), (int, float)) and not isinstance(value, bool)}
            coordinates = {"run": str(name), "init": init, "activation": activation, **entry.axes}
            points.append(SweepPoint(coordinates, entry.name, entry.state, str(result.get("status", "")), metrics))
    return points


def sweep_axes(manifest: SweepManifest, points: list[SweepPoint]) -> dict[str, list[Any]]:
    """Each axis with its values in first-seen order: the runs' two, then the sweep file's."""
    axes: dict[str, list[Any]] = {axis: [] for axis in RUN_AXES}
    for entry in manifest.experiments:
        for axis in entry.axes:
            axes.setdefault(axis, [])
    for point in points:
        for axis, value in point.coordinates.items():
            if value not in axes[axis]:
                axes[axis].append(value)
    return axes


@dataclass
class GridSettings:
    """What the viewer shows: the row and column axes, the value every other axis is held at, the metric."""

    rows: str = "run"
    columns: str = "init"
    held: dict[str, Any] = field(default_factory=dict)
    metric: str = METRICS[0][0]

    def fitted(self, axes: dict[str, list[Any]]) -> GridSettings:
        """These settings made valid for ``axes``: known, distinct row and column axes, a held value for every
        other axis (the first, where none was chosen or the chosen one is gone)."""
        names = list(axes)
        rows = self.rows if self.rows in axes else names[0]
        columns = self.columns if self.columns in axes and _compatible(self.columns, rows) else next(
            (name for name in names if _compatible(name, rows)), rows)
        held = {axis: self.held[axis] if self.held.get(axis) in values else values[0]
                for axis, values in axes.items() if _held(axis, (rows, columns)) and values}
        return GridSettings(rows, columns, held, self.metric)

    @classmethod
    def default(cls, axes: dict[str, list[Any]]) -> GridSettings:
        """The runs down and the sweep file's first axis across; with no axis of its own, the atlas."""
        swept = [axis for axis in axes if axis not in RUN_AXES]
        return (cls("run", swept[0]) if swept else cls("init", "activation")).fitted(axes)

    def next_axis(self, axes: dict[str, list[Any]], which: str) -> GridSettings:
        """The next axis (in order, skipping the other of rows and columns) on ``which``: rows or columns."""
        names = list(axes)
        current, other = (self.rows, self.columns) if which == "rows" else (self.columns, self.rows)
        choices = [name for name in names if _compatible(name, other)] or names
        following = choices[(choices.index(current) + 1) % len(choices)] if current in choices else choices[0]
        return replace(self, **{which: following}).fitted(axes)

    def next_held(self, axes: dict[str, list[Any]], axis: str) -> GridSettings:
        """The held axis ``axis`` moved to its next value."""
        values = axes[axis]
        current = self.held.get(axis, values[0])
        held = {**self.held, axis: values[(values.index(current) + 1) % len(values)]}
        return replace(self, held=held).fitted(axes)

    def next_metric(self) -> GridSettings:
        keys = [key for key, _ in METRICS]
        return replace(self, metric=keys[(keys.index(self.metric) + 1) % len(keys)])


def _compatible(first: str, second: str) -> bool:
    """Whether two axes make a grid: distinct, and not ``run`` beside its own init or activation."""
    return first != second and not ("run" in (first, second) and {first, second} <= set(RUN_AXES))


def _held(axis: str, shown: tuple[str, str]) -> bool:
    """Whether ``axis`` is held at one value when ``shown`` are the rows and columns."""
    if axis in shown:
        return False
    if axis == "run":
        return not any(name in shown for name in RUN_AXES)
    if axis in RUN_AXES:  # init or activation: held only beside the other one shown
        return any(name in shown for name in RUN_AXES[1:])
    return True


@dataclass(frozen=True)
class SweepGrid:
    """The cells for one choice of settings: the row and column values, and the point at each (row, column)."""

    settings: GridSettings
    rows: list[Any]
    columns: list[Any]
    cells: dict[tuple[int, int], SweepPoint]

    def values(self) -> list[float]:
        """The finite values of the metric over the cells shown (for the colour scale)."""
        return [value for point in self.cells.values()
                if (value := point.metrics.get(self.settings.metric)) is not None and math.isfinite(value)]


def sweep_grid(points: list[SweepPoint], axes: dict[str, list[Any]], settings: GridSettings) -> SweepGrid:
    """The grid of ``points`` under ``settings`` (fitted to ``axes`` first)."""
    settings = settings.fitted(axes)
    rows, columns = axes[settings.rows], axes[settings.columns]
    cells: dict[tuple[int, int], SweepPoint] = {}
    for point in points:
        where = point.coordinates
        if any(where.get(axis) != value for axis, value in settings.held.items()):
            continue
        if settings.rows in where and settings.columns in where:
            cells[(rows.index(where[settings.rows]), columns.index(where[settings.columns]))] = point
    return SweepGrid(settings, rows, columns, cells)
