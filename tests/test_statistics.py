"""The batched histograms agree with torch.histc run by run and layer by layer."""

from __future__ import annotations

import torch

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
