"""The depth view draws each layer's numbers where they belong on its log axes, clips what lies beyond them,
and costs the same whatever it is given."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inittui.training.engine import Engine
from inittui.core.events import SPECTRUM_BINS, LayerStats, spectrum_bin_centre
from inittui.core.presets import get_preset
from inittui.ui.depth_chart import (
    ABOVE,
    BELOW,
    GUTTER,
    PANELS,
    REFERENCE_MARK,
    UNIT_MARK,
    DepthChart,
    DepthSeries,
    layer_positions,
    render_depth_chart,
)
from inittui.ui.braille import BRAILLE_BASE
from inittui.ui.drawing import LogAxis, decade_label

from support.views import WidgetApp, cells, colour_of, screen_lines, text_of

RED, BLUE, GREEN = "#e06c75", "#61afef", "#98c379"


def layer_column(layer: int, layers: int, width: int) -> int:
    """The screen column of hidden layer ``layer`` (0-based) in a chart ``width`` wide."""
    plot_width = width - GUTTER
    return GUTTER + min(int(layer_positions(layers, 2 * plot_width)[layer] / 2), plot_width - 1)


def is_braille(character: str) -> bool:
    return BRAILLE_BASE < ord(character) <= BRAILLE_BASE + 0xFF


# ---------------------------------------------------------------------------------------------- axis
def test_tick_labels_are_real_units_not_exponents():
    assert [decade_label(e) for e in range(-5, 5)] == [
        "1e-5", "1e-4", "0.001", "0.01", "0.1", "1", "10", "100", "1000", "1e4"]


def test_log_axis_covers_whole_decades_and_clips_beyond():
    import numpy as np

    axis = LogAxis.covering(np.array([2e-5, 0.81, math.nan, 0.0, -3.0]), dots=40)
    assert (axis.low, axis.high) == (-5, 0)
    dots = axis.to_dots(np.array([1.0, 1e-5, 1e-30, 0.0, -1.0, 1e30, math.inf, math.nan]))
    assert dots[0] == pytest.approx(39) and dots[1] == pytest.approx(0)
    assert list(dots[2:7]) == [-math.inf, -math.inf, -math.inf, math.inf, math.inf]
    assert math.isnan(dots[7])
    # a span of 60 decades keeps MAX_DECADES around the bulk; the rest is clipped
    wide = LogAxis.covering(np.array([1e-30, 0.1, 0.2, 0.3, 1e30]), dots=40)
    assert wide.high - wide.low == 12 and wide.low <= -1 <= wide.high


# ---------------------------------------------------------------------------------------------- drawing
async def test_points_sit_on_the_rows_their_values_map_to():
    values = [1.0, 0.1, 0.01, 0.001, 1e-4]
    series = [DepthSeries("he:relu", GREEN, activation_std=values, predicted_std=[None] * 5,
                          weight_gradient_norm=[1e-3, 1e-3, 1e-2, 1e-2, 1e-1])]
    chart = DepthChart()
    app = WidgetApp(chart, lambda widget: widget.show(series))
    async with app.run_test(size=(70, 40)):
        lines = screen_lines(chart)
        # three of the six fit, from the first on
        assert not chart.stacked and [d.panel.key for d in chart.drawings] == [p.key for p in PANELS[:3]]
        activations, gradients, updates = chart.drawings
        assert (activations.axis.low, activations.axis.high) == (-4, 0)
        rows = [activations.row_of(v) for v in values]
        assert rows == sorted(rows) and len(set(rows)) == 5  # one row per decade, falling
        for layer, (value, row) in enumerate(zip(values, rows)):
            character, style = cells(lines[row])[layer_column(layer, 5, 70)]
            assert is_braille(character), (layer, value, text_of(lines[row]))
            assert colour_of(style) == GREEN
        # the decade labels sit on the rows of their values
        for value, row in zip(values, rows):
            assert text_of(lines[row])[: GUTTER - 1].strip() == decade_label(round(math.log10(value)))
        # the gradient panel: the weight-gradient norm is drawn dotted at its own rows
        for layer, value in enumerate([1e-3, 1e-3, 1e-2, 1e-2, 1e-1]):
            row = gradients.row_of(value)
            assert gradients.top <= row < gradients.top + gradients.rows
            assert is_braille(cells(lines[row])[layer_column(layer, 5, 70)][0])
        # no update ratios: said so, no axis
        assert updates.axis is None
        assert "no data yet" in text_of(lines[updates.top + updates.rows // 2])


def test_the_prediction_is_dotted_the_measurement_solid():
    """A flat line lights every cell when solid; dotted, about every other cell, faint, so the two are told apart
    in any terminal (and in an SVG screenshot)."""
    flat = [0.5] * 6
    for solid, dotted in ((flat, [None] * 6), ([None] * 6, flat)):
        lines, drawings = render_depth_chart([DepthSeries("a", RED, solid, dotted)], 60, 40)
        row = cells(lines[drawings[0].row_of(0.5)])[GUTTER + 1 : -1]
        lit = [is_braille(c) for c, _ in row]
        if dotted is flat:
            assert 0.4 < sum(lit) / len(lit) < 0.65 and all(style.dim for c, style in row if is_braille(c))
        else:
            assert all(lit) and not any(style.dim for c, style in row if is_braille(c))


def test_a_seed_groups_band_fills_from_its_lowest_to_its_highest_seed_under_its_mean():
    flat, lowest, highest = [0.1] * 6, [0.01] * 6, [1.0] * 6
    group = DepthSeries("0 he:relu ×3", RED, activation_std=flat, seed_range={"activation_std": (lowest, highest)})
    lines, drawings = render_depth_chart([group], 60, 60)
    activations = drawings[0]
    column = layer_column(2, 6, 60)
    mean_row, low_row, high_row = (activations.row_of(value) for value in (0.1, 0.01, 1.0))
    assert high_row < mean_row < low_row
    for row in range(high_row, low_row + 1):
        character, style = cells(lines[row])[column]
        assert is_braille(character) and colour_of(style) == RED, row
        # the band faint, the mean bright on top of it
        assert bool(style.dim) == (row != mean_row), row
    assert not is_braille(cells(lines[low_row + 2])[column][0])
    assert "band: lowest–highest seed" in text_of(lines[0])
    # the same numbers of one run: no band, no note
    alone, drawings = render_depth_chart([DepthSeries("0 he:relu", RED, activation_std=flat)], 60, 60)
    panel = drawings[0]
    lit = [row for row in range(panel.top, panel.top + panel.rows) if is_braille(cells(alone[row])[column][0])]
    assert lit == [panel.row_of(0.1)] and "band" not in text_of(alone[0])


async def test_several_runs_each_in_its_colour_the_last_on_top():
    red = DepthSeries("glorot:relu", RED, activation_std=[0.5] * 4)
    blue = DepthSeries("he:relu", BLUE, activation_std=[0.5, 0.5, 0.05, 0.05])
    chart = DepthChart()
    app = WidgetApp(chart, lambda widget: widget.show([red, blue]))
    async with app.run_test(size=(60, 40)):
        lines = screen_lines(chart)
        drawing = chart.drawings[0]
        shared = drawing.row_of(0.5)
        assert colour_of(cells(lines[shared])[layer_column(0, 4, 60)][1]) == BLUE
        assert colour_of(cells(lines[shared])[layer_column(3, 4, 60)][1]) == RED
        assert colour_of(cells(lines[drawing.row_of(0.05)])[layer_column(3, 4, 60)][1]) == BLUE
        legend = text_of(lines[0])
        assert "● glorot:relu" in legend and "● he:relu" in legend


async def test_values_beyond_the_axis_are_marked_at_its_edge_and_missing_ones_leave_a_gap():
    ratios = [1e-3, 0.0, -1.0, 1e30, math.inf, 1e-30, math.nan, None, 2e-3, 5e-4]
    series = [DepthSeries("normal-1:relu", RED, activation_std=[1.0] * 10, update_ratio=ratios)]
    chart = DepthChart()
    app = WidgetApp(chart, lambda widget: widget.show(series))
    async with app.run_test(size=(80, 40)):
        lines = screen_lines(chart)
        updates = chart.drawings[2]
        top, bottom = updates.top, updates.top + updates.rows - 1
        for layer, expected in [(1, BELOW), (2, BELOW), (3, ABOVE), (4, ABOVE), (5, BELOW)]:
            row = top if expected == ABOVE else bottom
            character, style = cells(lines[row])[layer_column(layer, 10, 80)]
            assert character == expected and colour_of(style) == RED
        for layer in (6, 7):  # NaN and None: nothing of the run in their columns
            column = layer_column(layer, 10, 80)
            drawn = [cells(lines[row])[column] for row in range(top, bottom + 1)]
            assert all(not is_braille(c) and c not in (ABOVE, BELOW) for c, _ in drawn)
        # the 1e-3 reference line runs across where nothing else is drawn
        reference = text_of(lines[updates.row_of(1e-3)])
        assert reference.count(REFERENCE_MARK) > 40


async def test_too_short_for_three_panels_shows_one_and_switches():
    series = [DepthSeries("he:relu", GREEN, activation_std=[0.8] * 5, gradient_std=[1e-3] * 5,
                          update_ratio=[1e-3] * 5)]
    chart = DepthChart()
    app = WidgetApp(chart, lambda widget: widget.show(series))
    async with app.run_test(size=(80, 24)) as pilot:
        assert not chart.stacked
        lines = screen_lines(chart)
        assert "[1/6] activation std" in text_of(lines[1])
        assert chart.drawings[0].rows >= 10  # a readable plot at 80×24
        chart.show(series, focus=1)  # v: the next panel
        await pilot.pause()
        lines = screen_lines(chart)
        assert "[2/6] backpropagated gradient" in text_of(lines[1])


def _spectrum_series() -> list[DepthSeries]:
    return [
        DepthSeries("1 xavier:tanh", BLUE, activation_std=[0.5] * 6, prefix_ratio=[1.0, 10.0, 100.0, 1e3, 1e4, 1e5],
                    correlation=[0.2, 0.15, 0.1, 0.05, 0.0, -0.05], spectrum_note="s_max 9 · median 9e-5 · ratio 1e5"),
        DepthSeries("0 orthogonal-critical:tanh", RED, activation_std=[0.5] * 6, prefix_ratio=[1.0, 1.2, 1.5, 1.8, 2.0, 2.2],
                    correlation=[0.2] * 6, predicted_correlation=[0.2, 0.2, 0.2, 0.21, 0.21, 0.21],
                    spectrum_note="s_max 0.95 · median 0.43 · ratio 2.2 (step 0)",
                    correlation_note="c* 1 · ξ_c ∞ (predicted)"),
    ]


def test_the_spectrum_panel_draws_each_prefix_ratio_on_a_log_axis_with_the_selected_runs_numbers():
    lines, drawings = render_depth_chart(_spectrum_series(), 120, 40, focus=3)
    assert [d.panel.key for d in drawings] == ["spectrum", "histogram", "correlation"]
    spectrum, _, correlation = drawings
    assert (spectrum.axis.low, spectrum.axis.high) == (0, 5)
    # the title writes the selected run's (the last series') numbers
    assert "s_max 0.95 · median 0.43 · ratio 2.2 (step 0)" in text_of(lines[spectrum.top - 1])
    rows = [spectrum.row_of(10.0**k) for k in range(6)]
    assert rows == sorted(rows, reverse=True) and len(set(rows)) == 6  # one row per decade, rising
    for layer, row in list(enumerate(rows))[1:]:  # at layer 1 both runs are at 1, the selected on top
        character, style = cells(lines[row])[layer_column(layer, 6, 120)]
        assert is_braille(character) and colour_of(style) == BLUE, layer
    # s = 1, isometry, is marked across where nothing else is drawn (here under orthogonal-critical's line)
    alone_lines, (alone, *_) = render_depth_chart(_spectrum_series()[:1], 120, 40, focus=3)
    assert text_of(alone_lines[alone.row_of(1.0)]).count(REFERENCE_MARK) > 40
    # the correlation's axis is linear, -1…1 once a value is negative, and its title says c* and xi_c
    assert (correlation.axis.low, correlation.axis.high) == (-1.0, 1.0)
    assert "c* 1 · ξ_c ∞ (predicted)" in text_of(lines[correlation.top - 1])
    assert correlation.row_of(-1.0) == correlation.top + correlation.rows - 1 and correlation.row_of(1.0) == correlation.top
    assert correlation.row_of(0.2) < correlation.row_of(-0.05)


def test_all_six_panels_stack_at_200x70_and_one_shows_alone_at_80x24():
    _, drawings = render_depth_chart(_spectrum_series(), 200, 70)
    assert [d.panel.key for d in drawings] == [p.key for p in PANELS] and all(d.rows >= 10 for d in drawings)
    lines, drawings = render_depth_chart(_spectrum_series(), 80, 24, focus=3)
    assert [d.panel.key for d in drawings] == ["spectrum"] and drawings[0].rows >= 10
    assert "[4/6] J_l s_max/median  s_max 0.95 · median 0.43 · ratio 2.2 (step 0)" in text_of(lines[1])


def test_three_hundred_layers_and_sixty_runs_draw_in_the_widgets_size():
    series = [DepthSeries(f"run {i}", RED, activation_std=[0.9**k * (1 + i) for k in range(300)],
                          predicted_std=[0.9**k for k in range(300)]) for i in range(60)]
    lines, drawings = render_depth_chart(series, 120, 40)
    assert len(lines) == 40 and all(line.cell_length == 120 for line in lines)
    assert "+" in text_of(lines[0]) and "more" in text_of(lines[0])  # the legend says how many it left out
    x_axis = text_of(lines[-3]) if not text_of(lines[-1]).strip() else text_of(lines[-1])
    assert "300" in x_axis


def test_deep_preset_step_zero_is_drawn_from_its_statistics(tiny_data):
    """On ``deep`` at step 0, each run's plotted points are its measured stds; he:relu stays of order 1 over
    30 layers while xavier:relu falls by orders of magnitude, as mean-field theory predicts."""
    config = get_preset("deep").config(steps=1, stats_every=1, device="cpu")
    events = []
    Engine(config, tiny_data, events.append).run()
    stats = next(e for e in events if isinstance(e, LayerStats) and e.step == 0)
    names = {0: "glorot:relu", 1: "xavier:relu", 2: "he:relu"}
    colours = [RED, BLUE, GREEN]
    series = [
        DepthSeries(names[run_id], colours[i], [s.std for s in stats.layers[i]], stats.predicted_std[i],
                    weight_gradient_norm=[s.grad_norm for s in stats.layers[i]])
        for i, run_id in enumerate(stats.run_ids)
    ]
    lines, drawings = render_depth_chart(series, 120, 40)
    activations = drawings[0]
    for index, item in enumerate(series):
        for layer, value in enumerate(item.activation_std):
            row = activations.row_of(value)
            character, style = cells(lines[row])[layer_column(layer, 30, 120)]
            # the run drawn last wins a shared cell; every point of the last run is on top
            if index == len(series) - 1:
                assert is_braille(character) and colour_of(style) == colours[index], (item.label, layer)
            else:
                assert is_braille(character) or character in (ABOVE, BELOW)
    he, xavier = series[2], series[1]
    assert 0.3 < he.activation_std[29] < 1.5 and 0.3 < he.activation_std[0] < 1.5
    assert xavier.activation_std[29] < 1e-3 * xavier.activation_std[0]
    assert activations.row_of(xavier.activation_std[29]) > activations.row_of(he.activation_std[29]) + 5
    # the prediction is theory's: flat for he:relu, falling by 2^-1/2 a layer for xavier:relu
    assert he.predicted_std[0] == pytest.approx(he.predicted_std[29])
    assert xavier.predicted_std[29] / xavier.predicted_std[28] == pytest.approx(2**-0.5, rel=1e-6)


# ---------------------------------------------------------------------------------------------- any input
ANY_VALUE = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-30, 1e30, -1e30, 5e-324, 1.7e308, 1e-3, 1.0]),
)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.builds(
            DepthSeries,
            label=st.text(max_size=30),
            colour=st.sampled_from([RED, BLUE, GREEN]),
            activation_std=st.lists(ANY_VALUE, max_size=40),
            predicted_std=st.lists(ANY_VALUE, max_size=40),
            gradient_std=st.lists(ANY_VALUE, max_size=40),
            weight_gradient_norm=st.lists(ANY_VALUE, max_size=5),
            update_ratio=st.lists(ANY_VALUE, max_size=400),
            dim=st.booleans(),
        ),
        max_size=8,
    ),
    st.integers(0, 160),
    st.integers(0, 60),
    st.integers(0, 5),
)
def test_any_numbers_any_size_give_exactly_the_widgets_lines(series, width, height, focus):
    lines, _ = render_depth_chart(series, width, height, focus)
    assert len(lines) == (height if width > 0 else 0)
    assert all(line.cell_length == width for line in lines)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([1e-30, 1.0, 1e30, math.nan]))
def test_long_constant_series(layers, value):
    series = [DepthSeries("a", RED, activation_std=[value] * layers, update_ratio=[value] * layers)]
    lines, _ = render_depth_chart(series, 120, 40)
    assert len(lines) == 40 and all(line.cell_length == 120 for line in lines)


# ---------------------------------------------------------------------------------------------- the histogram
def _histogram_series(counts: list[int], colour: str = BLUE) -> DepthSeries:
    return DepthSeries("0 orthogonal-critical:tanh", colour, prefix_ratio=[1.0, 1.0], log10_histogram=counts,
                       spectrum_note="s_max 1 · median 1 · ratio 1 (step 0)")


def _one_bin(log10_s: float, count: int = 3200) -> list[int]:
    counts = [0] * SPECTRUM_BINS
    counts[next(i for i in range(SPECTRUM_BINS) if spectrum_bin_centre(i) == log10_s)] = count
    return counts


def _histogram_panel(series: list[DepthSeries], width: int = 80, height: int = 24):
    lines, (drawing,) = render_depth_chart(series, width, height, focus=PANEL_KEYS.index("histogram"))
    assert drawing.panel.key == "histogram"
    return lines, lines[drawing.top : drawing.top + drawing.rows]


PANEL_KEYS = [panel.key for panel in PANELS]


def test_a_spectrum_in_one_bin_is_one_bar_over_the_s_1_label_with_its_numbers_in_the_title():
    lines, rows = _histogram_panel([_histogram_series(_one_bin(0.0))])
    assert "[5/6] J's singular values s" in text_of(lines[1]) and "ratio 1 (step 0)" in text_of(lines[1])
    axis = text_of(rows[-1])
    one = axis.index(" 1 ") + 1
    full = [column for column, (character, _) in enumerate(cells(rows[0])) if character == "█"]
    assert full and min(full) <= one <= max(full)  # the bar stands over s = 1
    assert colour_of(cells(rows[0])[one][1]) == BLUE
    assert all(character in " ┤│%0123456789" for character in text_of(rows[0])[: min(full)])  # nothing else


def test_a_spectrum_away_from_1_leaves_the_s_1_line_marked_and_its_bar_at_its_decade():
    lines, rows = _histogram_panel([_histogram_series(_one_bin(-3.0))])
    axis = text_of(rows[-1])
    one, thousandth = axis.index(" 1 ") + 1, axis.index("0.001") + 2
    assert all(text_of(row)[one] == UNIT_MARK for row in rows[:-1])
    full = [column for column, (character, _) in enumerate(cells(rows[len(rows) // 2])) if character == "█"]
    assert min(full) <= thousandth <= max(full) and max(full) < one
    # no layer axis under a histogram alone: its own s axis is the x axis
    assert not text_of(lines[-1]).strip()


def test_compare_mode_shows_the_selected_runs_histogram_the_last_series():
    series = [_histogram_series(_one_bin(3.0), RED), _histogram_series(_one_bin(-3.0), BLUE)]
    _, rows = _histogram_panel(series)
    colours = {colour_of(style) for row in rows[:-1] for character, style in cells(row) if character == "█"}
    assert colours == {BLUE}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.integers(-10, 10**30), st.floats(allow_nan=True), st.none(), st.text(max_size=2)),
                max_size=80),
       st.integers(1, 200), st.integers(1, 60))
def test_any_histogram_draws_in_the_charts_size(counts, width, height):
    lines, _ = render_depth_chart([_histogram_series(counts)], width, height, focus=PANEL_KEYS.index("histogram"))
    assert len(lines) == height and all(line.cell_length == width for line in lines)
