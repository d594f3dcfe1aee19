"""The steps a full-screen chart shows, and its value cursor: zoom, pan and cursor as plain numbers (no Textual).

Steps are counted from a run's start, as the curves count them; ``extent`` is the last step the curves reach.
Unzoomed, the window is every step and grows with training. Zoomed, it keeps its width and, while its right
edge is on the latest step, follows training (live); panned back, it stays on the steps it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

# narrower than this, a window shows single buckets stretched over the screen: nothing more to read
MIN_SPAN = 10.0
ZOOM_FACTOR = 2.0
# a pan moves the window by this share of its width
PAN_SHARE = 0.25


@dataclass
class StepWindow:
    """Zoom, pan and the value cursor of the full-screen chart."""

    # the window's width in steps; None: every step
    span: float | None = None
    # its right edge; None: the latest step (it follows training)
    stop: float | None = None
    # the value cursor's step; None: on the window's right edge
    cursor: float | None = None

    def visible(self, extent: float) -> tuple[float, float]:
        """The steps shown, [start, stop], inside [0, extent]."""
        extent = max(float(extent), 0.0)
        if self.span is None or self.span >= extent:
            return (0.0, extent)
        span = max(self.span, min(MIN_SPAN, extent))
        stop = extent if self.stop is None else min(max(self.stop, span), extent)
        return (stop - span, stop)

    def cursor_at(self, extent: float) -> float:
        """The value cursor's step, kept inside the window."""
        start, stop = self.visible(extent)
        return stop if self.cursor is None else min(max(self.cursor, start), stop)

    @property
    def zoomed(self) -> bool:
        return self.span is not None

    def zoom_in(self, extent: float) -> None:
        """Half the width, about the cursor: the step under it stays where it is on the screen."""
        start, stop = self.visible(extent)
        width = stop - start
        if width <= MIN_SPAN:
            return
        span = max(width / ZOOM_FACTOR, MIN_SPAN)
        cursor = self.cursor_at(extent)
        new_start = cursor - (cursor - start) * span / width
        self._place(new_start + span, span, extent)

    def zoom_out(self, extent: float) -> None:
        """Twice the width, about the cursor; at the whole run, unzoomed."""
        if self.span is None:
            return
        start, stop = self.visible(extent)
        width = max(stop - start, 1e-9)
        span = width * ZOOM_FACTOR
        if span >= extent:
            self.span = self.stop = None
            return
        cursor = self.cursor_at(extent)
        new_start = cursor - (cursor - start) * span / width
        self._place(new_start + span, span, extent)

    def pan(self, direction: int, extent: float) -> None:
        """A quarter of the width later (``direction`` 1) or earlier (-1); unzoomed there is nowhere to go."""
        if self.span is None:
            return
        start, stop = self.visible(extent)
        self._place(stop + direction * PAN_SHARE * (stop - start), stop - start, extent)

    def move_cursor(self, direction: int, columns: int, extent: float) -> None:
        """The cursor one of ``columns`` plot columns on; past an edge of a zoomed window, the window follows."""
        start, stop = self.visible(extent)
        step = (stop - start) / max(columns - 1, 1)
        cursor = self.cursor_at(extent) + direction * step
        if self.span is not None and not start <= cursor <= stop:
            self._place(stop + direction * step, stop - start, extent)
            start, stop = self.visible(extent)
        # on the latest step of a window that follows training, the cursor follows it too
        self.cursor = None if cursor >= stop and self.stop is None else max(cursor, start)

    def reset(self) -> None:
        """Every step, live, the cursor on the latest."""
        self.span = self.stop = self.cursor = None

    def _place(self, stop: float, span: float, extent: float) -> None:
        """A window of ``span`` steps ending at ``stop`` (:meth:`visible` keeps it inside the steps); ending at
        the latest step or beyond, it follows training."""
        self.span = span
        self.stop = None if stop >= extent else stop
