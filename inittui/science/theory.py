"""Mean-field prediction of the activation std of every layer at initialisation.

With independent zero-mean weights of std sigma_w, a unit's pre-activation is a sum of n_in
independent terms, so over units and inputs it is close to N(0, q) with

    q_l = sigma_w,l² · n_in,l · m_{l-1} (+ bias variance),    m_l = E[phi(sqrt(q_l) z)²],  z ~ N(0, 1),

m_0 being the input's second moment. sigma_w,l² · n_in,l is what a built-in initialiser states; for a user's
(--init-file), which states nothing, it is measured on the weights it drew (:func:`predicted_from_weights`).
The reported value is the std of phi(sqrt(q_l) z), sqrt(E[phi²] - E[phi]²): not the RMS, since ReLU-like
activations have a non-zero mean. Expectations are exact where a closed form exists (linear, ReLU, leaky ReLU) and by
Gauss–Hermite quadrature otherwise (composite Gauss–Legendre for steep or kinked cases).

No textual, no UI: numpy and torch only (torch only to evaluate the activation functions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss

from inittui.science.activations import LEAKY_RELU_SLOPE, get_activation
from inittui.science.initializers import get_initializer

QUADRATURE_POINTS = 101
# Gauss–Hermite is exact to ~1e-10 for smooth functions that vary on the scale of z; a steep function
# (tanh or sigmoid of a large q: a near step of width 1/sqrt(q)) or a kink at 0 (SELU) needs panels.
SMOOTH_ACTIVATIONS = ("sigmoid", "tanh", "gelu")
HERMITE_MAX_Q = 4.0
LEGENDRE_POINTS = 16
Z_LIMIT = 12.0
LINEAR_NAMES = ("linear", "identity")


def input_second_moment(images: torch.Tensor) -> float:
    """The inputs' mean square E[x²], where the mean-field recursion starts (1 for standardised MNIST)."""
    return float(torch.linalg.vector_norm(images) ** 2 / max(images.numel(), 1))


@lru_cache(maxsize=4)
def _gauss_hermite(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(z)], z ~ N(0, 1): sum(weights * f(nodes))."""
    nodes, weights = hermegauss(points)
    return nodes, weights / math.sqrt(2.0 * math.pi)


def _panel_rule(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights for E[f(z)], z ~ N(0, 1), z in [-12, 12].

    Panel edges: a grid on the scale of z, a finer one on the scale of x = sqrt(q)·z near 0
    (where a saturating activation turns), and 0 itself (where SELU has its kink).
    """
    coarse = np.linspace(-Z_LIMIT, Z_LIMIT, 97)
    fine = np.linspace(-20.0, 20.0, 81) / math.sqrt(q)
    edges = np.unique(np.concatenate([coarse, fine[np.abs(fine) < Z_LIMIT], [0.0]]))
    base_nodes, base_weights = np.polynomial.legendre.leggauss(LEGENDRE_POINTS)
    left, right = edges[:-1, None], edges[1:, None]
    half = (right - left) / 2.0
    nodes = (left + right) / 2.0 + half * base_nodes
    weights = half * base_weights * np.exp(-nodes * nodes / 2.0) / math.sqrt(2.0 * math.pi)
    return nodes.ravel(), weights.ravel()


def _rectifier_moments(q: float, slope: float) -> tuple[float, float]:
    """Exact mean and second moment of max(x, 0) + slope·min(x, 0) for x ~ N(0, q)."""
    half_mean = math.sqrt(q / (2.0 * math.pi))  # E[x; x > 0]
    mean = half_mean * (1.0 - slope)
    second = 0.5 * q * (1.0 + slope * slope)
    return mean, second


def expected_activation_moments(activation: str, q: float) -> tuple[float, float]:
    """(E[phi(x)], E[phi(x)²]) for x ~ N(0, q), phi the named activation (or "linear")."""
    if q < 0 or not math.isfinite(q):
        raise ValueError(f"pre-activation variance must be finite and >= 0, got {q}")
    if activation in LINEAR_NAMES:
        return 0.0, float(q)
    if activation == "relu":
        return _rectifier_moments(q, 0.0)
    if activation == "leaky-relu":
        return _rectifier_moments(q, LEAKY_RELU_SLOPE)
    function = get_activation(activation).function
    if q == 0.0:
        value = float(function(torch.zeros((), dtype=torch.float64)))
        return value, value * value
    if activation in SMOOTH_ACTIVATIONS and q <= HERMITE_MAX_Q:
        nodes, weights = _gauss_hermite(QUADRATURE_POINTS)
    else:
        nodes, weights = _panel_rule(q)
    x = torch.from_numpy(math.sqrt(q) * nodes)  # float64
    values = function(x).numpy()
    mean = float(np.dot(weights, values))
    second = float(np.dot(weights, values * values))
    return mean, second


def activation_std(activation: str, q: float) -> float:
    """Std of phi(x), x ~ N(0, q)."""
    mean, second = expected_activation_moments(activation, q)
    return math.sqrt(max(second - mean * mean, 0.0))


def predicted_activation_std(
    init: str,
    activation: str,
    layer_sizes: Sequence[int],
    input_second_moment: float = 1.0,
    bias_variance: float = 0.0,
) -> list[float | None]:
    """Predicted std of every weight layer's output after the activation, len(layer_sizes) - 1 values.

    ``layer_sizes`` is [n_in, hidden..., ...]. None where the mean field does not apply:
    ``constant`` (weights not random) or an initialiser with no predicted weight std (a user's: see
    :func:`predicted_from_weights`). ``lsuv`` is predicted from its definition: every pre-activation has variance 1.
    """
    count = max(len(layer_sizes) - 1, 0)
    if init == "constant":
        return [None] * count
    if init == "lsuv":
        return [activation_std(activation, 1.0)] * count
    initializer = get_initializer(init)
    act = get_activation(activation)
    gains: list[float | None] = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        sigma = initializer.weight_std(n_in, n_out, act)
        gains.append(None if sigma is None else sigma * sigma * n_in)
    return predicted_from_gains(activation, gains, input_second_moment, bias_variance)


def drawn_gains(weights: Sequence[torch.Tensor]) -> list[float]:
    """Each drawn weight's variance times its fan-in, Var(W)·n_in, for weights ``[n_out, n_in]``."""
    return [float(weight.double().var(correction=0)) * weight.shape[1] for weight in weights]


def predicted_from_weights(
    activation: str, weights: Sequence[torch.Tensor], input_second_moment: float = 1.0, bias_variance: float = 0.0
) -> list[float | None]:
    """The mean-field prediction for any initialiser, from the variance of the weights it drew."""
    return predicted_from_gains(activation, drawn_gains(weights), input_second_moment, bias_variance)


def predicted_from_gains(
    activation: str,
    gains: Sequence[float | None],
    input_second_moment: float = 1.0,
    bias_variance: float = 0.0,
) -> list[float | None]:
    """The recursion q_l = gains[l] · m_{l-1} + bias variance, ``gains[l]`` = sigma_w,l² · n_in,l.

    None for a layer whose gain is unknown, and for every layer after it (its input is unknown).
    """
    predictions: list[float | None] = []
    second_moment: float | None = float(input_second_moment)
    for gain in gains:
        if gain is None or second_moment is None:
            predictions.append(None)
            second_moment = None  # later layers depend on an unknown input
            continue
        q = gain * second_moment + bias_variance
        if not math.isfinite(q):
            predictions.append(None)
            second_moment = None
            continue
        mean, second = expected_activation_moments(activation, q)
        predictions.append(math.sqrt(max(second - mean * mean, 0.0)))
        second_moment = second
    return predictions
