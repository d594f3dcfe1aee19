"""The batched histograms agree with torch.histc; the statistics cadence keeps their cost in budget."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inittui.training.engine import (
    AUTO_STATS_FIRST_INTERVAL,
    AUTO_STATS_MAX_INTERVAL,
    AUTO_STATS_MIN_INTERVAL,
    STATS_TIME_BUDGET,
    StatsCadence,
)
from inittui.science.activations import get_activation
from inittui.core.events import HISTOGRAM_KINDS
from inittui.science.statistics import batched_histograms, layer_statistics


def test_batched_histograms_match_histc_per_run_and_layer():
    generator = torch.Generator().manual_seed(0)
    layers = [torch.randn(3, 64, 10, generator=generator) * scale for scale in (1.0, 0.1, 3.0)]
    # [layers, runs]: every layer of every run its own range
    low = torch.tensor([[-2.0, -1.0, -5.0], [-0.2, -0.1, -0.5], [-6.0, -3.0, -9.0]])
    high = -low
    counts = batched_histograms(layers, low, high, bins=16)
    for run in range(3):
        for layer, values in enumerate(layers):
            # histc drops values outside the range; batched_histograms puts them in the end bins
            bounds = low[layer, run].item(), high[layer, run].item()
            clipped = values[run].clamp(*bounds)
            expected = torch.histc(clipped, bins=16, min=bounds[0], max=bounds[1])
            assert counts[run, layer].tolist() == expected.long().tolist()


def test_non_finite_values_are_counted_not_lost():
    values = [torch.tensor([[[float("nan"), float("inf"), -float("inf"), 0.0]]])]
    counts = batched_histograms(values, torch.tensor([[-1.0]]), torch.tensor([[1.0]]), bins=4)
    # NaN and -inf in the first bin, inf in the last, 0 in the third
    assert counts.flatten().tolist() == [2, 0, 1, 1]


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


# ------------------------------------------------------------------------------------------ layer_statistics

BATCH, WIDTH, N_IN, LAYERS = 50, 8, 6, 3
TANH, RELU = get_activation("tanh"), get_activation("relu")


def _layers(seed: int = 0):
    """Two runs (tanh, relu) × three hidden layers, with dead ReLU units and saturated tanh values built in, and
    in every ReLU layer a unit that is alive though its pre-activations stay below 1."""
    generator = torch.Generator().manual_seed(seed)
    pre, post, weights, grads = [], [], [], []
    for layer in range(LAYERS):
        z = torch.randn(2, BATCH, WIDTH, generator=generator) * (1.0 + layer)
        z[1, :, : layer + 1] = -torch.rand(BATCH, layer + 1, generator=generator) - 0.1  # dead ReLU units
        z[1, :, -1] = torch.rand(BATCH, generator=generator) * 0.9 + 0.05  # alive, in (0, 1)
        z[0, :5] *= 20  # saturated tanh values
        pre.append(z)
        post.append(torch.stack([torch.tanh(z[0]), torch.relu(z[1])]))
        weights.append(torch.randn(2, WIDTH, N_IN if layer == 0 else WIDTH, generator=generator) * 0.3)
        grads.append(torch.randn(2, WIDTH, N_IN if layer == 0 else WIDTH, generator=generator) * 0.01)
    return pre, post, weights, grads


def _histogram(values: np.ndarray, low: float, high: float, bins: int) -> list[int]:
    """numpy's histogram with out-of-range values in the end bins, as the dashboard bins them."""
    return np.histogram(np.clip(values, low, high), bins=bins, range=(low, high))[0].tolist()


