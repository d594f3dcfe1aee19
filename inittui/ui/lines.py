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
            base = self.rich_style
            self._strips = [
                Strip([Segment(text, _style(style)) for text, style in line if text])
                .crop_extend(0, width, None)
                .apply_style(base)
                for line in self.draw(width, height)[:height]
            ]
            self._drawn_for = (width, height)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.rich_style)

    def plain_lines(self) -> list[str]:
        """What the widget shows now, as plain text (tests)."""
        width, height = self.size
        return ["".join(text for text, _ in line) for line in self.draw(width, height)]
