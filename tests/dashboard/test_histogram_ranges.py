"""Histograms over one range for every layer (which shows a collapse) or each over its own (which shows a deep
layer's shape), on `u`; the range written under each."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import ExperimentFinished, ExperimentStarted, Histogram, LayerStat, LayerStats
from inittui.series.density import onto_range
from inittui.ui.app import make_app
from inittui.ui.histograms import LayerHistograms
from inittui.ui.runs_table import RunsTable

from support.dashboard import SIZE, press, screen_text, wait_for
from support.logs import write_events
from support.records import record

BINS = 8
# a ReLU net whose activations shrink a hundredfold by the second layer
RANGES = ((0.0, 8.0), (0.0, 0.08))
COUNTS = [5, 10, 20, 40, 20, 10, 5, 1]


def recorded(tmp_path):
    config = ExperimentConfig(runs=[RunSpec("normal-0.01", "relu")], depth=2, width=4, steps=10, epochs=None,
                              stats_every=10, histogram_bins=BINS, preset="compare")

    def stat(low: float, high: float) -> LayerStat:
        histogram = Histogram(low, high, list(COUNTS))
        return LayerStat(0.0, high / 4, 0.0, None, 1.0, 0.1, 0.1, 0.01,
                         {kind: histogram for kind in ("activations", "preactivations", "gradients", "weights")})

    events = [
        ExperimentStarted(config.to_dict(), "cpu", "CPU", "synthetic", 10, 20, [record(0, "normal-0.01", "relu")], 0.0),
        LayerStats(10, [0], [[stat(*bounds) for bounds in RANGES]], [[0.8, 0.8]]),
        ExperimentFinished("done", 10, 1.0, 1000.0, [record(0, "normal-0.01", "relu", "done", 10)]),
    ]
    return write_events(tmp_path, events, config)


async def test_u_switches_between_one_range_and_each_layers_own(tmp_path):
    app = make_app(run_dir=recorded(tmp_path), fps=20)
    async with app.run_test(size=SIZE) as pilot:
        widget = app.query_one("#histograms", LayerHistograms)
        await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == 1 and len(widget.panels) == 2)
        shared = [panel.histogram for panel in widget.panels]
        # one range, the widest: the shrunken layer's mass lands in the first bin, none of it lost
        assert all((h.low, h.high) == RANGES[0] for h in shared)
        assert shared[1].counts[0] == sum(COUNTS) and sum(shared[1].counts) == sum(COUNTS)
        assert "one range" in str(widget.border_title)
        await press(pilot, "u")
        own = [panel.histogram for panel in widget.panels]
        assert [(h.low, h.high) for h in own] == list(RANGES)
        assert own[1].counts == COUNTS
        assert "each its own range" in str(widget.border_title) and "0.08" in screen_text(app)
        await press(pilot, "u")
        assert widget.panels[1].histogram.high == RANGES[0][1]


def test_a_narrow_histogram_on_a_wider_range_keeps_its_counts_where_they_were():
    # [0, 1] onto [-1, 1] in 8 bins: the bins nest, and the counts land unchanged in the upper half
    assert onto_range([1, 2, 3, 4], 0.0, 1.0, -1.0, 1.0, 8) == [0, 0, 0, 0, 1, 2, 3, 4]
    assert onto_range([1, 2, 3, 4], 0.0, 1.0, 0.0, 2.0, 4) == [3, 7, 0, 0]
    assert onto_range([1, 2], 0.0, 1.0, 0.5, 1.0, 4) is None  # not nested: left as it is
    assert onto_range([1.7e308, 1.7e308], 0.0, 1.0, 0.0, 2.0, 4) is None  # a total beyond the floats


finite = st.floats(-1e38, 1e38, allow_nan=False)


@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**12)), min_size=1,
                max_size=64), finite, finite, st.floats(0, 1e38), st.floats(0, 1e38), st.integers(1, 128))
def test_any_histogram_re_bins_to_its_clean_total_or_is_refused(counts, a, b, below, above, bins):
    low, high = min(a, b), max(a, b)
    result = onto_range(counts, low, high, low - below, high + above, bins)
    if result is None:
        return
    assert len(result) == bins and all(math.isfinite(value) and value >= -1e-6 * max(1.0, abs(value)) for value in result)
    clean = sum(c for c in counts if math.isfinite(c) and c > 0)
    assert math.isclose(sum(result), clean, rel_tol=1e-6, abs_tol=1e-6)
