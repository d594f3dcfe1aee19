"""Distributions over time: each cell's two colours follow the counts of the bins it holds, time runs left to
right, and any history, however long or broken, draws in the widget's size."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inittui.core.events import HISTOGRAM_KINDS
from inittui.series.density import DensityGrid, DistributionHistory
from inittui.ui.distributions import (
    BAND_LEVELS,
    EMPTY,
    MEDIAN_LEVEL,
    LEVELS,
    PALETTE,
    UPPER_HALF,
    DistributionsOverTime,
    HeatmapPanel,
    band_levels,
    heatmap_layout,
    levels,
    render_distributions,
    resample,
)

from support.views import WidgetApp, background_of, cells, colour_of, screen_lines, text_of

BINS = 40


def one_hot(bin_index: int, total: int = 100) -> list[int]:
    counts = [0] * BINS
    counts[bin_index] = total
    return counts


def half_colour(strip, column: int, upper: bool) -> str | None:
    character, style = cells(strip)[column]
    assert character == UPPER_HALF
    return colour_of(style) if upper else background_of(style)


async def test_each_bin_is_coloured_by_its_count_at_its_time():
    """Four statistics steps of tanh activations over the fixed range [-1, 1]: each step's mass in one bin."""
    history = DistributionHistory(capacity=8, bins=64)
    masses = {0: -0.975, 100: -0.025, 200: 0.475, 300: 0.975}  # the middles of bins 0, 19, 29 and 39
    for step, value in masses.items():
        history.add(step, -1.0, 1.0, one_hot(int((value + 1) / 2 * BINS)), std=0.5)
    widget = DistributionsOverTime()
    panel = HeatmapPanel("L1", history.snapshot(), "#61afef")
    app = WidgetApp(widget, lambda w: w.show([panel], "activations over time"))
    async with app.run_test(size=(68, 24)):  # 60 time columns, 20 rows: one cell for two of the 40 bins
        lines = screen_lines(widget)
        drawing = widget.drawings[0]
        assert drawing.rows == 20 and drawing.columns == 60
        assert (drawing.low, drawing.high) == (-1.0, 1.0)
        for step, value in masses.items():
            column = drawing.column_of_step(step)
            row, upper = drawing.cell_of(value)
            assert half_colour(lines[row], column, upper) == PALETTE[LEVELS].lower()
            assert half_colour(lines[row], column, not upper) == EMPTY  # the bin beside it is empty
            # every other cell of that time column is empty
            others = [half_colour(lines[r], column, u) for r in range(drawing.top, drawing.top + drawing.rows)
                      for u in (True, False) if (r, u) != (row, upper)]
            assert set(others) == {EMPTY}
        assert "step 0" in text_of(lines[drawing.top + drawing.rows + 1])
        assert text_of(lines[drawing.top + drawing.rows + 1]).rstrip().endswith("300")
        assert text_of(lines[drawing.top])[:7].strip() == "1"  # the top of the range at the top
        assert text_of(lines[drawing.top + drawing.rows - 1])[:7].strip() == "-1"


async def test_a_time_cursor_is_marked_under_its_column():
    history = DistributionHistory(capacity=8, bins=64)
    for step in range(0, 400, 100):
        history.add(step, -1.0, 1.0, one_hot(20), std=0.5)
    widget = DistributionsOverTime()
    panels = [HeatmapPanel("L1", history.snapshot())]
    app = WidgetApp(widget, lambda w: w.show(panels))
    async with app.run_test(size=(68, 24)) as pilot:
        drawing = widget.drawings[0]
        axis_row = drawing.top + drawing.rows + 1
        assert "▲" not in text_of(screen_lines(widget)[axis_row])
        widget.show(panels, cursor_step=200)
        await pilot.pause()
        axis = text_of(screen_lines(widget)[axis_row])
        # four stored columns over 60 screen columns: step 200 is the third, screen columns 30 to 44
        assert axis.index("▲") == drawing.column_of_step(200) == drawing.left + 37
        widget.show(panels, cursor_step=None)
        await pilot.pause()
        assert "▲" not in text_of(screen_lines(widget)[axis_row])