def test_layer_statistics_are_the_numbers_numpy_computes():
    pre, post, weights, grads = _layers()
    predicted = [[0.11, 0.22, 0.33], [None, 0.44, 0.55]]
    result = _layer_statistics(pre, post, weights, grads, [TANH, RELU], predicted, bins=12)
    assert [len(run) for run in result] == [LAYERS, LAYERS]
    for run in range(2):
        for layer in range(LAYERS):
            stat = result[run][layer]
            z, h = pre[layer][run].numpy(), post[layer][run].numpy()
            assert stat.mean == pytest.approx(h.mean(), rel=1e-5)
            assert stat.std == pytest.approx(h.std(ddof=1), rel=1e-5)
            assert stat.preactivation_std == pytest.approx(z.std(ddof=1), rel=1e-5)
            assert stat.weight_std == pytest.approx(weights[layer][run].numpy().std(ddof=1), rel=1e-5)
            assert stat.grad_norm == pytest.approx(np.linalg.norm(grads[layer][run].numpy()), rel=1e-5)
            assert stat.predicted_weight_std == predicted[run][layer]
            assert set(stat.histograms) == set(HISTOGRAM_KINDS)
            assert all(sum(hist.counts) == hist_size(kind, layer) for kind, hist in stat.histograms.items())
    tanh, relu = result
    for layer in range(LAYERS):
        h = post[layer][0].numpy()
        assert tanh[layer].dead is None
        assert tanh[layer].saturated == pytest.approx(float(np.mean(np.abs(h) > 0.99)))
        assert 0 < tanh[layer].saturated < 1
        assert relu[layer].saturated is None
        # layer 1 has one dead unit of 8, layer 2 two, layer 3 three; a unit alive for one sample is not dead
        assert relu[layer].dead == pytest.approx((layer + 1) / WIDTH)


def test_backpropagated_gradient_std_and_update_ratio_are_the_numbers_numpy_computes():
    pre, post, weights, grads = _layers()
    generator = torch.Generator().manual_seed(1)
    activation_grads = [torch.randn(h.shape, generator=generator) * (0.1 + layer) for layer, h in enumerate(post)]
    # a different step per run and layer
    weights_after = [w - torch.randn(w.shape, generator=generator) * 0.01 * (1 + layer) for layer, w in enumerate(weights)]
    result = layer_statistics(pre, post, activation_grads, weights, grads, weights_after, [TANH, RELU],
                              [[None] * LAYERS] * 2, bins=12)
    for run in range(2):
        for layer in range(LAYERS):
            stat = result[run][layer]
            before, after = weights[layer][run].numpy(), weights_after[layer][run].numpy()
            assert stat.activation_grad_std == pytest.approx(activation_grads[layer][run].numpy().std(ddof=1), rel=1e-5)
            ratio = np.linalg.norm(after - before) / np.linalg.norm(before)
            assert stat.update_ratio == pytest.approx(ratio, rel=1e-5)
            # the other numbers do not come from the gradients or from the weights after the step
            assert stat.weight_std == pytest.approx(before.std(ddof=1), rel=1e-5)
            assert stat.grad_norm == pytest.approx(np.linalg.norm(grads[layer][run].numpy()), rel=1e-5)


def _layer_statistics(pre, post, weights, grads, per_run, predicted, bins):
    """The statistics of a step whose activations had no gradient and whose weights the optimiser left alone."""
    activation_grads = [torch.zeros_like(h) for h in post]
    return layer_statistics(pre, post, activation_grads, weights, grads, weights, per_run, predicted, bins=bins)


def hist_size(kind: str, layer: int) -> int:
    if kind in ("activations", "preactivations"):
        return BATCH * WIDTH
    return WIDTH * (N_IN if layer == 0 else WIDTH)


def test_histogram_ranges_fixed_or_each_layers_own():
    pre, post, weights, grads = _layers()
    result = _layer_statistics(pre, post, weights, grads, [TANH, RELU], [[None] * LAYERS] * 2, bins=12)
    tanh, relu = result
    # tanh's activations: its fixed range; ReLU's: each layer's smallest and largest value
    assert all((s.histograms["activations"].low, s.histograms["activations"].high) == (-1.0, 1.0) for s in tanh)
    for stat, layer in zip(relu, range(LAYERS)):
        hist = stat.histograms["activations"]
        values = post[layer][1].numpy().ravel()
        assert (hist.low, hist.high) == pytest.approx((values.min(), values.max()))
        assert hist.counts == _histogram(values, hist.low, hist.high, 12)
    # the others: symmetric about 0, as wide as the layer's largest magnitude
    for kind, source in (("preactivations", pre), ("weights", weights), ("gradients", grads)):
        for run in range(2):
            for layer in range(LAYERS):
                largest = np.abs(source[layer][run].numpy()).max()
                hist = result[run][layer].histograms[kind]
                assert (hist.low, hist.high) == pytest.approx((-largest, largest)), kind
                assert hist.counts == _histogram(source[layer][run].numpy().ravel(), hist.low, hist.high, 12), kind


