"""``inittui view SWEEP_DIR``: a sweep's runs as a grid over any two of its axes, filled in as its experiments
finish. It reads ``sweep.json`` (every experiment's state and final numbers), once a second while the sweep
runs; each cell is coloured as on the atlas (bright is better), and a run that diverged is marked ``✗``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from inittui.core.errors import RunLogError
from inittui.dashboard.sweep_grid import (
    METRICS,
    GridSettings,
    SweepGrid,
    SweepPoint,
    sweep_axes,
    sweep_grid,
    sweep_points,
)
from inittui.runlog.manifest import DONE, FAILED, PENDING, RUNNING, SweepManifest
from inittui.ui.atlas import DIVERGED_BACKGROUND, ColourScale, text_colour

POLL_S = 1.0
# the atlas's colour scale knows its metrics by the RunRecord fields they read
SCALE_METRIC = {"test_acc": "best_test_acc", "train_loss": "train_loss"}
STATE_MARKS = {PENDING: "·", RUNNING: "…", FAILED: "failed"}
SWEEP_BINDINGS = [
    Binding("r", "next_rows", "rows", tooltip="the next axis down the rows"),
    Binding("c", "next_columns", "columns", tooltip="the next axis across the columns"),
    Binding("h", "next_held_axis", "held axis", tooltip="which held axis v changes"),
    Binding("v", "next_held_value", "value", tooltip="the held axis's next value"),
    Binding("m", "next_metric", "metric", tooltip="test accuracy or train loss"),
    Binding("q", "quit", "quit"),
]


def cell_text(point: SweepPoint | None, metric: str, scale: ColourScale) -> Text:
    """What one cell says: the metric coloured by the scale, ✗ for a diverged run, or its experiment's state."""
    if point is None:
        return Text("")
    if point.state != DONE:
        return Text(STATE_MARKS.get(point.state, point.state), style="dim" if point.state == PENDING else "")
    if point.status == "diverged":
        return Text(" ✗ diverged ", style=f"bold #ffffff on {DIVERGED_BACKGROUND}")
    value = point.metrics.get(metric)
    if value is None or not math.isfinite(value):
        return Text("–", style="dim")
    shown = f"{100 * value:.1f}%" if metric == "test_acc" else f"{value:.3g}"
    background = scale.colour(value)
    return Text(f" {shown} ", style=f"{text_colour(background)} on {background}")


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class SweepViewer(App[int]):
    """The grid of one sweep directory, redrawn whenever ``sweep.json`` changes."""

    TITLE = "inittui sweep"
    BINDINGS = SWEEP_BINDINGS
    CSS = """
    #sweep-header { height: 1; background: $panel; }
    #sweep-held { height: auto; color: $text-muted; }
    DataTable { height: 1fr; }
    """

    def __init__(self, sweep_dir: Path, poll_s: float = POLL_S) -> None:
        super().__init__()
        self.sweep_dir = Path(sweep_dir)
        self.poll_s = poll_s
        self.manifest: SweepManifest | None = None
        self.points: list[SweepPoint] = []
        self.axes: dict[str, list[Any]] = {}
        self.settings: GridSettings | None = None
        self.grid: SweepGrid | None = None
        self.held_axis = 0  # which of the held axes ``v`` changes
        self.problem = ""
        self._read_signature: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="sweep-header")
        yield DataTable(id="sweep-grid", cursor_type="cell", zebra_stripes=False)
        yield Static(id="sweep-held")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.poll_s, self.reload)

    # ------------------------------------------------------------------ reading
    def reload(self) -> None:
        """Read ``sweep.json`` again if it changed; keep what was shown if it cannot be read now."""
        path = self.sweep_dir / "sweep.json"
        try:
            stat = path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
        except OSError as error:
            self._show_problem(f"cannot read {path}: {error.strerror or error}")
            return
        if signature == self._read_signature:
            return
        try:
            manifest = SweepManifest.load(self.sweep_dir)
        except RunLogError as error:
            self._show_problem(str(error))
            return
        self._read_signature, self.manifest, self.problem = signature, manifest, ""
        self.points = sweep_points(manifest)
        self.axes = sweep_axes(manifest, self.points)
        self.settings = (self.settings or GridSettings.default(self.axes)).fitted(self.axes)
        self.redraw()

    def _show_problem(self, message: str) -> None:
        self.problem = message
        self._draw_header()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        if self.settings is None:
            return
        self.grid = sweep_grid(self.points, self.axes, self.settings)
        self._draw_header()
        self._draw_table(self.grid)
        self._draw_held(self.grid)

    def _draw_header(self) -> None:
        header = Text(" ≋ inittui sweep ", style="bold")
        if self.manifest is not None:
            counts = self.manifest.counts()
            total = len(self.manifest.experiments)
            header.append(f"│ {self.manifest.sweep} │ {counts[DONE]}/{total} done")
            for state in (RUNNING, PENDING, FAILED):
                if counts[state]:
                    header.append(f", {counts[state]} {state}", style="bold red" if state == FAILED else "")
            header.append(f" │ {self.sweep_dir}")
        if self.problem:
            header.append(f" │ ⚠ {self.problem}", style="bold red")
        self.query_one("#sweep-header", Static).update(header)

    def _draw_table(self, grid: SweepGrid) -> None:
        table = self.query_one("#sweep-grid", DataTable)
        cursor = table.cursor_coordinate
        table.clear(columns=True)
        settings = grid.settings
        table.add_column(Text(f"{settings.rows} ╲ {settings.columns}", style="bold"), key="label")
        for column, value in enumerate(grid.columns):
            table.add_column(Text(_label(value), style="bold"), key=f"c{column}")
        scale = ColourScale(SCALE_METRIC[settings.metric], grid.values())
        for row, value in enumerate(grid.rows):
            cells = [cell_text(grid.cells.get((row, column)), settings.metric, scale) for column in range(len(grid.columns))]
            table.add_row(Text(_label(value), style="bold"), *cells, key=f"r{row}")
        if grid.rows and grid.columns:
            table.cursor_coordinate = table.validate_cursor_coordinate(cursor)

    def _draw_held(self, grid: SweepGrid) -> None:
        metric = dict(METRICS)[grid.settings.metric]
        held = list(grid.settings.held.items())
        parts = [Text(f"{metric}", style="bold")]
        if held:
            parts.append(Text(" │ held: "))
            for position, (axis, value) in enumerate(held):
                chosen = position == self.held_axis % len(held)
                parts.append(Text(f"{axis} = {_label(value)}", style="reverse" if chosen else ""))
                parts.append(Text("  "))
        self.query_one("#sweep-held", Static).update(Text.assemble(*parts))

    # ------------------------------------------------------------------ keys
    def _change(self, settings: GridSettings) -> None:
        self.settings = settings
        self.redraw()

    def action_next_rows(self) -> None:
        if self.settings is not None:
            self._change(self.settings.next_axis(self.axes, "rows"))

    def action_next_columns(self) -> None:
        if self.settings is not None:
            self._change(self.settings.next_axis(self.axes, "columns"))

    def action_next_held_axis(self) -> None:
        if self.settings is not None and self.settings.held:
            self.held_axis = (self.held_axis + 1) % len(self.settings.held)
            self.redraw()

    def action_next_held_value(self) -> None:
        if self.settings is not None and self.settings.held:
            axis = list(self.settings.held)[self.held_axis % len(self.settings.held)]
            self._change(self.settings.next_held(self.axes, axis))

    def action_next_metric(self) -> None:
        if self.settings is not None:
            self._change(self.settings.next_metric())


def run_sweep_viewer(sweep_dir: Path) -> int:
    return SweepViewer(sweep_dir).run() or 0
