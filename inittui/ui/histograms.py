"""Small histograms side by side: every hidden layer of one run (the book's figure), or one layer of every run.

Drawn with block characters rather than plotext: thirty of them (the deep preset) still fit and cost
almost nothing to draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from inittui.events import Histogram

BLOCKS = " ▁▂▃▄▅▆▇█"
MIN_PANEL_WIDTH = 11
GAP = 1


@dataclass
class Panel:
    title: str
    colour: str
    histogram: Histogram | None
    measured: float | None
    predicted: float | None
    measured_label: str = "σ"


def rebin(counts: list[int], width: int) -> list[float]:
    """Counts spread over ``width`` equal bins (each original bin split in proportion)."""
    if width <= 0 or not counts:
        return []
    cumulative = [0.0]
    for count in counts:
        cumulative.append(cumulative[-1] + count)

    def at(position: float) -> float:
        index = min(int(position), len(counts) - 1)
        return cumulative[index] + (position - index) * counts[index]

    scale = len(counts) / width
    return [at((i + 1) * scale) - at(i * scale) for i in range(width)]


def number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 0.01 or abs(value) >= 1000):
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def pick(count: int, room: int) -> list[int]:
    """Indices of at most ``room`` of ``count`` items, evenly spread, first and last included."""
    if count <= room:
        return list(range(count))
    if room <= 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (room - 1)) for i in range(room)})


def panel_lines(panel: Panel, width: int, bar_rows: int) -> list[tuple[str, str]]:
    """The panel's lines as (text, style), each exactly ``width`` wide."""
    lines = [(panel.title[:width].ljust(width), f"bold {panel.colour}")]
    stats = f"{panel.measured_label}{number(panel.measured)} p{number(panel.predicted)}"
    lines.append((stats[:width].ljust(width), ""))
    hist = panel.histogram
    if hist is None or not hist.counts or sum(hist.counts) == 0:
        blank = " " * width
        for row in range(bar_rows):
            lines.append(("–".center(width) if row == bar_rows // 2 else blank, "dim"))
        lines.append((blank, "dim"))
        return lines
    values = rebin(hist.counts, width)
    top = max(values) or 1.0
    heights = [v / top * bar_rows * 8 for v in values]
    for row in range(bar_rows - 1, -1, -1):
        chars = []
        for height in heights:
            level = height - row * 8
            if level >= 8:
                chars.append(BLOCKS[8])
            elif level > 0:
                chars.append(BLOCKS[max(1, int(level))])
            else:
                chars.append(" ")
        lines.append(("".join(chars), panel.colour))
    low, high = number(hist.low), number(hist.high)
    axis = low + high.rjust(max(width - len(low), 0))
    lines.append((axis[:width].ljust(width), "dim"))
    return lines


class LayerHistograms(Widget):
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
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size
        if not self.panels or width < 4 or height < 1:
            return Text(self.message or "no layer statistics yet", style="dim")
        room = max(1, (width + GAP) // (MIN_PANEL_WIDTH + GAP))
        chosen = [self.panels[i] for i in pick(len(self.panels), room)]
        panel_width = max(1, (width - GAP * (len(chosen) - 1)) // len(chosen))
        bar_rows = max(1, height - 3)
        columns = [panel_lines(panel, panel_width, bar_rows) for panel in chosen]
        text = Text(no_wrap=True, overflow="crop")
        for line in range(min(height, bar_rows + 3)):
            if line:
                text.append("\n")
            for index, column in enumerate(columns):
                if index:
                    text.append(" " * GAP)
                content, style = column[line]
                text.append(content, style)
        return text
