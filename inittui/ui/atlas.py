"""The atlas: a sweep's runs as a matrix, initialisers down, activations across, each cell coloured by a metric
with its value printed in it.

Colour: one perceptual ramp (viridis) where bright is better for every metric (high accuracy, low loss, few
dead or saturated units), scaled to the range of the cells shown (loss on a log scale), so the good corner of
a sweep stands out whatever the metric. A diverged run is marked ``✗`` on red, never coloured as a value; a
metric that does not apply (dead units of tanh) shows ``–`` on grey; a combination with no run is blank.

A seed group's cell (an experiment of ``--seeds``) shows its mean ± std over the seeds that did not diverge and
is coloured by the mean; one whose mean ± std interval overlaps that of its column's best cell is marked ``≈``,
"within noise": the seeds cannot tell the two apart. Cells of one seed draw as they always did.

Arrow keys move over the cells (``CellHighlighted``); enter or a click posts ``RunSelected`` with the cell's
run id. Labels are abbreviated to fit 80 columns; at 200×60 cells grow and show the other metrics too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.core.events import RunRecord
from inittui.dashboard.views import SeedSpread
from inittui.ui.drawing import Line, blank_lines, colour_ramp, fit, style
from inittui.ui.lines import StripsWidget

# (key, label, short label): the RunRecord field each metric reads
METRICS = (
    ("best_test_acc", "best test accuracy", "test acc"),
    ("train_loss", "train loss", "loss"),
    ("dead", "dead units", "dead"),
    ("saturated", "saturated units", "sat"),
)
HIGHER_IS_BETTER = {"best_test_acc": True, "train_loss": False, "dead": False, "saturated": False}
RAMP = colour_ramp(("#440154", "#3e4989", "#26828e", "#35b779", "#b5de2b", "#fde725"), 16)
DIVERGED_BACKGROUND = "#a01c1c"
NOT_APPLICABLE_BACKGROUND = "#3a3a3a"
NOTE_STYLE = style("#808080")
WITHIN_NOISE = "≈"
MIN_CELL_WIDTH = 5
MAX_CELL_WIDTH = 32
MAX_CELL_HEIGHT = 5
MAX_LABEL_WIDTH = 14
MIN_LABEL_WIDTH = 5


def abbreviate(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters, shortening its longest alphabetic part first, so that names
    stay told apart (normal-0.01 → norm-0.01, glorot-uniform → glor-unif)."""
    if len(name) <= width:
        return name
    parts = name.split("-")
    while len("-".join(parts)) > width:
        candidates = [i for i, p in enumerate(parts) if p.isalpha() and len(p) > 1]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: (len(parts[i]), -i))
        parts[longest] = parts[longest][:-1]
    return "-".join(parts)[:width]


def unique_abbreviations(names: Sequence[str], width: int) -> list[str]:
    """Abbreviations of every name, distinct where the names are (else cut with a trailing digit)."""
    short = [abbreviate(name, width) for name in names]
    seen: dict[str, int] = {}
    for index, label in enumerate(short):
        if label in seen:
            short[index] = label[: max(width - 1, 0)] + str(index % 10)
        seen[short[index]] = index
    return short


def format_metric(metric: str, value: float | None, wide: bool) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if metric == "best_test_acc":
        return f"{100 * value:.1f}%" if wide else f"{100 * value:.1f}"
    if metric == "train_loss":
        if abs(value) >= 1000 or 0 < abs(value) < 0.001:
            mantissa, exponent = f"{value:.1e}".split("e")
            return f"{mantissa}e{int(exponent)}"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:#.3g}"
    return f"{100 * value:.0f}%"


def format_mean_std(metric: str, mean: float, std: float | None) -> str:
    """A seed group's value, compact enough for an 80-column cell: ``92.1±0.3``, ``0.234±0.01``, ``12±3%``."""
    if std is None or not math.isfinite(std):
        return format_metric(metric, mean, False)
    if metric == "best_test_acc":
        return f"{100 * mean:.1f}±{100 * std:.1f}"
    if metric == "train_loss":
        return f"{format_metric(metric, mean, True)}±{std:.1g}"
    return f"{100 * mean:.0f}±{100 * std:.0f}%"


