"""Snapshot tests of the new views, each mounted alone and fed fixed synthetic numbers (no training, no clock).

Update the stored SVGs after a deliberate change with ``pytest tests/test_views_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import math

import numpy as np

from inittui.series.density import DistributionHistory
from inittui.science.theory import predicted_activation_std
from inittui.ui.atlas import AtlasMatrix
from inittui.ui.depth_chart import DepthChart, DepthSeries
from inittui.ui.distributions import DistributionsOverTime, HeatmapPanel

from support.views import WidgetApp, sweep

DEEP = [784] + [100] * 30
RUNS = (("glorot", "#e06c75"), ("xavier", "#61afef"), ("he", "#98c379"))


def deep_series() -> list[DepthSeries]:
    """The deep preset's three ReLU runs at step 0, as mean-field theory and a finite-width drift shape them;
    the he run's update ratios include values beyond any axis (0, 1e30, NaN)."""
    series = []
    for index, (init, colour) in enumerate(RUNS):
        predicted = predicted_activation_std(init, "relu", DEEP)
        measured = [p * (1 - 0.012 * layer) for layer, p in enumerate(predicted)]
        gradient = [1e-3 * (0.7 + 0.3 * index) ** (29 - layer) for layer in range(30)]
        weight_norm = [g * 30 for g in gradient]
        ratio = [1e-3 * (0.6 + 0.2 * index) ** (29 - layer) for layer in range(30)]
        if init == "he":
            ratio[3], ratio[4], ratio[5] = 0.0, 1e30, math.nan
        series.append(DepthSeries(f"{init}:relu", colour, measured, predicted, gradient, weight_norm, ratio))
    return series


def tanh_history(layer: int, scale: float, seed: int) -> DistributionHistory:
    """tanh activations whose spread collapses over training (deeper layers faster), 2,000 statistics steps."""
    rng = np.random.default_rng(seed)
    history = DistributionHistory()
    for step in range(0, 20_000, 10):
        std = scale * math.exp(-step / 6000 * (layer + 1) / 2) + 0.01
        values = np.tanh(rng.normal(0.0, std, 2000))
        counts, _ = np.histogram(values, bins=40, range=(-1.0, 1.0))
        history.add(step, -1.0, 1.0, counts.tolist(), float(values.std()))
    return history


def heatmap_panels() -> list[HeatmapPanel]:
    return [HeatmapPanel(f"L{layer + 1}", tanh_history(layer, 1.5, layer).snapshot(), "#e06c75") for layer in range(5)]


def test_depth_chart_120x40(snap_compare):
    app = WidgetApp(DepthChart(), lambda widget: widget.show(deep_series()))
    assert snap_compare(app, terminal_size=(120, 40))


def test_distributions_over_time_120x40(snap_compare):
    panels = heatmap_panels()
    app = WidgetApp(DistributionsOverTime(), lambda widget: widget.show(panels, "activations over time · xavier:tanh"))
    assert snap_compare(app, terminal_size=(120, 40))


def test_distribution_bands_120x40(snap_compare):
    panels = heatmap_panels()
    app = WidgetApp(DistributionsOverTime(),
                    lambda widget: widget.show(panels, "activations over time · xavier:tanh", bands=True))
    assert snap_compare(app, terminal_size=(120, 40))


def test_distribution_bands_80x24(snap_compare):
    panels = heatmap_panels()
    app = WidgetApp(DistributionsOverTime(),
                    lambda widget: widget.show(panels, "activations over time · xavier:tanh", bands=True))
    assert snap_compare(app, terminal_size=(80, 24))


def test_atlas_80x24(snap_compare):
    app = WidgetApp(AtlasMatrix(), lambda widget: widget.show(sweep()))
    assert snap_compare(app, terminal_size=(80, 24), press=["down", "right"])


def test_atlas_200x60(snap_compare):
    app = WidgetApp(AtlasMatrix(), lambda widget: widget.show(sweep()))
    assert snap_compare(app, terminal_size=(200, 60))
