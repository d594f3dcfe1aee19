"""The header: the page shown, then state, preset, progress, speed, elapsed time, the spectrum's cadence (on the
depth page), device, dataset and the run log's path, packed into one line at 120 columns or more and at most two
below; what does not fit is left out, least useful first, and the path is shortened (``~``, an ellipsis in the
middle)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events
from textual.widgets import Static

from inittui.dashboard.views import HeaderView, Location

STATE_STYLES = {"running": "bold green", "paused": "bold yellow", "done": "bold cyan", "stopped": "bold red",
                "error": "bold red", "interrupted": "bold red", "probe": "bold magenta", "starting": "dim"}
ONE_LINE_WIDTH = 120  # from this terminal width on the header takes one line; below, two
PADDING = 2  # the header's padding, left and right: its text is this much narrower than the terminal
SEPARATOR = " │ "
MIN_PATH = 12  # a path shortened below this says nothing: it is left out instead
ELLIPSIS = "…"
ESSENTIAL_LOCATION_RANK = 5  # a viewed log's path: kept before the device (3) and the dataset (2)
LOCATION_RANK = 1  # a live run's log: the first left out


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis replacing its middle when it is longer."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1) // 2
    return f"{text[:head]}{ELLIPSIS}{text[len(text) - (width - 1 - head):]}"


def shorten_path(path: Path | str, width: int, home: str | None = None) -> str:
    """``path`` with the home directory written ``~``, then shortened in the middle to ``width`` characters."""
    text = str(path)
    home = os.path.expanduser("~") if home is None else home
    if home not in ("", "/") and (text == home or text.startswith(home.rstrip("/") + "/")):
        text = "~" + text[len(home.rstrip("/")):]
    return shorten_middle(text, width)


@dataclass
class Piece:
    """One field of the header; the lower ``rank``, the sooner it is left out when the room runs short."""

    text: str
    style: str = ""
    rank: int = 0


def _pack(pieces: Sequence[Piece], width: int) -> list[list[Piece]]:
    """Pieces in order, wrapped at separators into lines of ``width``; a piece wider than a line is cut."""
    lines: list[list[Piece]] = [[]]
    used = 0
    for piece in pieces:
        length = len(piece.text) + (len(SEPARATOR) if lines[-1] else 0)
        if lines[-1] and used + length > width:
            lines.append([])
            used, length = 0, len(piece.text)
        if length > width:
            piece = Piece(shorten_middle(piece.text, width), piece.style, piece.rank)
            length = width
        lines[-1].append(piece)
        used += length
    return lines


def header_lines(pieces: list[Piece], width: int, location: Location | None = None) -> list[list[Piece]]:
    """The pieces that fit into the header's lines at ``width`` (one line from ONE_LINE_WIDTH, else two),
    dropping the lowest-ranked first; ``location`` holds a place (an essential one ranked above the device and
    the dataset: a viewer that stops saying "read-only" misleads), then takes the room left on its line."""
    if width <= 0:
        return []
    room = 1 if width + PADDING >= ONE_LINE_WIDTH else 2
    kept = list(pieces)
    if location is not None:
        rank = ESSENTIAL_LOCATION_RANK if location.essential else LOCATION_RANK
        kept.append(Piece(" " * (len(location.prefix) + MIN_PATH + len(location.suffix)), "italic", rank))
    lines = _pack(kept, width)
    while len(lines) > room:
        lowest = min(range(len(kept)), key=lambda index: (kept[index].rank, -index))
        del kept[lowest]
        lines = _pack(kept, width)
    placeholder = next((line for line in lines if line and not line[-1].text.strip()), None)
    if location is not None and placeholder is not None:
        placeholder.pop()
        used = sum(len(piece.text) for piece in placeholder) + len(SEPARATOR) * len(placeholder)
        spare = width - used - len(location.prefix) - len(location.suffix)
        placeholder.append(Piece(f"{location.prefix}{shorten_path(location.path, spare)}{location.suffix}", "italic"))
    return lines


def header_pieces(header: HeaderView) -> list[Piece]:
    """The header's fields in the order shown."""
    pieces = [Piece("≋ inittui", "bold", 9)]
    if header.page:
        pieces.append(Piece(header.page, "reverse", 9))
    pieces.append(Piece(header.state, STATE_STYLES.get(header.state, "bold"), 9))
    if header.preset != header.state:  # the probe is both: said once
        pieces.append(Piece(header.preset or "…", "", 7))
    if not header.probe:
        if header.cursor:
            pieces.append(Piece(header.cursor, "bold yellow", 8))
        else:
            pieces.append(Piece(header.progress, "", 8))
        pieces.append(Piece(header.speed, "", 4))
        pieces.append(Piece(header.elapsed, "", 5))
    if header.spectrum:
        pieces.append(Piece(header.spectrum, "", 6))
    pieces.append(Piece(header.device or "device …", "", 3))
    pieces.append(Piece(header.dataset or "dataset …", "", 2))
    if header.extra:
        pieces.append(Piece(header.extra, "italic", 6))
    return pieces


def status_text(header: HeaderView, width: int = 10_000) -> Text:
    """The header as text, at most two lines (one from ONE_LINE_WIDTH columns); then the problems that last
    (a log that stopped being written, a training process that died), in red and in full."""
    text = Text(no_wrap=False, overflow="fold")
    lines = header_lines(header_pieces(header), width, header.location)
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        for index, piece in enumerate(line):
            if index:
                text.append(SEPARATOR, "dim")
            text.append(piece.text, piece.style)
    for problem in header.problems:
        text.append(f"\n⚠ {problem}", "bold red")
    return text


class StatusBar(Static):
    """The header line(s); re-packed when the terminal is resized."""

    DEFAULT_CSS = """
    StatusBar { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.header: HeaderView | None = None

    def show(self, header: HeaderView) -> None:
        if header != self.header:
            self.header = header
            self._repack()

    def _repack(self) -> None:
        if self.header is None:
            return
        width = self.size.width or self.app.size.width - PADDING  # before the first layout: the screen less padding
        self.update(status_text(self.header, width=max(width, 1)))

    def on_resize(self, event: events.Resize) -> None:
        self._repack()
