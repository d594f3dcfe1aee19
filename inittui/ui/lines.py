"""Widgets that draw themselves as lines of styled runs, through Textual's line API.

A chart is rebuilt once per change or resize and each line handed out as a Strip: no Rich Text to lay out,
so a frame costs the cells on screen and nothing else.
"""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

# one line: runs of (text, style), the style a Rich style string such as "bold #e06c75" or ""
StyledLine = list[tuple[str, str]]


@lru_cache(maxsize=512)
def _style(text: str) -> Style:
    return Style.parse(text) if text else Style()


def line_width(line: StyledLine) -> int:
    return sum(len(text) for text, _ in line)


class LinesWidget(Widget):
    """Subclasses implement :meth:`draw`; call :meth:`refresh` when what they draw changed."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._drawn_for: tuple[int, int] | None = None
        self._strips: list[Strip] = []

    def draw(self, width: int, height: int) -> list[StyledLine]:
        """At most ``height`` lines, each at most ``width`` cells."""
        raise NotImplementedError

    def refresh(self, *args, **kwargs):  # type: ignore[override]
        self._drawn_for = None
        return super().refresh(*args, **kwargs)

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._drawn_for != (width, height):
            self._strips = self._to_strips(self.draw(width, height)[:height], width)
            self._drawn_for = (width, height)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.rich_style)

    def _to_strips(self, lines: list[StyledLine], width: int) -> list[Strip]:
        """Each line cut or padded to ``width`` cells, every run in its style over the widget's own."""
        base = self.rich_style
        combined: dict[str, Style] = {}
        strips = []
        for line in lines:
            segments = []
            used = 0
            for text, style in line:
                text = text[: width - used]
                if not text:
                    continue
                if style not in combined:
                    combined[style] = base + _style(style)
                segments.append(Segment(text, combined[style]))
                used += len(text)  # every character drawn here is one cell wide
            if used < width:
                segments.append(Segment(" " * (width - used), base))
            strips.append(Strip(segments, width))
        return strips

    def plain_lines(self) -> list[str]:
        """What the widget shows now, as plain text (tests)."""
        width, height = self.size
        return ["".join(text for text, _ in line) for line in self.draw(width, height)]