def test_denser_bins_are_brighter():
    # one column, bins holding 1, 2, 4, 8, 16 (of 31): the colour index rises with the count
    cells_in = np.array([[1.0, 2.0, 4.0, 8.0, 16.0, 0.0]]) / 31
    index = levels(cells_in)[0].tolist()
    assert index[:5] == sorted(index[:5]) and len(set(index[:5])) == 5
    assert index[4] == LEVELS and index[5] == 0
    assert levels(np.array([[math.nan, math.nan]]))[0].tolist() == [-1, -1]


def test_percentile_bands_nest_around_the_median_bin():
    outer, middle, inner = BAND_LEVELS
    uniform = [1.0] * 20  # each bin 5 % of the mass: 7 % falls in bin 1, 16 % in bin 3, 84 % in 16, 93 % in 18
    spike = [0.0] * 20
    spike[6] = 5.0
    tails = [0.0] * 20
    tails[0], tails[19], tails[10] = 0.05, 0.05, 0.9  # 5 % in each tail: outside the 7–93 band
    index = band_levels(np.array([uniform, [math.nan] * 20, spike, tails, [0.0] * 20]))
    assert index[0].tolist() == [outer, middle, middle, *[MEDIAN_LEVEL if b == 9 else inner for b in range(3, 17)],
                                 middle, middle, outer]
    assert index[1].tolist() == [-1] * 20  # no histogram at that time
    assert index[2].tolist() == [MEDIAN_LEVEL if b == 6 else 0 for b in range(20)]
    assert (index[3, 0], index[3, 10], index[3, 19]) == (outer, MEDIAN_LEVEL, outer)
    assert set(index[3].tolist()) == {0, outer, MEDIAN_LEVEL}
    assert index[4].tolist() == [0] * 20


def test_resampling_keeps_the_mass_and_averages_time():
    matrix = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [math.nan] * 4, [0.5, 0.5, 0.0, 0.0]])
    fine = resample(matrix, 8, 8)  # more screen than data: columns repeat, bins split
    assert fine.shape == (8, 8)
    assert np.nansum(fine[0]) == pytest.approx(1.0) and fine[0][:2].tolist() == [0.5, 0.5]
    assert np.isnan(fine[4]).all()
    coarse = resample(matrix, 2, 2)  # fewer: columns averaged, ignoring the one without a histogram
    assert coarse[0].tolist() == pytest.approx([0.5, 0.5])
    assert coarse[1].tolist() == pytest.approx([1.0, 0.0])


async def test_the_std_line_follows_the_std_and_can_be_switched_off():
    history = DistributionHistory(capacity=8, bins=64)
    for step, std in enumerate([1.0, 0.5, 0.25, 0.0]):
        history.add(step, -1.0, 1.0, one_hot(20), std=std)
    widget = DistributionsOverTime()
    app = WidgetApp(widget, lambda w: w.show([HeatmapPanel("L1", history.snapshot())]))
    async with app.run_test(size=(48, 16)) as pilot:
        drawing = widget.drawings[0]
        line = text_of(screen_lines(widget)[drawing.top + drawing.rows])
        assert line[:8].strip() == "σ≤1"
        spark = line[drawing.left : drawing.left + drawing.columns]
        quarter = drawing.columns // 4
        assert [spark[i * quarter] for i in range(4)] == ["█", "▅", "▃", "▁"]
        widget.show_std = False
        widget.redraw()
        await pilot.pause()
        assert widget.drawings[0].rows == drawing.rows + 1


async def test_a_layer_per_panel_evenly_chosen_when_too_many():
    panels = []
    for layer in range(30):
        history = DistributionHistory(capacity=8, bins=64)
        history.add(0, 0.0, 1.0, one_hot(layer))
        panels.append(HeatmapPanel(f"L{layer + 1}", history.snapshot()))
    widget = DistributionsOverTime()
    app = WidgetApp(widget, lambda w: w.show(panels, "activations"))
    async with app.run_test(size=(120, 40)):
        titles = [d.title for d in widget.drawings]
        assert titles[0] == "L1" and titles[-1] == "L30" and len(titles) < 30
        heading = text_of(screen_lines(widget)[0])
        hidden = [f"L{layer + 1}" for layer in range(30) if f"L{layer + 1}" not in titles]
        assert f"not shown: {', '.join(hidden[:4])}, … ({len(hidden)})" in heading  # which layers are left out
        assert "1 step a column" in heading
        assert heading.rstrip().endswith("0 ████████ densest")  # the colour scale


