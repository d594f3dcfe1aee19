"""The runs table: one row per run, keyed by run id, in the run's colour; sorted by a chosen order and
narrowed by a text filter, the selection staying on its run."""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable, Input

from inittui.dashboard.state import DashboardState, RunState

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


def _unknown_last(value: float | None, sign: float) -> tuple[bool, float]:
    """A sort key: known finite values by ``sign`` × value, then unknown, NaN and infinite ones."""
    known = value is not None and math.isfinite(value)
    return (not known, sign * value if known else 0.0)


# (name, key) of each order the table cycles through; ties keep the order of run ids
SORT_ORDERS: tuple[tuple[str, Callable[[RunState], object]], ...] = (
    ("id", lambda run: run.id),
    ("best test accuracy", lambda run: _unknown_last(run.best_test_acc, -1.0)),
    ("train loss", lambda run: _unknown_last(run.train_loss, 1.0)),
    ("name", lambda run: run.name),
)


def matches(run: RunState, status: str, text: str) -> bool:
    """Whether a run is shown under the filter ``text``: a case-insensitive part of its id, its
    ``init:activation`` name or its status (``relu``, ``he:``, ``diverged``)."""
    wanted = text.strip().lower()
    return not wanted or wanted in f"{run.id} {run.name} {status}".lower()


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    return "100" if value >= 0.9995 else f"{100 * value:.1f}"


def _loss(value: float | None) -> str:
    """At most 6 characters (the column's width): 2.303, 45.1, 512, 3e12, -1e100, inf."""
    if value is None:
        return "–"
    if not math.isfinite(value) or abs(round(value, 3)) < 10:
        return f"{value:.3f}"
    if abs(round(value, 1)) < 100:
        return f"{value:.1f}"
    return f"{value:.0f}" if abs(round(value)) < 1000 else _exponent(value)


def _exponent(value: float) -> str:
    """One significant digit and the exponent without padding: 3e12, -1e100."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _epoch(value: float) -> str:
    """At most 5 characters: 2.37, 45.1, 512.0, 12345."""
    if round(value, 2) < 10:
        return f"{value:.2f}"
    if round(value, 1) < 1000:
        return f"{value:.1f}"
    return f"{value:.0f}" if round(value) < 100_000 else _exponent(value)


def _step(value: int) -> str:
    """At most 6 characters: 99,999, then 312k, 12.5M."""
    if value < 100_000:
        return f"{value:,}"
    if value < 999_500:
        return f"{value / 1e3:.0f}k"
    return f"{value / 1e6:.1f}M" if value < 999_950_000 else _exponent(value)


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
        "step": _step(run.step),
        "loss": _loss(run.train_loss),
        "acc": _percent(run.train_acc),
        "test": _percent(run.test_acc),
        "best": _percent(run.best_test_acc),
        "deadsat": _dead_saturated(run),
    }


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
    """Rows are keyed by ``str(run id)``, in the order :attr:`sort_order` names, narrowed by
    :attr:`filter_text`; the cursor stays on the selected run when rows change (on the first row shown while
    the filter hides it, and back on it when the filter shows it again), and the table scrolls to keep it in
    view."""

    # a table's keys, but ←/→ and home/end: they move the app's time cursor (a row has nothing to move along)
    BINDINGS = [binding for binding in DataTable.BINDINGS if binding.key not in ("left", "right", "home", "end")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._shown: dict[str, dict[str, str]] = {}
        self.sort_order = 0  # an index into SORT_ORDERS
        self.filter_text = ""
        # the run the user selected, and the run the cursor stands on instead while the filter hides it
        self._chosen: int | None = None
        self._stand_in: int | None = None

    @property
    def sort_name(self) -> str:
        return SORT_ORDERS[self.sort_order][0]

    def cycle_sort(self) -> str:
        """The next sort order; returns its name."""
        self.sort_order = (self.sort_order + 1) % len(SORT_ORDERS)
        return self.sort_name

    def shown_runs(self, state: DashboardState) -> list[RunState]:
        """The runs the table lists, in its order."""
        runs = [run for run in state.runs.values() if matches(run, state.run_status(run), self.filter_text)]
        return sorted(runs, key=SORT_ORDERS[self.sort_order][1])

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
        if str(run_id) in self._shown:
            self.move_cursor(row=self.get_row_index(str(run_id)))

    def show(self, state: DashboardState) -> None:
        shown = self.shown_runs(state)
        if [str(run.id) for run in shown] != list(self._shown):
            current = self.selected_run_id
            if current is not None and current != self._stand_in:  # the user moved the cursor: a new choice
                self._chosen = current
            self.clear()
            self._shown = {}
            for run in shown:
                cells = row_cells(state, run)
                self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=str(run.id))
                self._shown[str(run.id)] = {key: str(value) for key, value in cells.items()}
            if self._chosen is not None and str(self._chosen) in self._shown:
                self.select_run(self._chosen)
                self._stand_in = None
            else:
                self._stand_in = self.selected_run_id
            return
        for run in shown:
            cells = row_cells(state, run)
            last = self._shown[str(run.id)]
            for key, value in cells.items():
                if last.get(key) != str(value):
                    self.update_cell(str(run.id), key, value)
                    last[key] = str(value)