def test_non_finite_numbers_become_none_and_histograms_keep_a_range():
    pre, post, weights, grads = _layers()
    post[0][1, 0, 0] = math.nan  # the ReLU run
    pre[1][1, 0, 0] = math.inf
    weights[0][1, 0, 0] = math.nan
    grads[0][1, 0, 0] = math.inf
    relu = _layer_statistics(pre, post, weights, grads, [TANH, RELU], [[None] * LAYERS] * 2, bins=12)[1]
    assert relu[0].mean is None and relu[0].std is None
    assert relu[1].preactivation_std is None
    assert relu[0].weight_std is None and relu[0].grad_norm is None
    assert relu[1].mean is not None and relu[1].weight_std is not None  # other layers keep their numbers
    for stat in relu:
        for hist in stat.histograms.values():
            assert math.isfinite(hist.low) and math.isfinite(hist.high) and hist.low < hist.high
    # a NaN in a layer's activations: its range falls back to [0, 1]; NaN and inf magnitudes to ±1
    assert (relu[0].histograms["activations"].low, relu[0].histograms["activations"].high) == (0.0, 1.0)
    assert relu[0].histograms["weights"].high == 1.0 and relu[0].histograms["gradients"].high == 1.0
    assert relu[1].histograms["preactivations"].high == 1.0
    # the other layers keep ranges of their own
    values = post[1][1].numpy()
    assert (relu[1].histograms["activations"].low, relu[1].histograms["activations"].high) == pytest.approx(
        (values.min(), values.max()))


def test_infinite_activations_fall_back_to_a_unit_range():
    pre, post, weights, grads = _layers()
    post[0][1, 0, 0] = math.inf
    post[1][1, 0, 0] = -math.inf
    relu = _layer_statistics(pre, post, weights, grads, [TANH, RELU], [[None] * LAYERS] * 2, bins=12)[1]
    assert relu[0].histograms["activations"].high == 1.0 and relu[1].histograms["activations"].low == -1.0


def test_saturation_is_strictly_beyond_the_margin():
    """|tanh| > 0.99 is saturated, |tanh| = 0.99 is not."""
    values = torch.tensor([[[-0.99, 0.99, -0.995, 0.995, 0.0]]])
    stat = _layer_statistics([values], [values], [torch.ones(1, 5, 2)], [torch.ones(1, 5, 2)], [TANH], [[None]], 4)
    assert stat[0][0].saturated == pytest.approx(2 / 5)


def test_constant_values_get_a_histogram_of_non_zero_width():
    pre = [torch.zeros(1, 4, 3)]
    post = [torch.full((1, 4, 3), 0.5)]
    weights = [torch.zeros(1, 3, 2)]
    stat = _layer_statistics(pre, post, weights, weights, [RELU], [[0.0]], bins=4)[0][0]
    activations = stat.histograms["activations"]
    assert activations.low == 0.5 and sum(activations.counts) == 12
    assert activations.high == pytest.approx(0.5 * (1 + 1e-3))  # a width of 1e-3 of the value
    zeros = stat.histograms["weights"]
    assert zeros.low < 0 < zeros.high and zeros.high <= 1e-6
    assert stat.dead == 1.0  # every pre-activation is 0: off for the whole batch
    assert stat.std == 0.0 and stat.grad_norm == 0.0


def test_the_std_of_two_values_is_their_sample_std():
    """The sample std (n - 1 in the denominator) down to the smallest layer: two values."""
    pre = [torch.tensor([[[-1.0, 3.0]]])]
    post = [torch.tanh(pre[0])]
    weights = [torch.tensor([[[0.5], [-0.5]]])]
    stat = _layer_statistics(pre, post, weights, weights, [TANH], [[None]], bins=4)[0][0]
    assert stat.preactivation_std == pytest.approx(4 / math.sqrt(2))
    assert stat.weight_std == pytest.approx(1 / math.sqrt(2))
    assert stat.std == pytest.approx(float(post[0].std()))


def test_a_symmetric_range_is_as_wide_as_the_largest_negative_value():
    pre, post, weights, grads = _layers()
    weights = [-w.abs() for w in weights]  # every weight negative
    weights[1][0, 0, 0] = -7.0
    result = _layer_statistics(pre, post, weights, grads, [TANH, RELU], [[None] * LAYERS] * 2, bins=12)
    assert (result[0][1].histograms["weights"].low, result[0][1].histograms["weights"].high) == (-7.0, 7.0)
    for run in range(2):
        for layer, stat in enumerate(result[run]):
            largest = weights[layer][run].abs().max().item()
            assert (stat.histograms["weights"].low, stat.histograms["weights"].high) == pytest.approx((-largest, largest))
