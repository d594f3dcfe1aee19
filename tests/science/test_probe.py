"""The book's activation-distribution experiment (inittui.science.probe): shapes, not exact values."""

from __future__ import annotations

import json
import math

import pytest

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.core.events import Histogram
from inittui.science.probe import ProbeLayer, ProbeResult, format_probe, probe_to_json, run_probe, sparkline

INITS = ["he", "xavier", "normal-0.01", "normal-1", "lsuv", "constant"]
ACTS = ["sigmoid", "relu", "tanh"]


@pytest.fixture(scope="module")
def probe():
    results = run_probe(INITS, ACTS, trials=10, seed=0)
    return {result.name: result for result in results}


def _stds(result: ProbeResult) -> list[float]:
    return [layer.std for layer in result.layers]


def test_structure(probe):
    assert len(probe) == len(INITS) * len(ACTS)
    for result in probe.values():
        assert len(result.layers) == 5
        for layer in result.layers:
            assert isinstance(layer, ProbeLayer)
            assert isinstance(layer.histogram, Histogram)
            assert len(layer.histogram.counts) == 20
            assert sum(layer.histogram.counts) == 1000 * 100  # one draw, outliers in the end bins
            assert layer.std_spread >= 0
            assert (layer.saturated is None) == (result.activation == "relu")
            assert (layer.dead is None) == (result.activation != "relu")


def test_fixed_or_per_layer_histogram_ranges(probe):
    sigmoid = probe["he:sigmoid"].layers[0].histogram
    assert (sigmoid.low, sigmoid.high) == (0.0, 1.0)
    tanh = probe["he:tanh"].layers[0].histogram
    assert (tanh.low, tanh.high) == (-1.0, 1.0)
    relu = [layer.histogram for layer in probe["xavier:relu"].layers]
    # each layer its own range (the dashboard puts them on one on a key, so layers compare)
    assert len({(h.low, h.high) for h in relu}) == len(relu)
    assert all(h.low == 0.0 and h.high > 0 for h in relu)


def test_reproducible():
    first = run_probe(["he"], ["relu"], trials=2, seed=3)
    again = run_probe(["he"], ["relu"], trials=2, seed=3)
    other = run_probe(["he"], ["relu"], trials=2, seed=4)
    assert probe_to_json(first) == probe_to_json(again)
    assert probe_to_json(first) != probe_to_json(other)
    # a combination's numbers do not depend on what is probed beside it
    alone = run_probe(["xavier"], ["tanh"], trials=2, seed=3)
    mixed = run_probe(["he", "xavier"], ["relu", "tanh"], trials=2, seed=3)
    assert probe_to_json(alone)["results"][0] == probe_to_json(mixed)["results"][3]


def test_sigmoid_normal_1_saturates(probe):
    result = probe["normal-1:sigmoid"]
    for layer in result.layers:
        # Activation.saturated: within 0.01 of 0 or 1. Mean field: 64.6 % in layer 1, about 49 % after.
        assert 0.40 < layer.saturated < 0.75
        # the 66–76 % often quoted is the share in the two end bins of a 20-bin histogram over [0, 1]
        counts = layer.histogram.counts
        assert 0.55 < (counts[0] + counts[-1]) / sum(counts) < 0.85
    assert result.layers[0].saturated == pytest.approx(0.646, abs=0.03)


def test_sigmoid_normal_001_bunches_at_half(probe):
    stds = _stds(probe["normal-0.01:sigmoid"])
    assert stds[0] == pytest.approx(0.025, rel=0.1)
    assert stds[4] == pytest.approx(0.012, rel=0.2)
    assert stds[0] / stds[4] == pytest.approx(2.0, rel=0.2)
    assert all(abs(layer.mean - 0.5) < 0.01 for layer in probe["normal-0.01:sigmoid"].layers)
    assert all(layer.saturated == 0 for layer in probe["normal-0.01:sigmoid"].layers)


def test_relu_he_keeps_std(probe):
    stds = _stds(probe["he:relu"])
    assert all(0.75 < std < 1.1 for std in stds)
    assert 0.7 < stds[4] / stds[0] < 1.4


def test_relu_xavier_shrinks_by_root_two(probe):
    stds = _stds(probe["xavier:relu"])
    assert stds[0] == pytest.approx(0.59, rel=0.05)
    for before, after in zip(stds, stds[1:]):
        assert after / before == pytest.approx(1 / math.sqrt(2), abs=0.06)


def test_relu_normal_001_vanishes(probe):
    layers = probe["normal-0.01:relu"].layers
    assert layers[0].mean == pytest.approx(0.04, rel=0.1)
    assert layers[4].mean < 1e-4
    means = [layer.mean for layer in layers]
    assert all(after < before / 5 for before, after in zip(means, means[1:]))


def test_lsuv_unit_variance_and_constant_symmetry(probe):
    lsuv = _stds(probe["lsuv:tanh"])
    assert all(std == pytest.approx(lsuv[0], rel=0.02) for std in lsuv)
    constant = probe["constant:relu"]
    assert all(layer.predicted_std is None for layer in constant.layers)
    # every unit of a constant layer computes the same thing: each layer repeats the first
    assert all(layer.std == pytest.approx(constant.layers[0].std, rel=1e-4) for layer in constant.layers)


def test_dead_fraction_in_range(probe):
    for layer in probe["xavier:relu"].layers:
        assert 0.0 <= layer.dead < 0.1


def test_probe_to_json(probe):
    data = probe_to_json(list(probe.values()))
    json.dumps(data, allow_nan=False)
    assert set(data) == {"results"}
    first = data["results"][0]
    assert {"init", "activation", "layers"} <= set(first)
    for key in ("mean", "std", "std_spread", "predicted_std", "saturated", "dead"):
        assert key in first["layers"][0]
    he = next(r for r in data["results"] if (r["init"], r["activation"]) == ("he", "relu"))
    for layer in he["layers"]:
        assert layer["predicted_std"] == pytest.approx(layer["std"], rel=0.15)
        assert layer["saturated"] is None and layer["dead"] is not None


def test_format_probe(probe):
    results = [probe["he:relu"], probe["normal-1:sigmoid"]]
    text = format_probe(results, histogram_width=12)
    assert "he:relu" in text and "normal-1:sigmoid" in text
    lines = text.splitlines()
    assert len([line for line in lines if "layer" in line]) == 10
    assert any(char in text for char in "▁▂▃▄▅▆▇█")
    assert "predicted" in text and "saturated" in text and "dead" in text


def test_sparkline():
    assert sparkline([0, 1, 2, 4], 4) == " ▂▄█"
    assert len(sparkline(list(range(20)), 10)) == 10
    assert len(sparkline([5, 5], 7)) == 7
    assert sparkline([0, 0], 3) == "   "


def test_full_probe_covers_every_initialiser_and_activation():
    # its speed is measured by benchmarks, not asserted here
    results = run_probe(trials=2)
    assert len(results) == len(INITIALIZER_NAMES) * len(ACTIVATION_NAMES)
    assert all(math.isfinite(layer.std) for result in results for layer in result.layers)
