"""The runs table: one row per run, keyed by run id, in the run's colour (a seed group's runs one row of
mean ± std on two lines, keyed by its first run, until expanded); sorted by a chosen order and narrowed by a
text filter, the selection staying on its run."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import DataTable, Input

from inittui.dashboard.views import TableRow

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
                 "stopped": "red", "error": "bold red", "interrupted": "red", "probe": "magenta",
                 "starting": "italic yellow", "not started": "dim"}


class RunsFilter(Input):
    """The one-line filter of the runs table, shown while it is in use."""

    DEFAULT_CSS = """
    RunsFilter { display: none; height: 1; border: none; padding: 0 1; }
    RunsFilter.-active { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="filter runs: relu, he:, diverged … (enter: keep, esc: clear)", compact=True,
                         **kwargs)


class RunsTable(DataTable, inherit_bindings=False):
    """Rows are keyed by ``str(run id)``, in the order they are given; the cursor stands on the selected run
    (on the first row while the filter hides it) and the table scrolls to keep it in view. The selection is
    the view model's: the arrow keys and j/k change it there, and a click on a row posts Chosen."""

    # no keys of its own: ↑/↓/j/k select runs through the dashboard, ←/→ and home/end move its time cursor
    BINDINGS = [binding for binding in DataTable.BINDINGS
                if binding.key not in ("left", "right", "home", "end", "up", "down")]

    class Chosen(Message):
        """A run chosen with the mouse (the keys choose through the dashboard's controller)."""

        def __init__(self, run_id: int) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._shown: dict[str, dict[str, str]] = {}
        self._layout: list[tuple[str, int]] = []

    def on_click(self, event: events.Click) -> None:
        # after the table has moved its cursor to the row clicked
        self.call_after_refresh(self._chosen)

    def _chosen(self) -> None:
        run_id = self.cursor_run_id
        if run_id is not None:
            self.post_message(self.Chosen(run_id))

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def cursor_run_id(self) -> int | None:
        """The run the cursor stands on."""
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        key = self.coordinate_to_cell_key((row, 0)).row_key
        return int(key.value) if key.value is not None else None

    def show(self, rows: list[TableRow], selected: int | None) -> None:
        """``rows`` as given; the cursor on the row of ``selected`` (its own, or its folded seed group's)."""
        # a seed group's row (two lines) and its first seed's (one) share a key: the layout is keys and heights
        layout = [(str(row.run_id), row.height) for row in rows]
        if layout != self._layout:
            self.clear()
            self._shown = {}
            self._layout = layout
            for row in rows:
                cells = _styled(row)
                self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=str(row.run_id), height=row.height)
                self._shown[str(row.run_id)] = dict(row.cells)
        else:
            for row in rows:
                last = self._shown[str(row.run_id)]
                if last != row.cells:
                    cells = _styled(row)
                    for key, value in row.cells.items():
                        if last.get(key) != value:
                            self.update_cell(str(row.run_id), key, cells[key])
                    self._shown[str(row.run_id)] = dict(row.cells)
        shown = next((row for row in rows if selected in row.runs), None)
        if shown is not None:
            row_index = self.get_row_index(str(shown.run_id))
            if row_index != self.cursor_row:
                self.move_cursor(row=row_index)


def _styled(row: TableRow) -> dict[str, str | Text]:
    cells: dict[str, str | Text] = dict(row.cells)
    cells["run"] = Text(row.cells["run"], style=f"bold {row.colour}")
    cells["init"] = Text(row.cells["init"], style=row.colour)
    cells["activation"] = Text(row.cells["activation"], style=row.colour)
    cells["status"] = Text(row.cells["status"], style=STATUS_STYLES.get(row.status, ""))
    return cells
