"""The charts and histograms draw any numbers, of any length, in a size bounded by the screen.

Hypothesis throws NaN, ±inf, 1e±300, single points, constant runs and long series at each widget's drawing
function and at the bounded curves the dashboard keeps; a few examples pin what must be seen (a spike, a
clipped run, a flat line).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inittui.core.events import Histogram
from inittui.dashboard.selectors import run_colour
from inittui.dashboard.views import Curve, LegendEntry, Panel, Points
from inittui.series.curve import MinMaxSeries
from inittui.ui.curves import ABOVE, BELOW, POINT, nice_ticks, render_curves, tick_label
from inittui.ui.histograms import render_panels
from inittui.ui.lines import line_width

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e30, -1e30, 1e-30, 1e300, -1e300, 2.302585, math.inf, -math.inf, math.nan]),
)
sizes = st.tuples(st.integers(0, 260), st.integers(0, 90))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def curves(draw) -> list[Curve]:
    result = []
    for run in range(draw(st.integers(0, 12))):
        ys = draw(st.lists(numbers, max_size=60))
        if draw(st.booleans()):  # a bounded curve, as the dashboard keeps a run's loss
            series = MinMaxSeries(8)
            series.extend(draw(st.integers(0, 10**9)), ys)
            result.append(Curve(run_colour(run), series, selected=draw(st.booleans())))
            continue
        if draw(st.booleans()):
            xs = draw(st.lists(numbers, min_size=len(ys), max_size=len(ys)))
        else:
            xs = [float(step) for step in range(len(ys))]
        result.append(Curve(run_colour(run), Points(np.array(xs), np.array(ys)), scatter=draw(st.booleans()),
                            selected=draw(st.booleans())))
    return result


def assert_bounded(lines, width: int, height: int) -> None:
    assert len(lines) <= max(height, 0)
    for line in lines:
        assert line_width(line) <= width
        for text, _ in line:
            assert "\n" not in text


@FUZZ
@given(curves(), sizes, st.sampled_from(["cap", "ylim", "free", "log", "log-cap"]), st.booleans(),
       st.sampled_from([None, 1.0, 469.0]))
def test_curves_draw_any_numbers_within_their_size(given_curves, size, scale, smooth, steps_per_epoch):
    width, height = size
    options = {"cap": {"ycap": 4.0}, "ylim": {"ylim": (0.0, 1.0)}, "free": {}, "log": {"log": True},
               "log-cap": {"log": True, "ycap": 4.0}}[scale]
    legend = [LegendEntry(f"run {i}", curve.colour, curve.selected) for i, curve in enumerate(given_curves)]
    lines = render_curves(given_curves, width, height, "train loss", smooth=smooth, steps_per_epoch=steps_per_epoch,
                          legend=legend, runs=len(legend), **options)
    assert_bounded(lines, width, height)


@FUZZ
@given(st.lists(st.one_of(st.floats(1e-3, 4.0), st.sampled_from([0.0, -1.0, -math.inf, 1e30, math.inf, math.nan])),
                min_size=1, max_size=80), st.booleans())
def test_a_log_scale_marks_exactly_what_it_cannot_show(values, smooth):
    """Zero, negative values and -inf lie below any log axis, 1e30 and inf above the cap: each is marked at
    the edge it lies beyond; values the axis holds are never marked."""
    lines = render_curves([Curve("#ffffff", Points(np.arange(float(len(values))), values))], 60, 16, ycap=4.0,
                          log=True, smooth=smooth)
    rows = _plot_rows(lines)
    assert len(rows) == 13 and all(len(row) == len(rows[0]) for row in rows)
    assert (ABOVE in rows[0]) == any(v in (1e30, math.inf) for v in values)
    assert (BELOW in rows[-1]) == any(v <= 0 for v in values)
    assert all(ABOVE not in row and BELOW not in row for row in rows[1:-1])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**12), st.lists(numbers, max_size=40)), max_size=60))
def test_a_curve_stays_bounded_whatever_is_fed(chunks):
    series = MinMaxSeries(64)
    for first, values in chunks:
        series.extend(first, values)
    assert len(series.minimum) == 64 and len(series) <= 64
    steps, low, high, mean = series.envelope(120, 0.0, float(series.last_step or 0))
    assert steps.size <= 120 and np.all(np.isfinite(steps))
    assert not np.any(np.isnan(low) | np.isnan(high) | np.isnan(mean))  # ±inf: a value beyond any axis
    assert np.all(low <= mean) and np.all(mean <= high)


def test_a_million_points_keep_their_spike_and_their_ends():
    series = MinMaxSeries()
    values = 2.0 + np.sin(np.arange(1_000_000) / 5000.0) * 0.1
    values[654_321] = 1e6
    for first in range(0, 1_000_000, 256):  # fed as the engine's progress events feed it
        series.extend(first, values[first : first + 256].tolist())
    assert len(series) <= 2048 and series.last_step == 999_999
    steps, low, high, _ = series.envelope(200, 0.0, 999_999.0)
    assert steps[0] < 5000 and steps[-1] > 995_000
    assert high.max() == 1e6 and low.min() == pytest.approx(values.min())


def _plot_rows(lines) -> list[str]:
    """The plot area's rows as plain text (title, x axis and labels dropped, y labels cut off)."""
    rows = ["".join(text for text, _ in line) for line in lines[1:-2]]
    return [row.split("┤", 1)[-1].split("│", 1)[-1] for row in rows]


