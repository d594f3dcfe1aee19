"""The header: the page shown, then state, preset, progress, speed, elapsed time, device, dataset and the run
log's path, packed into one line at 120 columns or more and at most two below; what does not fit is left out,
least useful first, and the path is shortened (``~``, an ellipsis in the middle)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events
from textual.widgets import Static

from inittui.dashboard.state import DashboardState

STATE_STYLES = {"running": "bold green", "paused": "bold yellow", "done": "bold cyan", "stopped": "bold red",
                "error": "bold red", "probe": "bold magenta", "starting": "dim"}
ONE_LINE_WIDTH = 120  # from this width on the header takes one line; below, two
SEPARATOR = " │ "
MIN_PATH = 12  # a path shortened below this says nothing: it is left out instead
ELLIPSIS = "…"


def format_elapsed(seconds: float) -> str:
    if not 0 <= seconds < 1e9:  # NaN, negative, absurd: nothing to say
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


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


@dataclass
class Location:
    """A path the header shows shortened to the room left: ``prefix`` + path + ``suffix``."""

    path: Path | str
    prefix: str = "log "
    suffix: str = ""


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
    dropping the lowest-ranked first; then ``location``, shortened to the room left on the last line."""
    if width <= 0:
        return []
    room = 1 if width >= ONE_LINE_WIDTH else 2
    kept = list(pieces)
    lines = _pack(kept, width)
    while len(lines) > room:
        lowest = min(range(len(kept)), key=lambda index: (kept[index].rank, -index))
        del kept[lowest]
        lines = _pack(kept, width)
    if location is not None:
        used = sum(len(piece.text) for piece in lines[-1]) + len(SEPARATOR) * len(lines[-1])
        spare = width - used - len(location.prefix) - len(location.suffix)
        if spare < MIN_PATH and len(lines) < room:
            lines.append([])
            spare = width - len(location.prefix) - len(location.suffix)
        if spare >= MIN_PATH:
            text = f"{location.prefix}{shorten_path(location.path, spare)}{location.suffix}"
            lines[-1].append(Piece(text, "italic"))
    return lines


def header_pieces(state: DashboardState, device_label: str, page: str = "", extra: str = "") -> list[Piece]:
    """The header's fields in the order shown."""
    pieces = [Piece("≋ inittui", "bold", 9)]
    if page:
        pieces.append(Piece(page, "reverse", 9))
    pieces.append(Piece(state.state, STATE_STYLES.get(state.state, "bold"), 9))
    if state.preset != state.state:  # the probe is both: said once
        pieces.append(Piece(state.preset or "…", "", 7))
    if not state.probe:
        cursor = state.cursor_label()
        if cursor:
            pieces.append(Piece(cursor, "bold yellow", 8))
        else:
            pieces.append(Piece(f"epoch {state.epoch:.2f} step {state.step:,}/{state.total_steps:,}", "", 8))
        pieces.append(Piece(f"{state.samples_per_s:,.0f} samples/s", "", 4))
        pieces.append(Piece(format_elapsed(state.elapsed_s), "", 5))
    pieces.append(Piece(device_label or "device …", "", 3))
    pieces.append(Piece(state.dataset or "dataset …", "", 2))
    if extra:
        pieces.append(Piece(extra, "italic", 6))
    return pieces


def status_text(state: DashboardState, device_label: str, extra: str = "", problems: Sequence[str] = (),
                *, page: str = "", location: Location | None = None, width: int = 10_000) -> Text:
    """The header as text, at most two lines (one from ONE_LINE_WIDTH columns); then ``problems``, lasting
    warnings (a log that stopped being written, a training process that died), in red and in full, for as
    long as the dashboard is open."""
    text = Text(no_wrap=False, overflow="fold")
    lines = header_lines(header_pieces(state, device_label, page, extra), width, location)
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        for index, piece in enumerate(line):
            if index:
                text.append(SEPARATOR, "dim")
            text.append(piece.text, piece.style)
    for problem in problems:
        text.append(f"\n⚠ {problem}", "bold red")
    return text


class StatusBar(Static):
    """The header line(s), all from events; re-packed when the terminal is resized."""

    DEFAULT_CSS = """
    StatusBar { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple = ()

    def show(self, state: DashboardState, device_label: str, extra: str = "", problems: Sequence[str] = (),
             *, page: str = "", location: Location | None = None) -> None:
        self._shown = (state, device_label, extra, tuple(problems), page, location)
        self._repack()

    def _repack(self) -> None:
        if not self._shown:
            return
        state, device_label, extra, problems, page, location = self._shown
        width = self.size.width or self.app.size.width - 2  # before the first layout: the screen less padding
        self.update(status_text(state, device_label, extra, problems, page=page, location=location,
                                width=max(width, 1)))

    def on_resize(self, event: events.Resize) -> None:
        self._repack()