def test_layout_gives_heatmaps_room():
    layout = heatmap_layout(5, 120, 39, show_std=True)
    assert len(layout.shown) == 5
    assert layout.grid_columns * layout.grid_rows >= 5
    assert layout.panel_width - 8 >= 30 and layout.panel_height >= 10


@pytest.mark.parametrize("kind", HISTOGRAM_KINDS)
def test_every_histogram_source_draws(kind):
    rng = np.random.default_rng(0)
    history = DistributionHistory()
    for step in range(0, 5000, 10):
        spread = 1 + step / 1000
        values = rng.normal(0, spread, 500)
        if kind == "activations":
            values = np.maximum(values, 0)  # relu: the range comes from the data, from 0
        low, high = (0.0, float(values.max())) if kind == "activations" else (-float(abs(values).max()), float(abs(values).max()))
        counts, _ = np.histogram(values, bins=BINS, range=(low, high))
        history.add(step, low, high, counts.tolist(), float(values.std()))
    lines, drawings = render_distributions([HeatmapPanel("L1", history.snapshot())], 120, 40)
    assert len(lines) == 40 and all(line.cell_length == 120 for line in lines)
    drawing = drawings[0]
    assert drawing.first_step == 0 and drawing.last_step == 4990
    # the range grew with the data and covers every step's histogram
    assert drawing.high >= 4.0


# ---------------------------------------------------------------------------------------------- any input
ANY_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-30, 1e30, -1.0, 5e-324, 1.7e308]),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.builds(
            DensityGrid,
            low=ANY_VALUE,
            high=ANY_VALUE,
            density=st.lists(st.lists(ANY_VALUE, max_size=12), max_size=12),
            first_steps=st.lists(st.integers(-10, 10**12), max_size=3),
            last_steps=st.lists(st.integers(-10, 10**12), max_size=3),
            std=st.lists(st.one_of(st.none(), ANY_VALUE), max_size=12),
            steps_per_column=st.integers(1, 10**6),
        ),
        max_size=6,
    ),
    st.integers(0, 150),
    st.integers(0, 50),
    st.booleans(),
    st.one_of(st.none(), st.integers(-10, 10**12)),
    st.booleans(),
)
def test_any_grid_any_size_gives_exactly_the_widgets_lines(grids, width, height, show_std, cursor, bands):
    panels = [HeatmapPanel(f"L{i}", grid) for i, grid in enumerate(grids)]
    lines, _ = render_distributions(panels, width, height, show_std, cursor_step=cursor, bands=bands)
    assert len(lines) == (height if width > 0 else 0)
    assert all(line.cell_length == width for line in lines)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 3000), st.sampled_from(["constant", "nan", "huge", "tiny", "empty"]))
def test_any_long_history_draws_in_the_same_size(steps, kind):
    history = DistributionHistory(capacity=32, bins=32)
    for step in range(steps):
        if kind == "constant":
            history.add(step, -1.0, 1.0, [5] * 8, 0.3)
        elif kind == "nan":
            history.add(step, math.nan, 1.0, [math.nan] * 8, math.nan)
        elif kind == "huge":
            history.add(step, -1e30 * (1 + step), 1e30 * (1 + step), [1] * 8, 1e30)
        elif kind == "tiny":
            history.add(step, 0.0, 1e-30, [1] * 8, 1e-30)
        else:
            history.add(step, 0.0, 1.0, [], None)
    lines, _ = render_distributions([HeatmapPanel("L1", history.snapshot())], 120, 40)
    assert len(lines) == 40 and all(line.cell_length == 120 for line in lines)
    assert history.sums.shape == (32, 32)
