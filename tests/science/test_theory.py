"""Mean-field predictions of the activation std (inittui.science.theory)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss

from inittui.science.activations import ACTIVATIONS, get_activation
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.science.initializers import get_initializer, lsuv_rescale_, needs_data
from inittui.science.probe import run_probe
from inittui.science.theory import (
    activation_std,
    expected_activation_moments,
    input_second_moment,
    predicted_activation_std,
)


def _hermite_moments(activation: str, q: float, points: int = 101) -> tuple[float, float]:
    nodes, weights = hermegauss(points)
    weights = weights / math.sqrt(2 * math.pi)
    values = ACTIVATIONS[activation].function(torch.from_numpy(math.sqrt(q) * nodes)).numpy()
    return float(np.dot(weights, values)), float(np.dot(weights, values**2))


def _grid_moments(activation: str, q: float) -> tuple[float, float]:
    """Brute force: a dense grid over z in [-15, 15] (0 is a grid point)."""
    z = np.linspace(-15, 15, 600_001)
    density = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    values = ACTIVATIONS[activation].function(torch.from_numpy(math.sqrt(q) * z)).numpy()
    return float(np.sum(values * density)), float(np.sum(values**2 * density))


@pytest.mark.parametrize("q", [1e-4, 0.5, 1.0, 2.0, 7.3])
def test_relu_closed_form_matches_quadrature(q):
    mean, second = expected_activation_moments("relu", q)
    assert mean == pytest.approx(math.sqrt(q / (2 * math.pi)))
    assert second == pytest.approx(q / 2)
    # ReLU's kink at 0 makes Gauss–Hermite converge slowly (hence the closed form): agree to 1 %
    h_mean, h_second = _hermite_moments("relu", q)
    assert h_mean == pytest.approx(mean, rel=1e-2)
    assert h_second == pytest.approx(second, rel=1e-2)
    g_mean, g_second = _grid_moments("relu", q)
    assert g_mean == pytest.approx(mean, rel=1e-5)
    assert g_second == pytest.approx(second, rel=1e-5)


@pytest.mark.parametrize("q", [0.3, 1.0, 4.0])
def test_leaky_relu_closed_form_matches_quadrature(q):
    mean, second = expected_activation_moments("leaky-relu", q)
    # exactly the closed form, not a quadrature's approximation of it
    assert mean == pytest.approx(math.sqrt(q / (2 * math.pi)) * (1 - 0.01), rel=1e-12)
    assert second == pytest.approx(0.5 * q * (1 + 0.01**2), rel=1e-12)
    g_mean, g_second = _grid_moments("leaky-relu", q)
    assert g_mean == pytest.approx(mean, rel=1e-5)
    assert g_second == pytest.approx(second, rel=1e-5)


def test_linear_moments():
    assert expected_activation_moments("linear", 2.5) == (0.0, 2.5)
    assert expected_activation_moments("identity", 2.5) == (0.0, 2.5)


@pytest.mark.parametrize("q", [-1e-9, math.nan, math.inf])
def test_a_variance_that_is_negative_or_not_finite_is_refused(q):
    with pytest.raises(ValueError, match="^pre-activation variance must be finite and >= 0, got "):
        expected_activation_moments("tanh", q)


@pytest.mark.parametrize("activation,value", [("sigmoid", 0.5), ("tanh", 0.0), ("gelu", 0.0), ("selu", 0.0)])
def test_zero_variance_is_the_function_at_zero(activation, value):
    assert expected_activation_moments(activation, 0.0) == pytest.approx((value, value * value), abs=1e-12)
    assert activation_std(activation, 0.0) == 0.0


@pytest.mark.parametrize("q", [1e-6, 1e-4])
def test_tanh_of_tiny_variance_is_linear(q):
    mean, second = expected_activation_moments("tanh", q)
    assert abs(mean) < 1e-12
    assert math.sqrt(second - mean**2) == pytest.approx(math.sqrt(q), rel=1e-3)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "gelu", "selu"])
@pytest.mark.parametrize("q", [0.01, 1.0, 100.0, 1e4])
def test_quadrature_matches_dense_grid(activation, q):
    """Steep (large q) and kinked (SELU) cases included."""
    g_mean, g_second = _grid_moments(activation, q)
    mean, second = expected_activation_moments(activation, q)
    assert mean == pytest.approx(g_mean, rel=1e-4, abs=1e-9)
    assert second == pytest.approx(g_second, rel=1e-4)


def test_sigmoid_and_selu_known_values():
    mean, second = expected_activation_moments("sigmoid", 1.0)
    assert mean == pytest.approx(0.5)
    # SELU is built so that N(0, 1) inputs give mean 0, variance 1
    mean, second = expected_activation_moments("selu", 1.0)
    assert mean == pytest.approx(0.0, abs=1e-6)
    assert second == pytest.approx(1.0, rel=1e-6)


def test_shape_and_none_cases():
    sizes = [100, 100, 100, 100]
    for init in INITIALIZER_NAMES:
        for activation in ACTIVATION_NAMES:
            predicted = predicted_activation_std(init, activation, sizes)
            assert len(predicted) == 3
    assert predicted_activation_std("constant", "relu", sizes) == [None, None, None]
    assert predicted_activation_std("he", "relu", [784]) == []
    assert predicted_activation_std("constant", "relu", [784]) == predicted_activation_std("lsuv", "relu", []) == []
    lsuv = predicted_activation_std("lsuv", "tanh", sizes)
    assert lsuv == pytest.approx([expected_activation_moments("tanh", 1.0)[1] ** 0.5] * 3)


def test_relu_recursions():
    # He keeps ReLU's std constant: sqrt(1 - 1/pi)
    he = predicted_activation_std("he", "relu", [100] * 6)
    assert he == pytest.approx([math.sqrt(1 - 1 / math.pi)] * 5)
    # Xavier (variance 1/n_in) halves the second moment per layer: std shrinks by 1/sqrt(2)
    xavier = predicted_activation_std("xavier", "relu", [100] * 6)
    for before, after in zip(xavier, xavier[1:]):
        assert after / before == pytest.approx(1 / math.sqrt(2))
    assert xavier[0] == pytest.approx(math.sqrt(0.5 - 1 / (2 * math.pi)))


def test_an_infinite_variance_predicts_nothing_from_there_on():
    assert predicted_activation_std("he", "relu", [100] * 4, input_second_moment=math.inf) == [None, None, None]
    # normal-1 with ReLU multiplies the second moment by n/2 = 50 a layer: past float's range by layer ~185
    deep = predicted_activation_std("normal-1", "relu", [100] * 200)
    assert len(deep) == 199
    first_none = deep.index(None)
    assert 150 < first_none < 199 and all(value is None for value in deep[first_none:])
    assert all(value is not None and math.isfinite(value) for value in deep[:first_none])


def test_input_moment_and_bias_enter_q():
    base = predicted_activation_std("xavier", "relu", [100, 100], input_second_moment=4.0)
    assert base[0] == pytest.approx(2 * predicted_activation_std("xavier", "relu", [100, 100])[0])
    biased = predicted_activation_std("xavier", "relu", [100, 100], bias_variance=1.0)
    assert biased[0] == pytest.approx(predicted_activation_std("he", "relu", [100, 100])[0])


@pytest.fixture(scope="module")
def measured():
    return {
        result.name: result
        for result in run_probe(["he", "xavier", "orthogonal"], ["relu", "tanh"], trials=10, seed=0)
    }


# glorot:tanh is left out: in the probe's 100 × 100 layers glorot's variance equals xavier's and the draws
# are identical, so it would repeat xavier:tanh; the MNIST-shaped layers below tell them apart
@pytest.mark.parametrize("name", ["he:relu", "xavier:tanh", "orthogonal:tanh"])
def test_prediction_matches_probe_within_15_percent(measured, name):
    result = measured[name]
    assert len(result.layers) == 5
    for layer in result.layers:
        assert layer.predicted_std is not None
        assert layer.std == pytest.approx(layer.predicted_std, rel=0.15)


# ------------------------------------------------------------------------------------------ MNIST's shapes

# The first layer (784 → 100) and the output layer (100 → 10): fan-in and fan-out differ, so glorot's
# 2/(n_in+n_out) and xavier's 1/n_in differ too.
MNIST_SHAPED = [784, 100, 10]


def measured_activation_std(init: str, activation: str, samples: int = 200, first_draws: int = 3,
                            second_draws: int = 48, seed: int = 0) -> list[float]:
    """Std of each layer's activations for standard-normal inputs, pooled over units, inputs and draws.

    The output layer has only 10 units, so it is drawn ``second_draws`` times over each of the
    ``first_draws`` first layers: over a thousand units, enough to measure its std to about 1 %.
    """
    generator = torch.Generator().manual_seed(seed)
    act, initializer = get_activation(activation), get_initializer(init)
    inputs = torch.randn(samples, MNIST_SHAPED[0], generator=generator)

    def layer(n_in: int, n_out: int, layer_inputs: torch.Tensor) -> torch.Tensor:
        weight = torch.empty(n_out, n_in)
        initializer.fill(weight, act, generator)
        if needs_data(init):
            lsuv_rescale_([weight], [torch.zeros(n_out)], act, layer_inputs)
        return weight

    first = torch.stack([layer(784, 100, inputs) for _ in range(first_draws)])  # [draws, 100, 784]
    hidden = act.function(inputs @ first.transpose(1, 2))  # [draws, samples, 100]
    second = torch.stack(
        [torch.stack([layer(100, 10, hidden[d]) for _ in range(second_draws)]) for d in range(first_draws)]
    )  # [draws, second_draws, 10, 100]
    output = act.function(hidden.unsqueeze(1) @ second.transpose(2, 3))
    return [hidden.std().item(), output.std().item()]


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_glorot_and_xavier_predictions_differ_on_mnist_shaped_layers(activation):
    glorot = predicted_activation_std("glorot", activation, MNIST_SHAPED)
    xavier = predicted_activation_std("xavier", activation, MNIST_SHAPED)
    assert all(abs(g / x - 1) > 0.1 for g, x in zip(glorot, xavier))


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("init", [name for name in INITIALIZER_NAMES if name != "constant"])
def test_prediction_matches_measurement_on_mnist_shaped_layers(init, activation):
    predicted = predicted_activation_std(init, activation, MNIST_SHAPED)
    measured = measured_activation_std(init, activation)
    # the measurement is good to about 1 %, the mean field to about 2 % on 100 inputs
    tolerance = [0.03, 0.03]
    if (init, activation) == ("lsuv", "sigmoid"):
        # LSUV sets the variance about the layer's own mean; with sigmoid's mean of 1/2 feeding only 10
        # units that mean is a fair share of E[z²], and the output layer measures ~5 % above q = 1's std
        tolerance[1] = 0.08
    for layer, (got, want, rel) in enumerate(zip(measured, predicted, tolerance)):
        assert got == pytest.approx(want, rel=rel), f"layer {layer + 1}"


def test_the_input_second_moment_is_the_mean_square():
    images = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert input_second_moment(images) == pytest.approx((1 + 4 + 9 + 0) / 4)
    assert input_second_moment(torch.empty(0, 784)) == 0.0


# ---------------------------------------------------------------------------------------------------------------
# the length and correlation maps (Poole et al. 2016)
from inittui.science.theory import (  # noqa: E402
    chi_1,
    correlation_map,
    correlation_slope,
    critical_gain,
    depth_scale,
    length_fixed_point,
    predicted_correlations,
)


def test_tanh_at_unit_weight_variance_and_no_bias_has_its_correlation_fixed_point_at_1():
    scale = depth_scale("tanh", 1.0, 0.0)
    assert scale.c_star == 1.0
    # the length vanishes (slowly, as 1/l), and with it tanh's curvature: chi_1 -> sigma_w² tanh'(0)² = 1
    assert scale.q_star < 1e-3
    assert scale.chi_1 == pytest.approx(1.0, abs=2e-3)
    # and c = 1 maps to itself
    c, _, _ = correlation_map("tanh", np.array([1.0]), np.array([0.5]), np.array([0.5]), 1.0)
    assert c[0] == pytest.approx(1.0, abs=1e-7)  # 41² nodes for the pair, 101 for the lengths


def test_critical_gain_for_tanh_is_1_where_its_length_vanishes():
    assert critical_gain("tanh") == pytest.approx(1.0, abs=1e-2)
    # torch's calculate_gain('tanh') = 5/3 is well inside the chaotic phase: c* = 0 (odd phi, no bias)
    chaotic = depth_scale("tanh", (5 / 3) ** 2)
    assert chaotic.chi_1 > 1.1
    assert chaotic.c_star == pytest.approx(0.0, abs=1e-6)
    assert 5 < chaotic.xi_c < 50


@pytest.mark.parametrize("activation, gain", [("relu", math.sqrt(2)), ("leaky-relu", math.sqrt(2 / (1 + 0.01**2)))])
def test_critical_gain_of_a_rectifier_is_its_he_gain(activation, gain):
    # chi_1 = sigma_w² (1 + slope²)/2 whatever the length
    assert critical_gain(activation) == pytest.approx(gain, rel=1e-5)
    assert chi_1(activation, 3.7, gain * gain) == pytest.approx(1.0)


def test_chi_1_is_the_mean_square_slope_by_quadrature():
    # tanh' = 1 - tanh², at q = 1; a dense grid independently
    z = np.linspace(-12, 12, 200_001)
    density = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    expected = float(np.sum((1 - np.tanh(z) ** 2) ** 2 * density))
    assert chi_1("tanh", 1.0, 2.0) == pytest.approx(2.0 * expected, rel=1e-8)


def test_length_fixed_point_solves_the_length_map():
    q = length_fixed_point("tanh", 4.0)
    _, second = expected_activation_moments("tanh", q)
    assert 4.0 * second == pytest.approx(q, rel=1e-10)
    assert q > 0.5


def _sampled_correlation(activation: str, c: float, q1: float, q2: float) -> float:
    """Monte Carlo: the correlation map's numerator and lengths from a million pairs."""
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(2, 1_000_000, generator=generator, dtype=torch.float64)
    u1 = math.sqrt(q1) * z1
    u2 = math.sqrt(q2) * (c * z1 + math.sqrt(1 - c * c) * z2)
    phi = get_activation(activation).function
    return float((phi(u1) * phi(u2)).mean() / ((phi(u1) ** 2).mean() * (phi(u2) ** 2).mean()).sqrt())


