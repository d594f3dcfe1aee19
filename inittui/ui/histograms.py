"""Small histograms side by side: every hidden layer of one run (the book's figure), or one layer of every run.

Drawn with block characters: thirty of them (the deep preset) still fit, and a frame costs what the panels'
size on screen costs, whatever the counts (huge, negative, non-finite or many bins) and bounds.
"""

from __future__ import annotations

import numpy as np

from inittui.core.format import panel_number
from inittui.dashboard.views import Panel
from inittui.series.spread import spread
from inittui.ui.lines import LinesWidget, StyledLine

BLOCKS = " ▁▂▃▄▅▆▇█"
_BLOCK_CHARS = np.array(list(BLOCKS), dtype=object)
MIN_PANEL_WIDTH = 11
GAP = 1


def clean_counts(counts: list[int]) -> np.ndarray:
    """Counts as floats; anything that cannot be a count (negative, NaN, ±inf, not a number) counts 0."""
    try:
        values = np.asarray(counts, dtype=np.float64).reshape(-1)
    except (OverflowError, TypeError, ValueError):
        values = np.array([_as_count(count) for count in counts], dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def _as_count(value: object) -> float:
    try:
        return min(float(value), np.finfo(np.float64).max)  # type: ignore[arg-type]
    except OverflowError:
        return np.finfo(np.float64).max
    except (TypeError, ValueError):
        return 0.0


def rebin(counts: list[int], width: int) -> list[float]:
    """Counts spread over ``width`` equal bins (each original bin split in proportion)."""
    values = clean_counts(counts)
    if width <= 0 or values.size == 0:
        return []
    # scaled to the largest count first, so that the running sum of huge counts cannot overflow
    values = values / (values.max() or 1.0)
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    positions = np.arange(width + 1) * (values.size / width)
    index = np.minimum(positions.astype(np.int64), values.size - 1)
    at = cumulative[index] + (positions - index) * values[index]
    return np.diff(at).tolist()


def panel_lines(panel: Panel, width: int, bar_rows: int) -> list[tuple[str, str]]:
    """The panel's lines as (text, style), each exactly ``width`` wide."""
    lines = [(panel.title[:width].ljust(width), f"bold {panel.colour}")]
    stats = f"{panel.measured_label}{panel_number(panel.measured)} p{panel_number(panel.predicted)}"
    lines.append((stats[:width].ljust(width), ""))
    hist = panel.histogram
    values = rebin(hist.counts, width) if hist is not None else []
    if not any(value > 0 for value in values):
        blank = " " * width
        for row in range(bar_rows):
            lines.append(("–".center(width) if row == bar_rows // 2 else blank, "dim"))
        lines.append((blank, "dim"))
        return lines
    top = max(values)
    # eighths of a row filled, per column and row (top row first): each cell a block of that height
    eighths = np.asarray(values) / top * bar_rows * 8 - (np.arange(bar_rows)[::-1] * 8)[:, None]
    blocks = np.where(eighths > 0, np.clip(np.floor(eighths), 1, 8), 0).astype(np.int64)
    for row in _BLOCK_CHARS[blocks]:
        lines.append(("".join(row), panel.colour))
    low, high = panel_number(hist.low), panel_number(hist.high)
    axis = low + high.rjust(max(width - len(low), 0))
    lines.append((axis[:width].ljust(width), "dim"))
    return lines


class LayerHistograms(LinesWidget):
    """Draws the panels it was last given; as many as fit, evenly chosen when there are too many."""

    DEFAULT_CSS = """
    LayerHistograms { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panels: list[Panel] = []
        self.message = ""

    def show(self, panels: list[Panel], title: str, message: str = "") -> None:
        self.panels = panels
        self.message = message
        self.border_title = title
        self.redraw()

    def draw(self, width: int, height: int) -> list[StyledLine]:
        return render_panels(self.panels, width, height, self.message)


def render_panels(panels: list[Panel], width: int, height: int, message: str = "") -> list[StyledLine]:
    """As many panels side by side as fit in ``width`` × ``height``, evenly chosen when there are too many."""
    if height < 1 or width < 1:
        return []
    if not panels or width < 4:
        return [[((message or "no layer statistics yet")[:width], "dim")]]
    room = max(1, (width + GAP) // (MIN_PANEL_WIDTH + GAP))
    chosen = [panels[i] for i in spread(len(panels), room)]
    panel_width = max(1, (width - GAP * (len(chosen) - 1)) // len(chosen))
    bar_rows = max(1, height - 3)
    columns = [panel_lines(panel, panel_width, bar_rows) for panel in chosen]
    lines = []
    for row in range(min(height, bar_rows + 3)):
        line: StyledLine = []
        for index, column in enumerate(columns):
            if index:
                line.append((" " * GAP, ""))
            line.append(column[row])
        lines.append(line)
    return lines