def within_noise(grid: Mapping[tuple[str, str], RunRecord], spreads: Mapping[int, SeedSpread], metric: str) -> set[int]:
    """The ids of the seed-group cells whose mean ± std interval of ``metric`` overlaps that of their column's
    best cell (the best mean among those with a number, diverged ones left out); the best is not among them."""
    intervals: dict[str, list[tuple[float, float, int]]] = {}
    for (_, activation), cell in grid.items():
        value, spread = getattr(cell, metric), spreads.get(cell.id)
        if spread is None or cell.status == "diverged" or value is None or not math.isfinite(value):
            continue
        std = spread.std.get(metric)
        intervals.setdefault(activation, []).append((value, std if std is not None else 0.0, cell.id))
    marked = set()
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    for column in intervals.values():
        best_mean, best_std, best_id = max(column, key=lambda interval: sign * interval[0])
        marked |= {run_id for mean, std, run_id in column
                   if run_id != best_id and abs(mean - best_mean) <= std + best_std}
    return marked


def _order(names: Sequence[str], known: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(names))
    return [n for n in known if n in present] + [n for n in present if n not in known]


def text_colour(background: str) -> str:
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#ffffff"


class ColourScale:
    """Maps a metric's values to the ramp, bright for better, over the range of the given values."""

    def __init__(self, metric: str, values: Sequence[float]) -> None:
        self.metric = metric
        self.log = metric == "train_loss"
        finite = [self._transform(v) for v in values if v is not None and math.isfinite(v)]
        finite = [v for v in finite if v is not None]
        self.low = min(finite) if finite else None
        self.high = max(finite) if finite else None
        self.lowest = min((v for v in values if v is not None and math.isfinite(v)), default=None)
        self.highest = max((v for v in values if v is not None and math.isfinite(v)), default=None)

    def _transform(self, value: float) -> float | None:
        if self.log:
            return math.log10(value) if value > 0 else None
        return value

    def colour(self, value: float) -> str:
        """The ramp colour of ``value`` (the brightest for the best in range)."""
        position = self.position(value)
        return RAMP[min(int(position * (len(RAMP) - 1) + 0.5), len(RAMP) - 1)]

    def position(self, value: float) -> float:
        """0 (worst shown) … 1 (best shown)."""
        transformed = self._transform(value)
        if transformed is None:
            transformed = self.low if self.low is not None else 0.0
        if self.low is None or self.high is None or self.high <= self.low:
            return 0.5
        fraction = (transformed - self.low) / (self.high - self.low)
        fraction = min(max(fraction, 0.0), 1.0)
        return fraction if HIGHER_IS_BETTER[self.metric] else 1.0 - fraction


@dataclass
class AtlasLayout:
    label_width: int
    cell_width: int  # including the one-column gap at its right
    cell_height: int  # including a gap line under it, from 2 lines
    content_lines: int
    header_lines: int
    row_labels: list[str]
    column_labels: list[str]

    def cell_at(self, x: int, y: int) -> tuple[int, int] | None:
        """The (row, column) of the cell drawn at screen (x, y), or None."""
        if x < self.label_width + 1 or y < self.header_lines:
            return None
        column = (x - self.label_width - 1) // self.cell_width
        row = (y - self.header_lines) // self.cell_height
        if row >= len(self.row_labels) or column >= len(self.column_labels):
            return None
        return row, column


