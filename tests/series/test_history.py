"""The bounded histories behind the curves and the distributions over time: exact where they promise to be,
flat in memory for any length, and unbroken by any number."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inittui.series.density import DistributionHistory
from inittui.series.curve import MinMaxSeries

ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 5e-324, 1.7e308, -1.7e308]),
)


# ---------------------------------------------------------------------------------------------- MinMaxSeries
def test_series_keeps_a_spike_through_any_decimation():
    series = MinMaxSeries(capacity=16)
    for step in range(100_000):
        series.add(step, 1.0)
    series.add(71_234, 1e6)
    assert series.width > 1000  # merged many times
    assert len(series) <= 16
    columns = series.columns(7)
    assert max(c.maximum for c in columns if c) == 1e6
    assert min(c.minimum for c in columns if c) == 1.0
    # the spike is in the column holding step 71,234
    spike = next(i for i, c in enumerate(columns) if c and c.maximum == 1e6)
    assert spike == int(71_234 / 99_999 * 7)


def test_series_means_are_exact_sums_over_the_column():
    series = MinMaxSeries(capacity=8)
    for step in range(64):
        series.add(step, float(step))
    columns = series.columns(2)
    assert [c.mean for c in columns] == [15.5, 47.5]
    assert [(c.minimum, c.maximum) for c in columns] == [(0.0, 31.0), (32.0, 63.0)]


def test_extend_places_each_value_at_its_step_while_buckets_are_narrow():
    series = MinMaxSeries(capacity=64)
    series.extend(0, [5.0, None, float("nan"), 1.0, 2.0, float("inf")])
    assert series.width == 1
    assert series.count[:6].tolist() == [1, 0, 0, 1, 1, 0] and series.maximum[5] == float("inf")
    assert series.minimum[3] == 1.0 and series.total[4] == 2.0
    with pytest.raises(TypeError):
        series.extend(10, [1.0, "x"])  # a damaged log line


def test_extend_of_a_chunk_within_one_bucket_goes_to_the_bucket_of_its_last_step():
    series = MinMaxSeries(capacity=4)
    series.add(100, 0.0)  # width now 32
    assert series.width == 32
    series.extend(60, [3.0, 9.0, 6.0])  # steps 60..62, bucket 1
    assert series.count[1] == 3 and series.maximum[1] == 9.0 and series.minimum[1] == 3.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 10**9), ANY_FLOAT), max_size=200), st.integers(1, 300))
def test_series_takes_any_numbers_and_stays_bounded(points, width):
    series = MinMaxSeries(capacity=32)
    for step, value in points:
        series.add(step, value)
    assert len(series.minimum) == 32
    columns = series.columns(width)
    assert len(columns) == width
    for column in columns:
        if column is not None:  # ±inf stays an extreme (a run beyond any axis); NaN never appears
            assert not (math.isnan(column.minimum) or math.isnan(column.maximum) or math.isnan(column.mean))
            assert column.minimum <= column.mean <= column.maximum


# ---------------------------------------------------------------------------------------------- DistributionHistory
def test_fixed_range_histograms_are_stored_exactly():
    history = DistributionHistory(capacity=8, bins=64)
    counts = [0] * 10 + [3, 1] + [0] * 28
    history.add(0, -1.0, 1.0, counts, std=0.3)
    grid = history.snapshot()
    assert (grid.low, grid.high) == (-1.0, 1.0)
    assert len(grid.density[0]) == 40
    assert grid.density[0][10] == pytest.approx(0.75)
    assert grid.density[0][11] == pytest.approx(0.25)
    assert sum(grid.density[0]) == pytest.approx(1.0)
    assert grid.std == [pytest.approx(0.3)]


def test_columns_merge_pairwise_so_memory_is_flat_for_any_length():
    history = DistributionHistory(capacity=8, bins=64)
    for step in range(1000):
        # the mass moves from the lowest bin to the highest over time
        counts = [0] * 40
        counts[min(step // 25, 39)] = 10
        history.add(step, 0.0, 4.0, counts, std=float(step))
    grid = history.snapshot()
    assert grid.columns <= 8
    assert grid.steps_per_column == 128
    assert grid.first_steps[0] == 0 and grid.last_steps[-1] == 999
    assert sum(grid.steps_per_column for _ in grid.first_steps[:-1]) + (999 - grid.first_steps[-1] + 1) == 1000
    for row in grid.density:
        assert sum(row) == pytest.approx(1.0)
    # the first column averages steps 0..127: bins 0..5 hold 25 steps each, bin 5 holds 3
    assert grid.density[0][0] == pytest.approx(25 / 128)
    assert grid.density[0][5] == pytest.approx(3 / 128)
    assert grid.std[0] == pytest.approx(63.5)
    assert history.sums.shape == (8, 64)


def test_a_growing_range_rebins_old_columns_exactly_by_merging_bin_pairs():
    history = DistributionHistory(capacity=8, bins=64)
    history.add(0, 0.0, 4.0, [1] * 40)  # unit 0.1, 40 bins in 64
    history.add(1, 0.0, 10.0, [0] * 39 + [1])  # needs 100 bins: the unit doubles to 0.2
    assert history.unit == pytest.approx(0.2)
    grid = history.snapshot()
    assert grid.low == 0.0 and grid.high == pytest.approx(10.0)
    # the first column: 40 equal bins of 0.1 merged into 20 equal bins of 0.2, each holding 2/40
    assert grid.density[0][:20] == pytest.approx([0.05] * 20)
    assert sum(grid.density[0][20:]) == pytest.approx(0.0)
    # the second: everything in its last bin [9.75, 10], which is grid bin [9.6, 9.8) and [9.8, 10) in proportion
    assert grid.density[1][48] == pytest.approx(0.2)
    assert grid.density[1][49] == pytest.approx(0.8)


def test_a_range_growing_below_shifts_the_window_without_losing_mass():
    history = DistributionHistory(capacity=4, bins=64)
    history.add(0, 0.0, 4.0, [1] * 40)
    history.add(1, -2.0, 2.0, [1] * 40)
    grid = history.snapshot()
    assert grid.low == pytest.approx(-2.0) and grid.high == pytest.approx(4.0)
    assert [sum(c) for c in grid.density] == pytest.approx([1.0, 1.0])
    assert grid.density[0][:20] == pytest.approx([0.0] * 20)  # nothing below 0 in the first step
    assert grid.density[0][20:] == pytest.approx([0.025] * 40)


@pytest.mark.parametrize("kind", ["activations", "preactivations", "gradients", "weights"])
def test_every_histogram_source_is_taken(kind):
    """Activations of sigmoid/tanh have a fixed range; the others carry one from the data, symmetric or not."""
    ranges = {
        "activations": lambda step: (0.0, 3.0 + step / 10),
        "preactivations": lambda step: (-(2 + step / 5), 2 + step / 5),
        "gradients": lambda step: (-1e-3 / (1 + step), 1e-3 / (1 + step)),
        "weights": lambda step: (-0.1 - step * 1e-3, 0.1 + step * 1e-3),
    }[kind]
    history = DistributionHistory(capacity=16, bins=64)
    for step in range(100):
        low, high = ranges(step)
        history.add(step, low, high, list(np.histogram(np.linspace(-1, 1, 500), bins=40)[0]), std=0.1)
    grid = history.snapshot()
    assert grid.columns <= 16
    assert all(sum(c) == pytest.approx(1.0) for c in grid.density)
    first_low, first_high = ranges(0)
    assert grid.low <= first_low and grid.high >= first_high


def test_a_histogram_without_counts_or_range_keeps_its_place_in_time():
    history = DistributionHistory(capacity=8, bins=64)
    history.add(0, float("nan"), 1.0, [1, 2, 3], std=float("nan"))
    history.add(1, 0.0, 1.0, [0, 0, 0], std=None)
    history.add(2, 0.0, 1.0, [1, float("inf"), -5, float("nan")], std=2.0)
    grid = history.snapshot()
    assert grid.columns == 3
    assert grid.density[0] == [] and grid.density[1] == []
    assert sum(grid.density[2]) == pytest.approx(1.0)
    assert grid.std == [None, None, 2.0]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(ANY_FLOAT, ANY_FLOAT, st.lists(ANY_FLOAT, max_size=50), st.one_of(st.none(), ANY_FLOAT)),
        max_size=40,
    )
)
def test_any_histograms_leave_a_bounded_valid_grid(steps):
    history = DistributionHistory(capacity=8, bins=16)
    for step, (low, high, counts, std) in enumerate(steps):
        history.add(step, low, high, counts, std)
    grid = history.snapshot()
    assert grid.columns == min(len(steps), 8) or grid.columns <= 8
    assert math.isfinite(grid.low) and math.isfinite(grid.high) and grid.low <= grid.high
    for row in grid.density:
        assert len(row) <= 16 + 2
        assert all(math.isfinite(v) and v >= 0 for v in row)
        if row:
            assert sum(row) == pytest.approx(1.0, rel=1e-3)
    assert all(v is None or math.isfinite(v) for v in grid.std)


def test_long_history_costs_the_same_memory():
    history = DistributionHistory(capacity=16, bins=32)
    for step in range(20_000):
        history.add(step, -1.0, 1.0, [step % 7, 1, 2, 3])
    assert history.sums.shape == (16, 32)
    assert history.snapshot().columns <= 16
    assert history.steps_recorded == 20_000
