"""Every number inittui writes for people, in one place: each function says what it is for and how wide its
text can get. Missing and non-finite values are written as a dash, never as ``nan``."""

from __future__ import annotations

import math

DASH = "–"


def exponent(value: float) -> str:
    """One significant digit and the exponent without padding: 3e12, -1e100."""
    mantissa, power = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(power)}"


def short(value: float | None, digits: int = 3) -> str:
    """Short, in real units: 0.81, 2.5e-5, 1.2e3 (a chart's labels, a layer's σ)."""
    if value is None or not math.isfinite(value):
        return DASH
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    mantissa, power = f"{value:.{max(digits - 2, 0)}e}".split("e")
    return f"{mantissa}e{int(power)}"


def panel_number(value: float | None) -> str:
    """A histogram panel's σ, prediction and bin range: 0.52, 14, 3e-05 shortened to 3e-5."""
    if value is None or not math.isfinite(value):
        return DASH
    if value != 0 and (abs(value) < 0.01 or abs(value) >= 1000):
        return exponent(value)
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def percent_cell(value: float | None) -> str:
    """An accuracy in the runs table, at most 5 characters: 97.3, 100."""
    if value is None:
        return DASH
    return "100" if value >= 0.9995 else f"{100 * value:.1f}"


def loss_cell(value: float | None) -> str:
    """A loss in the runs table, at most 6 characters: 2.303, 45.1, 512, 3e12, -1e100, inf."""
    if value is None:
        return DASH
    if not math.isfinite(value) or abs(round(value, 3)) < 10:
        return f"{value:.3f}"
    if abs(round(value, 1)) < 100:
        return f"{value:.1f}"
    return f"{value:.0f}" if abs(round(value)) < 1000 else exponent(value)


def epoch_cell(value: float) -> str:
    """An epoch in the runs table, at most 5 characters: 2.37, 45.1, 512.0, 12345."""
    if round(value, 2) < 10:
        return f"{value:.2f}"
    if round(value, 1) < 1000:
        return f"{value:.1f}"
    return f"{value:.0f}" if round(value) < 100_000 else exponent(value)


def step_cell(value: int) -> str:
    """A step count in the runs table, at most 5 characters, so that its 6-wide column keeps a space before the
    loss beside it: 9,999, then 13.8k, 312k, 12.5M, 312M."""
    if value < 10_000:
        return f"{value:,}"
    if value < 99_950:
        return f"{value / 1e3:.1f}k"
    if value < 999_500:
        return f"{value / 1e3:.0f}k"
    if value < 99_950_000:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e6:.0f}M" if value < 999_500_000 else exponent(value)


def shares_cell(dead: float | None, saturated: float | None) -> str:
    """Dead and saturated units in the runs table: 12%/–."""
    if dead is None and saturated is None:
        return DASH
    return f"{DASH if dead is None else f'{100 * dead:.0f}%'}/{DASH if saturated is None else f'{100 * saturated:.0f}%'}"


def elapsed(seconds: float) -> str:
    """Training time in the header: 04:07, 1:02:03."""
    if not 0 <= seconds < 1e9:  # NaN, negative, absurd: nothing to say
        return DASH
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def report_percent(value: float | None) -> str:
    """An accuracy in a plain-text report, 6 characters: 97.31%."""
    return "   -  " if value is None else f"{100 * value:5.2f}%"


def report_number(value: float | None) -> str:
    """A loss in a plain-text report, 6 characters: 0.2313."""
    return "   -  " if value is None else f"{value:6.4f}"
