"""A small app that mounts one view widget and feeds it, for Pilot and snapshot tests; helpers to read cells."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.style import Style
from textual import on
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widget import Widget

from inittui.core.config import ACTIVATION_NAMES
from inittui.core.presets import ATLAS_INITIALIZERS
from inittui.core.events import RunRecord
from inittui.ui.atlas import AtlasMatrix

from support.records import record


class WidgetApp(App):
    """Mounts ``widget`` alone and calls ``feed(widget)`` once it is mounted; records the atlas's messages."""

    CSS = "Screen { padding: 0; }"

    def __init__(self, widget: Widget, feed: Callable[[Any], None] = lambda widget: None) -> None:
        super().__init__()
        self.widget = widget
        self.feed = feed
        self.messages: list[Any] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_mount(self) -> None:
        self.feed(self.widget)
        self.widget.focus()

    @on(AtlasMatrix.CellHighlighted)
    @on(AtlasMatrix.RunSelected)
    def _record(self, message: Any) -> None:
        self.messages.append(message)


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """Every cell of a rendered line: (character, style)."""
    result = []
    for segment in strip:
        for character in segment.text:
            result.append((character, segment.style))
    return result


def text_of(strip: Strip) -> str:
    return "".join(character for character, _ in cells(strip))


def colour_of(style: Style | None) -> str | None:
    return None if style is None or style.color is None else style.color.get_truecolor().hex.lower()


def background_of(style: Style | None) -> str | None:
    return None if style is None or style.bgcolor is None else style.bgcolor.get_truecolor().hex.lower()


def screen_lines(widget: Widget) -> list[Strip]:
    return [widget.render_line(y) for y in range(widget.size.height)]


def sweep(missing: tuple[str, str] | None = ("glorot", "tanh")) -> list[RunRecord]:
    """Every initialiser × every activation, accuracy rising with the position; normal-1 diverges with relu."""
    result = []
    for i, init in enumerate(ATLAS_INITIALIZERS):
        for j, act in enumerate(ACTIVATION_NAMES):
            if (init, act) == missing:
                continue
            run_id = i * len(ACTIVATION_NAMES) + j
            diverged = init == "normal-1" and act == "relu"
            can_die = act not in ("sigmoid", "tanh")
            result.append(record(
                run_id, init, act, "diverged" if diverged else "running",
                best_test_acc=None if diverged else 0.1 + 0.85 * run_id / 59,
                train_loss=None if diverged else 2.3 - 2.2 * run_id / 59,
                dead=0.01 * j if can_die else None,
                saturated=None if can_die else 0.02 * i,
            ))
    return result