@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky-relu", "sigmoid", "gelu"])
@pytest.mark.parametrize("c", [-0.4, 0.3, 0.9])
def test_correlation_map_matches_sampling(activation, c):
    predicted, _, _ = correlation_map(activation, np.array([c]), np.array([0.7]), np.array([1.6]), 1.7)
    assert predicted[0] == pytest.approx(_sampled_correlation(activation, c, 0.7, 1.6), abs=3e-3)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_correlation_slope_is_the_maps_derivative(activation):
    c, h = 0.4, 1e-5
    # on the length's fixed point q' = q, where the slope is chi_c (for ReLU every q is one at sigma_w² = 2)
    variance = 2.0 if activation == "relu" else 1.8
    q = 1.3 if activation == "relu" else length_fixed_point(activation, variance)
    pair = np.array([q])
    above, _, _ = correlation_map(activation, np.array([c + h]), pair, pair, variance)
    below, _, _ = correlation_map(activation, np.array([c - h]), pair, pair, variance)
    # c' is normalised by q' = q* here, so its derivative is exactly chi_c
    assert correlation_slope(activation, c, q, variance) == pytest.approx((above[0] - below[0]) / (2 * h), rel=1e-4)


def test_predicted_correlations_start_from_the_inputs_and_stay_put_for_a_linear_map():
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(6, 40, generator=generator, dtype=torch.float64) + 0.5
    unit = images / images.norm(dim=1, keepdim=True)
    gram = unit @ unit.T
    mean_input_correlation = float(gram[torch.triu_indices(6, 6, 1).unbind()].mean())
    predicted = predicted_correlations("linear", [1.0, 2.0, 0.5], images)
    assert predicted == pytest.approx([mean_input_correlation] * 3, rel=1e-9)
    # ReLU pulls correlations towards 1, layer by layer; an unknown variance ends the prediction
    relu = predicted_correlations("relu", [2.0, 2.0, 2.0, None], images)
    assert relu[0] == pytest.approx(mean_input_correlation)
    assert relu[0] < relu[1] < relu[2] < 1.0
    assert relu[3] is None


def test_predicted_correlations_match_a_wide_random_tanh_network():
    generator = torch.Generator().manual_seed(2)
    images = torch.randn(8, 60, generator=generator, dtype=torch.float64) * torch.linspace(0.5, 1.5, 8).unsqueeze(1)
    images[:, :20] += 1.0  # correlated inputs
    variances = [2.5, 2.0, 0.8]  # lengths up to about 6: within the pair quadrature's range
    width = 6000
    h, measured = images, []
    for layer, variance in enumerate(variances):
        weight = torch.randn(width, h.shape[1], generator=generator, dtype=torch.float64) * math.sqrt(variance / h.shape[1])
        z = h @ weight.T
        unit = z / z.norm(dim=1, keepdim=True)
        measured.append(float((unit @ unit.T)[torch.triu_indices(8, 8, 1).unbind()].mean()))
        h = torch.tanh(z)
    assert predicted_correlations("tanh", variances, images) == pytest.approx(measured, abs=0.01)
    # beyond the pair quadrature's range a saturating activation's correlation is not predicted
    assert predicted_correlations("tanh", [100.0, 1.0], images)[1] is None