def atlas_layout(rows: Sequence[str], columns: Sequence[str], width: int, height: int) -> AtlasLayout:
    legend = 2 if height >= len(rows) + 4 else 1
    label_width = min(max((len(r) for r in rows), default=0), MAX_LABEL_WIDTH)
    columns_count = max(len(columns), 1)
    # labels give way to cells: shorten them before the cells drop under 7 columns
    while label_width > MIN_LABEL_WIDTH and (width - label_width - 1) // columns_count < 7:
        label_width -= 1
    cell_width = min(max((width - label_width - 1) // columns_count, MIN_CELL_WIDTH), MAX_CELL_WIDTH)
    header = 1
    cell_height = min(max((height - header - legend) // max(len(rows), 1), 1), MAX_CELL_HEIGHT)
    content = max(cell_height - 1, 1)  # a gap line between rows where there is room
    return AtlasLayout(
        label_width, cell_width, cell_height, content, header,
        unique_abbreviations(rows, label_width), unique_abbreviations(columns, cell_width - 1),
    )


def _centre(text: str, width: int) -> str:
    return fit(text, width) if len(text) >= width else text.center(width)


def _cell_lines(cell: RunRecord, metric: str, scale: ColourScale, width: int, lines: int,
                selected: bool, spread: SeedSpread | None = None,
                noise: bool = False) -> list[tuple[str, Style | None]]:
    """The cell's content lines (text exactly ``width`` wide, style); ``spread``: a seed group's, ``noise``:
    within noise of its column's best."""
    value = getattr(cell, metric)
    wide = width >= 7
    if cell.status == "diverged":
        text = "✗ diverged" if width >= 11 else "✗ div" if width >= 6 else "✗"
        background, detail = DIVERGED_BACKGROUND, "no finite loss"
    elif value is None or not math.isfinite(value):
        text, background = "–", NOT_APPLICABLE_BACKGROUND
        detail = "not yet" if metric in ("best_test_acc", "train_loss") else "n/a"
    elif spread is not None:
        text = (WITHIN_NOISE if noise else "") + format_mean_std(metric, value, spread.std.get(metric))
        background, detail = scale.colour(value), ""
    else:
        text, background = format_metric(metric, value, wide), scale.colour(value)
        detail = ""
    colour = text_colour(background)
    cell_style = style(colour, background, bold=True, underline=selected)
    detail_style = style(colour, background)
    # the arrows give way to a seed group's longer value: the underline still marks the cursor
    pointed = f"▸ {text} ◂" if selected and len(text) + 4 <= width else text
    result = [(_centre(pointed if selected else text, width), cell_style)]
    if lines >= 2:
        others = [f"{short} {format_metric(key, getattr(cell, key), True)}" for key, _, short in METRICS
                  if key != metric and getattr(cell, key) is not None]
        if spread is not None:  # the seeds first, then as many of the other metrics as fit whole
            diverged = f", {spread.diverged} div" if spread.diverged else ""
            shown = [f"{spread.seeds} seeds{diverged}"]
            for other in others:
                if len(" ".join([*shown, other])) <= width:
                    shown.append(other)
            others = shown
        result.append((_centre(detail or " ".join(others), width), detail_style))
    if lines >= 3:
        status = "" if cell.status == "running" else f" · {cell.status}"
        runs = f"runs {spread.runs[0]}–{spread.runs[-1]}" if spread is not None else f"run {cell.id}"
        result.append((_centre(f"{runs}{status}", width), detail_style))
    while len(result) < lines:
        result.append((" " * width, detail_style))
    return result


def render_atlas(
    cells: Sequence[RunRecord], width: int, height: int, metric: str = "best_test_acc",
    cursor: tuple[int, int] = (0, 0), rows: Sequence[str] | None = None, columns: Sequence[str] | None = None,
    spreads: Mapping[int, SeedSpread] | None = None,
) -> tuple[list[Strip], AtlasLayout | None]:
    """Exactly ``height`` lines of ``width`` cells; ``spreads``: the seed groups' (by their cells' run ids)."""
    if width <= 0 or height <= 0:
        return [], None
    rows = list(rows) if rows is not None else _order([c.spec.init for c in cells], INITIALIZER_NAMES)
    columns = list(columns) if columns is not None else _order([c.spec.activation for c in cells], ACTIVATION_NAMES)
    if not cells or not rows or not columns:
        return blank_lines(width, height, "no runs", NOTE_STYLE), None
    grid = matrix_of(cells)
    layout = atlas_layout(rows, columns, width, height)
    scale = ColourScale(metric, [getattr(c, metric) for c in grid.values() if c.status != "diverged"])
    spreads = spreads or {}
    noise = within_noise(grid, spreads, metric)
    label_style = style(bold=True)
    cursor_label = style(bold=True, underline=True)
    lines: list[Strip] = []
    header = Line(width).add(" " * (layout.label_width + 1))
    for index, label in enumerate(layout.column_labels):
        text = label.center(layout.cell_width - 1)[: layout.cell_width - 1] + " "
        header.add(text, cursor_label if index == cursor[1] else label_style)
    lines.append(header.strip())
    for row_index, init in enumerate(rows):
        drawn = [
            _cell_lines(grid[(init, act)], metric, scale, layout.cell_width - 1, layout.content_lines,
                        (row_index, column_index) == cursor, spreads.get(grid[(init, act)].id),
                        grid[(init, act)].id in noise)
            if (init, act) in grid else None
            for column_index, act in enumerate(columns)
        ]
        for line_index in range(layout.cell_height):
            line = Line(width)
            label = layout.row_labels[row_index] if line_index == 0 else ""
            line.add(label.ljust(layout.label_width)[: layout.label_width] + " ",
                     cursor_label if row_index == cursor[0] and label else label_style)
            for column_index, content in enumerate(drawn):
                if content is None and line_index == 0 and (row_index, column_index) == cursor:
                    line.add(_centre("▸ · ◂", layout.cell_width - 1) + " ", cursor_label)
                elif content is None or line_index >= layout.content_lines:
                    line.add(" " * layout.cell_width)
                else:
                    text, text_style = content[line_index]
                    line.add(text, text_style).add(" ")
            lines.append(line.strip())
    seeds = max((spread.seeds for spread in spreads.values()), default=1)
    lines.extend(_legend(scale, metric, width, height - len(lines), seeds))
    lines.extend(Strip.blank(width) for _ in range(height - len(lines)))
    return lines[:height], layout


def matrix_of(cells: Sequence[RunRecord]) -> dict[tuple[str, str], RunRecord]:
    """Cells by (init, activation); the first run of a combination wins."""
    grid: dict[tuple[str, str], RunRecord] = {}
    for cell in cells:
        grid.setdefault((cell.spec.init, cell.spec.activation), cell)
    return grid


def grid_problem(pairs: Sequence[tuple[str, str]]) -> str | None:
    """Why runs given as (initialiser, activation) do not form a matrix, or None when they do: every
    initialiser with every activation, each once, at least two runs."""
    if len(pairs) < 2:
        return (f"The atlas shows a sweep: every initialiser × every activation. There {'is one run' if pairs else 'are no runs'}; "
                "start the atlas preset (p) or give --runs that cover such a grid.")
    seen: dict[tuple[str, str], int] = {}
    for pair in pairs:
        seen[pair] = seen.get(pair, 0) + 1
    twice = [f"{init}:{activation}" for (init, activation), count in seen.items() if count > 1]
    inits = _order([init for init, _ in pairs], INITIALIZER_NAMES)
    activations = _order([activation for _, activation in pairs], ACTIVATION_NAMES)
    missing = [f"{init}:{activation}" for init in inits for activation in activations if (init, activation) not in seen]
    if not twice and not missing:
        return None
    why = []
    if missing:
        verb = "has" if len(missing) == 1 else "have"
        why.append(f"{len(missing)} of the {len(inits)} × {len(activations)} combinations {verb} no run "
                   f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})")
    if twice:
        why.append(f"{', '.join(twice[:3])}{', …' if len(twice) > 3 else ''} run more than once")
    return (f"These {len(pairs)} runs do not form an initialiser × activation grid: {'; '.join(why)}. "
            "Start the atlas preset (p) or give --runs that cover such a grid.")


def _legend(scale: ColourScale, metric: str, width: int, room: int, seeds: int = 1) -> list[Strip]:
    """The colour ramp and the marks; with seed groups, what ± and ≈ say; then the metrics to choose from."""
    if room <= 0:
        return []
    label = next(long for key, long, _ in METRICS if key == metric)
    line = Line(width).add(label, style(bold=True)).add("  ")
    if scale.lowest is not None and scale.highest is not None:
        worst, best = ((scale.lowest, scale.highest) if HIGHER_IS_BETTER[metric] else (scale.highest, scale.lowest))
        line.add(f"worse {format_metric(metric, worst, True)} ", NOTE_STYLE)
        for colour in RAMP[:: max(len(RAMP) // 8, 1)]:
            line.add("█", style(colour))
        line.add(f" {format_metric(metric, best, True)} better  ", NOTE_STYLE)
    line.add("✗", style("#ffffff", DIVERGED_BACKGROUND, bold=True)).add(" diverged  ", NOTE_STYLE)
    line.add("–", style("#ffffff", NOT_APPLICABLE_BACKGROUND)).add(" n/a", NOTE_STYLE)
    legend = [line.strip()]
    if seeds > 1 and room >= 2:
        noise = Line(width).add(f"± std over {seeds} seeds · colour: the mean · ", NOTE_STYLE)
        noise.add(WITHIN_NOISE, style(bold=True)).add(" within noise of its column's best", NOTE_STYLE)
        legend.append(noise.strip())
    if room > len(legend):
        choices = Line(width).add("metric: ", NOTE_STYLE)
        for key, long, _ in METRICS:
            choices.add(long, style(bold=True, reverse=True) if key == metric else NOTE_STYLE).add("  ")
        legend.append(choices.strip())
    return legend


class AtlasMatrix(StripsWidget, can_focus=True):
    """The atlas of the cells it was last given; see the module's docstring.

    ``show(cells)`` with one :class:`RunRecord` per run (or per seed group, with its ``spreads``);
    ``rows``/``columns`` fix the order (default: the project's order of initialisers and activations).
    ``next_metric()`` cycles METRICS.
    """

    DEFAULT_CSS = """
    AtlasMatrix { height: 1fr; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "up", show=False),
        Binding("down", "move(1, 0)", "down", show=False),
        Binding("left", "move(0, -1)", "left", show=False),
        Binding("right", "move(0, 1)", "right", show=False),
        Binding("enter", "select", "open run", show=False),
    ]

    class CellHighlighted(Message):
        """The cursor moved onto a cell; ``run_id`` is None for a combination with no run."""

        def __init__(self, run_id: int | None, init: str, activation: str) -> None:
            super().__init__()
            self.run_id, self.init, self.activation = run_id, init, activation

    class RunSelected(Message):
        """Enter (or a click) on a cell with a run."""

        def __init__(self, run_id: int, init: str, activation: str) -> None:
            super().__init__()
            self.run_id, self.init, self.activation = run_id, init, activation

    def __init__(self, *, metric: str = "best_test_acc", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cells: list[RunRecord] = []
        self.spreads: dict[int, SeedSpread] = {}
        self.rows: list[str] = []
        self.columns: list[str] = []
        self.metric = metric
        self.cursor = (0, 0)
        self.matrix_layout: AtlasLayout | None = None
        self._fixed_rows: list[str] | None = None
        self._fixed_columns: list[str] | None = None

    # ------------------------------------------------------------------ data
    def show(self, cells: Sequence[RunRecord], rows: Sequence[str] | None = None,
             columns: Sequence[str] | None = None, spreads: Mapping[int, SeedSpread] | None = None) -> None:
        self.cells = list(cells)
        self.spreads = dict(spreads or {})
        self._fixed_rows = list(rows) if rows is not None else None
        self._fixed_columns = list(columns) if columns is not None else None
        self.rows = self._fixed_rows or _order([c.spec.init for c in self.cells], INITIALIZER_NAMES)
        self.columns = self._fixed_columns or _order([c.spec.activation for c in self.cells], ACTIVATION_NAMES)
        self.cursor = (min(self.cursor[0], max(len(self.rows) - 1, 0)), min(self.cursor[1], max(len(self.columns) - 1, 0)))
        self.redraw()

    def set_metric(self, metric: str) -> None:
        if metric not in HIGHER_IS_BETTER:
            raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(HIGHER_IS_BETTER)}")
        self.metric = metric
        self.redraw()

    def next_metric(self) -> str:
        keys = [key for key, _, _ in METRICS]
        self.set_metric(keys[(keys.index(self.metric) + 1) % len(keys)])
        return self.metric

    @property
    def selected_cell(self) -> RunRecord | None:
        """The run under the cursor, or None on an empty combination."""
        if not self.rows or not self.columns:
            return None
        return matrix_of(self.cells).get((self.rows[self.cursor[0]], self.columns[self.cursor[1]]))

    def select_run(self, run_id: int) -> bool:
        """Move the cursor onto ``run_id``'s cell (another page selected it), a seed group's where it is one of
        its seeds; False if it is not shown."""
        for cell in matrix_of(self.cells).values():
            runs = self.spreads[cell.id].runs if cell.id in self.spreads else (cell.id,)
            if run_id in runs and cell.spec.init in self.rows and cell.spec.activation in self.columns:
                self._move_to(self.rows.index(cell.spec.init), self.columns.index(cell.spec.activation), announce=False)
                return True
        return False

    # ------------------------------------------------------------------ keys and mouse
    def action_move(self, rows: int, columns: int) -> None:
        if self.rows and self.columns:
            self._move_to(min(max(self.cursor[0] + rows, 0), len(self.rows) - 1),
                          min(max(self.cursor[1] + columns, 0), len(self.columns) - 1))

    def action_select(self) -> None:
        cell = self.selected_cell
        if cell is not None:
            self.post_message(self.RunSelected(cell.id, cell.spec.init, cell.spec.activation))

    def on_click(self, event: events.Click) -> None:
        if self.matrix_layout is None:
            return
        position = self.matrix_layout.cell_at(event.x, event.y)
        if position is not None:
            self._move_to(*position)
            self.action_select()

    def _move_to(self, row: int, column: int, announce: bool = True) -> None:
        if (row, column) == self.cursor:
            return
        self.cursor = (row, column)
        self.redraw()
        if announce:
            cell = self.selected_cell
            self.post_message(self.CellHighlighted(cell.id if cell else None, self.rows[row], self.columns[column]))

    # ------------------------------------------------------------------ drawing
    def render_strips(self, width: int, height: int) -> list[Strip]:
        lines, self.matrix_layout = render_atlas(
            self.cells, width, height, metric=self.metric, cursor=self.cursor, rows=self.rows, columns=self.columns,
            spreads=self.spreads,
        )
        return lines
