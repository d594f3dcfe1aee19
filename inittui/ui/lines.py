"""Widgets that draw themselves as whole lines, through Textual's line API.

A chart is rebuilt once per change or resize and each line handed out as a Strip: no Rich Text to lay out,
so a frame costs the cells on screen and nothing else. :class:`StripsWidget` keeps the lines it drew for its
size; :class:`LinesWidget` draws lines of (text, style) runs.
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


class StripsWidget(Widget):
    """Subclasses implement :meth:`render_strips`; call :meth:`redraw` when what they draw changed. The lines
    are drawn once per change or size, however often Textual asks for them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._drawn_for: tuple[int, int] | None = None
        self._strips: list[Strip] = []

    def render_strips(self, width: int, height: int) -> list[Strip]:
        """At most ``height`` lines, each exactly ``width`` cells."""
        raise NotImplementedError

    def redraw(self) -> None:
        """What the widget draws changed: draw it again when next shown."""
        self._drawn_for = None
        self.refresh()

    def strips(self) -> list[Strip]:
        """The lines for the widget's current size (drawn if not yet)."""
        size = (self.size.width, self.size.height)
        if self._drawn_for != size:
            self._strips = self.render_strips(*size)[: size[1]]
            self._drawn_for = size
        return self._strips

    def render_line(self, y: int) -> Strip:
        strips = self.strips()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.rich_style)


class LinesWidget(StripsWidget):
    """Subclasses implement :meth:`draw` as lines of styled runs."""

    def draw(self, width: int, height: int) -> list[StyledLine]:
        """At most ``height`` lines, each at most ``width`` cells."""
        raise NotImplementedError

    def render_strips(self, width: int, height: int) -> list[Strip]:
        """Each line cut or padded to ``width`` cells, every run in its style over the widget's own."""
        base = self.rich_style
        combined: dict[str, Style] = {}
        strips = []
        for line in self.draw(width, height)[:height]:
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
