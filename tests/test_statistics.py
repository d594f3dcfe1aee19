"""The batched histograms agree with torch.histc; the statistics cadence keeps their cost in budget."""

from __future__ import annotations

import torch

from inittui.engine import (
    AUTO_STATS_FIRST_INTERVAL,
    AUTO_STATS_MAX_INTERVAL,
    AUTO_STATS_MIN_INTERVAL,
    STATS_TIME_BUDGET,
    StatsCadence,
)
from inittui.statistics import batched_histograms


def test_batched_histograms_match_histc_per_run_and_layer():
    generator = torch.Generator().manual_seed(0)
    layers = [torch.randn(3, 64, 10, generator=generator) * scale for scale in (1.0, 0.1, 3.0)]
    low = torch.tensor([-2.0, -1.0, -5.0])
    high = torch.tensor([2.0, 1.0, 5.0])
    counts = batched_histograms(layers, low, high, bins=16)
    for run in range(3):
        for layer, values in enumerate(layers):
            # histc drops values outside the range; batched_histograms puts them in the end bins
            clipped = values[run].clamp(low[run].item(), high[run].item())
            expected = torch.histc(clipped, bins=16, min=low[run].item(), max=high[run].item())
            assert counts[run, layer].tolist() == expected.long().tolist()


def test_non_finite_values_are_counted_not_lost():
    values = [torch.tensor([[[float("nan"), float("inf"), -float("inf"), 0.0]]])]
    counts = batched_histograms(values, torch.tensor([-1.0]), torch.tensor([1.0]), bins=4)
    assert counts.sum().item() == 4


def test_fixed_cadence_is_every_n_steps():
    cadence = StatsCadence(10)
    assert cadence.due(0)
    cadence.record(0, started=0.0, finished=1.0)
    assert not cadence.due(9) and cadence.due(10)


def test_automatic_cadence_keeps_statistics_within_their_share_of_training_time():
    cadence = StatsCadence(None)
    cadence.record(0, started=0.0, finished=0.05)  # first statistics: warm-up, measure again soon
    assert cadence.next_step == AUTO_STATS_FIRST_INTERVAL
    # 20 steps took 0.2 s (10 ms a step); statistics take 20 ms: every 20 ms / (2.5 % × 10 ms) = 80 steps
    cadence.record(20, started=0.25, finished=0.27)
    assert cadence.next_step - 20 in (80, 81)  # ceil of 80 in floating point
    assert 0.02 / ((cadence.next_step - 20) * 0.01) <= STATS_TIME_BUDGET
    # very cheap statistics are still bounded below, very dear ones above
    cadence.record(100, started=1.07, finished=1.0700001)
    assert cadence.next_step == 100 + AUTO_STATS_MIN_INTERVAL
    cadence.record(110, started=1.2, finished=100.0)
    assert cadence.next_step == 110 + AUTO_STATS_MAX_INTERVAL
