"""Mean-field predictions of the activation std (inittui.theory)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss

from inittui.activations import ACTIVATIONS
from inittui.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.probe import run_probe
from inittui.theory import expected_activation_moments, predicted_activation_std


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
    g_mean, g_second = _grid_moments("leaky-relu", q)
    assert g_mean == pytest.approx(mean, rel=1e-5)
    assert g_second == pytest.approx(second, rel=1e-5)


def test_linear_moments():
    assert expected_activation_moments("linear", 2.5) == (0.0, 2.5)


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


def test_input_moment_and_bias_enter_q():
    base = predicted_activation_std("xavier", "relu", [100, 100], input_second_moment=4.0)
    assert base[0] == pytest.approx(2 * predicted_activation_std("xavier", "relu", [100, 100])[0])
    biased = predicted_activation_std("xavier", "relu", [100, 100], bias_variance=1.0)
    assert biased[0] == pytest.approx(predicted_activation_std("he", "relu", [100, 100])[0])


@pytest.fixture(scope="module")
def measured():
    return {
        result.name: result
        for result in run_probe(["he", "xavier", "glorot", "orthogonal"], ["relu", "tanh"], trials=10, seed=0)
    }


@pytest.mark.parametrize("name", ["he:relu", "xavier:tanh", "glorot:tanh", "orthogonal:tanh"])
def test_prediction_matches_probe_within_15_percent(measured, name):
    result = measured[name]
    assert len(result.layers) == 5
    for layer in result.layers:
        assert layer.predicted_std is not None
        assert layer.std == pytest.approx(layer.predicted_std, rel=0.15)
