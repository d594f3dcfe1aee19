"""Drawing helpers shared by the chart widgets: styles, lines of cells, a log axis and its labels (the braille
lines are in :mod:`inittui.ui.braille`; every other number format is in :mod:`inittui.core.format`).

Everything here works on arrays sized by the screen, never by the data, so a widget that uses it costs the
same for 30 layers or 300, for six runs or sixty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


@lru_cache(maxsize=4096)
def style(colour: str | None = None, background: str | None = None, *, bold: bool = False, dim: bool = False,
          reverse: bool = False, underline: bool = False) -> Style:
    """A rich Style, built once per combination (styles are compared on every segment)."""
    return Style(color=colour, bgcolor=background, bold=bold or None, dim=dim or None,
                 reverse=reverse or None, underline=underline or None)


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` cut or padded to exactly ``width`` cells (an ellipsis where cut), left- or right-aligned."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text.rjust(width) if right else text.ljust(width)
    return text[: width - 1] + "…" if width > 1 else text[:1]


class Line:
    """One screen line built left to right from (text, style) pieces; :meth:`strip` pads or crops it."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.segments: list[Segment] = []
        self.used = 0

    def add(self, text: str, text_style: Style | None = None) -> Line:
        room = self.width - self.used
        if room <= 0 or not text:
            return self
        if len(text) > room:
            text = text[:room]
        self.segments.append(Segment(text, text_style))
        self.used += len(text)
        return self

    def pad_to(self, column: int, text_style: Style | None = None) -> Line:
        if column > self.used:
            self.add(" " * (column - self.used), text_style)
        return self

    def strip(self) -> Strip:
        self.pad_to(self.width)
        return Strip(self.segments, self.width)


def blank_lines(width: int, height: int, message: str = "", message_style: Style | None = None) -> list[Strip]:
    """``height`` empty lines, ``message`` centred on the middle one."""
    lines = [Strip.blank(width) for _ in range(max(height, 0))]
    if message and height > 0 and width > 0:
        lines[height // 2] = Line(width).add(message[:width].center(width), message_style).strip()
    return lines


def colour_ramp(stops: Sequence[str], levels: int) -> list[str]:
    """``levels`` colours "#rrggbb" evenly interpolated through ``stops``."""
    rgb = np.array([[int(stop[i : i + 2], 16) for i in (1, 3, 5)] for stop in stops], dtype=np.float64)
    colours = []
    for position in np.linspace(0, len(stops) - 1, levels):
        low = int(math.floor(position))
        high = min(low + 1, len(stops) - 1)
        mixed = rgb[low] + (rgb[high] - rgb[low]) * (position - low)
        colours.append("#" + "".join(f"{int(round(v)):02x}" for v in mixed))
    return colours


# ---------------------------------------------------------------------------------------------- numbers
def decade_label(exponent: int) -> str:
    """A tick of a log axis in real units: 0.001, 0.01, 0.1, 1, 10, 100, 1000; 1e-5 and 1e4 beyond."""
    if -3 <= exponent < 0:
        return f"{10.0 ** exponent:.{-exponent}f}"
    if 0 <= exponent <= 3:
        return str(10**exponent)
    return f"1e{exponent}"


# ---------------------------------------------------------------------------------------------- log axis
MAX_DECADES = 12


class LogAxis:
    """A log10 axis over whole decades [10^low, 10^high], mapped onto ``dots`` positions from the bottom."""

    def __init__(self, low: int, high: int, dots: int) -> None:
        self.low, self.high = low, max(high, low + 1)
        self.dots = max(dots, 1)

    @classmethod
    def covering(cls, values: np.ndarray, dots: int, include: Sequence[float] = ()) -> LogAxis | None:
        """Whole decades around the finite positive ``values`` (and ``include``); None when there are none.

        At most MAX_DECADES decades, centred on the median where the values span more: the rest is clipped.
        """
        finite = values[np.isfinite(values) & (values > 0)]
        extra = [v for v in include if v > 0 and math.isfinite(v)]
        if finite.size == 0:
            return None
        logs = np.log10(np.concatenate([finite, np.array(extra, dtype=np.float64)]))
        low, high = math.floor(float(logs.min())), math.ceil(float(logs.max()))
        if high == low:
            low, high = low - 1, high + 1
        if high - low > MAX_DECADES:
            middle = round(float(np.median(np.log10(finite))))
            low = max(low, middle - MAX_DECADES // 2)
            high = low + MAX_DECADES
        return cls(low, high, dots)

    def to_dots(self, values: np.ndarray) -> np.ndarray:
        """Fractional dot positions from the bottom; -inf below the axis (zero and negative too), +inf above,
        NaN for missing."""
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), -np.inf)
        logs = np.where(np.isnan(values), np.nan, logs)
        position = (logs - self.low) / (self.high - self.low) * (self.dots - 1)
        position = np.where(position < -0.5, -np.inf, position)
        return np.where(position > self.dots - 0.5, np.inf, position)

    def decade_dot(self, exponent: int) -> float:
        """The dot position of 10^exponent (exactly, even where 10.0**exponent is 0 or inf as a float)."""
        return (exponent - self.low) / (self.high - self.low) * (self.dots - 1)

    def dot(self, value: float) -> float:
        return float(self.to_dots(np.array([value], dtype=np.float64))[0])


# ---------------------------------------------------------------------------------------------- linear axis
class LinearAxis:
    """A linear axis over [low, high] (a correlation's 0…1, or -1…1 where one is negative), mapped onto
    ``dots`` positions from the bottom; the same interface as :class:`LogAxis` for the charts that draw both."""

    def __init__(self, low: float, high: float, dots: int, ticks: Sequence[float]) -> None:
        self.low, self.high = low, high
        self.dots = max(dots, 1)
        self.ticks = tuple(ticks)

    @classmethod
    def correlation(cls, values: np.ndarray, dots: int) -> LinearAxis | None:
        """0…1, or -1…1 where a finite value is below 0; None without a finite value."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return None
        if finite.min() < 0:
            return cls(-1.0, 1.0, dots, (-1.0, -0.5, 0.0, 0.5, 1.0))
        return cls(0.0, 1.0, dots, (0.0, 0.25, 0.5, 0.75, 1.0))

    def to_dots(self, values: np.ndarray) -> np.ndarray:
        """Fractional dot positions from the bottom; ±inf beyond the axis, NaN for missing."""
        position = (values - self.low) / (self.high - self.low) * (self.dots - 1)
        position = np.where(position < -0.5, -np.inf, position)
        return np.where(position > self.dots - 0.5, np.inf, position)

    def dot(self, value: float) -> float:
        return float(self.to_dots(np.array([value], dtype=np.float64))[0])