def test_a_spike_among_a_hundred_thousand_points_is_drawn():
    y = np.full(100_000, 0.5)
    y[73_333] = 3.0
    rows = _plot_rows(render_curves([Curve("#ffffff", Points(np.arange(100_000.0), y))], 60, 20, ycap=4.0))
    spike_column = max(range(len(rows[0])), key=lambda c: sum(row[c] not in " " for row in rows))
    assert sum(row[spike_column] != " " for row in rows) >= 10  # the spike's column goes up most of the way
    assert 0.6 < spike_column / len(rows[0]) < 0.85


def test_values_beyond_the_axis_are_clipped_at_its_edge_and_marked():
    diverged = Points([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [2.3, 1e6, 1e30, math.inf, math.nan, -math.inf])
    rows = _plot_rows(render_curves([Curve("#ffffff", diverged)], 40, 12, ycap=4.0))
    assert ABOVE in rows[0] and BELOW in rows[-1]
    assert all(len(row) == len(rows[0]) for row in rows)


def test_a_constant_run_and_a_single_point_are_drawn():
    flat = Points(np.arange(500.0), np.full(500, 2.302585))
    rows = _plot_rows(render_curves([Curve("#ffffff", flat)], 50, 14, ycap=4.0))
    drawn = [row for row in rows if row.strip()]
    assert len(drawn) == 1 and len(drawn[0].strip()) >= 40  # one flat line across the plot
    rows = _plot_rows(render_curves([Curve("#ffffff", Points([7.0], [0.9]), scatter=True)], 50, 14, ylim=(0, 1)))
    assert sum(row.count(POINT) for row in rows) == 1


@FUZZ
@given(numbers, numbers, st.integers(0, 10))
def test_ticks_and_labels_of_any_range(low, high, count):
    if not (math.isfinite(low) and math.isfinite(high)):
        return
    ticks = nice_ticks(min(low, high), max(low, high), count)
    assert 1 <= len(ticks) <= max(count, 2) + 1
    for tick in ticks:
        assert len(tick_label(tick, abs(high - low))) <= 10


counts = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**400), st.floats(allow_nan=True, allow_infinity=True)
)


@st.composite
def panels(draw) -> list[Panel]:
    result = []
    for index in range(draw(st.integers(0, 35))):
        histogram = None
        if draw(st.booleans()):
            histogram = Histogram(draw(numbers), draw(numbers), draw(st.lists(counts, max_size=100)))
        result.append(Panel(f"L{index + 1}", run_colour(index), histogram, draw(numbers), draw(numbers)))
    return result


@settings(FUZZ, max_examples=60)
@given(panels(), sizes)
def test_histograms_draw_any_counts_within_their_size(given_panels, size):
    width, height = size
    assert_bounded(render_panels(given_panels, width, height, "no layer statistics yet"), width, height)


def test_a_histogram_with_a_huge_bin_still_shows_its_shape():
    panel = Panel("L1", "#ffffff", Histogram(-1.0, 1.0, [0, 10**30, 0, 5 * 10**29]), 0.5, 0.5)
    lines = render_panels([panel], 20, 10)
    bars = ["".join(text for text, _ in line) for line in lines[2:-1]]
    assert bars[-1].strip() and "█" in "".join(bars)
