"""The runs table: one row per run, keyed by run id, in the run's colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from inittui.ui.state import DashboardState, RunState

# (key, label, width): fixed widths, so that cells updated later are never cut
COLUMNS = (
    ("run", "run", 5),
    ("init", "init", 15),
    ("activation", "act", 11),
    ("status", "status", 9),
    ("epoch", "ep", 5),
    ("step", "step", 6),
    ("loss", "loss", 6),
    ("acc", "acc", 5),
    ("test", "test", 5),
    ("best", "best", 5),
    ("deadsat", "dead/sat", 8),
)
STATUS_STYLES = {"running": "green", "paused": "yellow", "diverged": "bold red", "done": "cyan",
                 "stopped": "red", "probe": "magenta", "restarting": "italic yellow",
                 "starting": "italic yellow"}


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    return "100" if value >= 0.9995 else f"{100 * value:.1f}"


def _loss(value: float | None) -> str:
    """At most 5 characters, so the column never overflows."""
    if value is None:
        return "–"
    if abs(value) < 10:
        return f"{value:.3f}"
    if abs(value) < 1000:
        return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.0e}".replace("e+0", "e")


def _epoch(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _dead_saturated(run: RunState) -> str:
    dead, saturated = run.dead, run.saturated
    if dead is None and saturated is None:
        return "–"
    return f"{'–' if dead is None else f'{100 * dead:.0f}%'}/{'–' if saturated is None else f'{100 * saturated:.0f}%'}"


def row_cells(state: DashboardState, run: RunState) -> dict[str, str | Text]:
    status = state.run_status(run)
    run = state.run_at_cursor(run)
    return {
        "run": Text(f"● {run.id}", style=f"bold {run.colour}"),
        "init": Text(run.init, style=run.colour),
        "activation": Text(run.activation, style=run.colour),
        "status": Text(status, style=STATUS_STYLES.get(status, "")),
        "epoch": _epoch(state.run_epoch(run)),
        "step": f"{run.step:,}",
        "loss": _loss(run.train_loss),
        "acc": _percent(run.train_acc),
        "test": _percent(run.test_acc),
        "best": _percent(run.best_test_acc),
        "deadsat": _dead_saturated(run),
    }


class RunsTable(DataTable, inherit_bindings=False):
    """Rows are keyed by ``str(run id)``; the cursor follows the selected run when rows change."""

    # a table's keys, but ←/→ and home/end: they move the app's time cursor (a row has nothing to move along)
    BINDINGS = [binding for binding in DataTable.BINDINGS if binding.key not in ("left", "right", "home", "end")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._shown: dict[str, dict[str, str]] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected_run_id(self) -> int | None:
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        key = self.coordinate_to_cell_key((row, 0)).row_key
        return int(key.value) if key.value is not None else None

    def select_run(self, run_id: int) -> None:
        try:
            self.move_cursor(row=self.get_row_index(str(run_id)))
        except Exception:  # not in the table (yet)
            pass

    def show(self, state: DashboardState) -> None:
        ids = [str(run_id) for run_id in state.runs]
        if ids != list(self._shown):
            selected = self.selected_run_id
            self.clear()
            self._shown = {}
            for run in state.runs.values():
                cells = row_cells(state, run)
                self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=str(run.id))
                self._shown[str(run.id)] = {key: str(value) for key, value in cells.items()}
            if selected is not None and selected in state.runs:
                self.select_run(selected)
            return
        for run in state.runs.values():
            cells = row_cells(state, run)
            shown = self._shown[str(run.id)]
            for key, value in cells.items():
                if shown.get(key) != str(value):
                    self.update_cell(str(run.id), key, value)
                    shown[key] = str(value)
