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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss

from inittui.core.events import correlation_depth
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


@lru_cache(maxsize=1)
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    """One panel's Gauss–Legendre nodes and weights on [-1, 1] (numpy recomputes them on every call)."""
    return np.polynomial.legendre.leggauss(LEGENDRE_POINTS)


def _panel_rule(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights for E[f(z)], z ~ N(0, 1), z in [-12, 12].

    Panel edges: a grid on the scale of z, a finer one on the scale of x = sqrt(q)·z near 0
    (where a saturating activation turns), and 0 itself (where SELU has its kink).
    """
    coarse = np.linspace(-Z_LIMIT, Z_LIMIT, 97)
    fine = np.linspace(-20.0, 20.0, 81) / math.sqrt(q)
    edges = np.unique(np.concatenate([coarse, fine[np.abs(fine) < Z_LIMIT], [0.0]]))
    base_nodes, base_weights = _gauss_legendre()
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


# ---------------------------------------------------------------------------------------------------------------
# Signal propagation between two inputs: the length and correlation maps of Poole et al. 2016.
#
# ``weight_variance`` is sigma_w² as Poole et al. write it: a weight's variance times its fan-in, what an
# initialiser states (the gains above). Through one layer, two pre-activations of variance q1, q2 and
# correlation c become
#
#     q'  = sigma_w² E[phi(u)²] + sigma_b²                                  (the length map)
#     c'  = (sigma_w² E[phi(u1) phi(u2)] + sigma_b²) / sqrt(q1' q2')          (the correlation map)
#
# with u1 = sqrt(q1) z1, u2 = sqrt(q2) (c z1 + sqrt(1 - c²) z2), z1, z2 independent N(0, 1). At the length's
# fixed point q*, chi_1 = sigma_w² E[phi'(sqrt(q*) z)²] decides the phase: below 1 every correlation goes to
# c* = 1 (ordered), above 1 to a c* < 1 (chaotic); chi_c = sigma_w² E[phi'(u1) phi'(u2)] at c* is the c-map's
# slope there, and correlations approach c* as chi_c^l, over xi_c = -1/ln(chi_c) layers.

# Gauss–Hermite nodes per dimension of the two-input expectations (41² nodes a pair, vectorised over pairs):
# within 1e-3 of sampling up to q = 4 for tanh, a few 1e-3 at 8, 2e-2 at 16 (a near step); beyond PAIR_MAX_Q a
# saturating activation's pair expectations are not predicted
PAIR_POINTS = 41
PAIR_MAX_Q = 8.0
# the length map iterated this many layers from q = 1 stands for its fixed point q*: near the critical point
# the approach is slow (q ~ 1/l for tanh at sigma_w = 1), and a 30-layer network never gets closer anyway
FIXED_POINT_LAYERS = 1000
# beyond this the length has diverged (an unbounded activation above its critical gain); below the other it
# has vanished, and is kept at that tiny value, where phi is linear on each side of 0 (SELU's slopes differ)
DIVERGED_Q = 1e12
VANISHED_Q = 1e-8
# the c-map iterated this many layers from c = 0 finds the chaotic phase's stable c* < 1
CORRELATION_LAYERS = 500
CRITICAL_GAIN_RANGE = (0.1, 20.0)
BISECTION_STEPS = 24


def _rectifier_slope(activation: str) -> float | None:
    """The negative slope of a rectifier (0 for ReLU), for which the maps have closed forms; None otherwise."""
    return {"relu": 0.0, "leaky-relu": LEAKY_RELU_SLOPE}.get(activation)


def activation_derivative(activation: str, x: torch.Tensor) -> torch.Tensor:
    """phi'(x), elementwise, by autograd through the activation torch itself runs."""
    with torch.enable_grad():
        x = x.detach().requires_grad_()
        (slope,) = torch.autograd.grad(get_activation(activation).function(x).sum(), x)
    return slope


def length_map(activation: str, q: float, weight_variance: float, bias_variance: float = 0.0) -> float:
    """q' = sigma_w² E[phi(sqrt(q) z)²] + sigma_b²."""
    return weight_variance * expected_activation_moments(activation, q)[1] + bias_variance


def length_fixed_point(activation: str, weight_variance: float, bias_variance: float = 0.0) -> float:
    """q*, as the length map reaches it from q = 1 in FIXED_POINT_LAYERS layers; inf where it diverges, VANISHED_Q
    where it vanishes."""
    q = 1.0
    for _ in range(FIXED_POINT_LAYERS):
        following = length_map(activation, q, weight_variance, bias_variance)
        if following > DIVERGED_Q:
            return math.inf
        if following < VANISHED_Q:
            return VANISHED_Q
        if abs(following - q) <= 1e-14 * max(q, 1e-300):
            return following
        q = following
    return q


def chi_1(activation: str, q: float, weight_variance: float) -> float:
    """sigma_w² E[phi'(sqrt(q) z)²]: how a small perturbation grows through one layer at length q."""
    slope = _rectifier_slope(activation)
    if slope is not None:  # phi' is 1 or the slope, each with probability 1/2, whatever q
        return weight_variance * (1.0 + slope * slope) / 2.0
    if activation in LINEAR_NAMES:
        return weight_variance
    nodes, weights = _gauss_hermite(QUADRATURE_POINTS)
    x = torch.from_numpy(math.sqrt(q) * nodes) if math.isfinite(q) else None
    if x is None:
        raise ValueError(f"chi_1 of {activation} at an infinite length")
    derivative = activation_derivative(activation, x).numpy()
    return weight_variance * float(np.dot(weights, derivative * derivative))


def _pair_nodes(c: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """u1, u2 ``[pairs, n, n]`` (float64 tensors) and the weights ``[n, n]`` of E over (z1, z2)."""
    nodes, weights = _gauss_hermite(PAIR_POINTS)
    z1, z2 = nodes[:, None], nodes[None, :]
    c = np.clip(c, -1.0, 1.0)[:, None, None]
    u1 = np.sqrt(q1)[:, None, None] * z1
    u2 = np.sqrt(q2)[:, None, None] * (c * z1 + np.sqrt(1.0 - c * c) * z2)
    return torch.from_numpy(np.broadcast_to(u1, u2.shape).copy()), torch.from_numpy(u2), np.outer(weights, weights)


def _rectifier_cross_moment(c: np.ndarray, q1: np.ndarray, q2: np.ndarray, slope: float) -> np.ndarray:
    """E[phi(u1) phi(u2)] for phi(x) = max(x, 0) + slope·min(x, 0): ReLU's arc-cosine kernel (Cho & Saul 2009),
    phi(x) = relu(x) - slope·relu(-x) giving the rest."""

    def relu_kernel(correlation: np.ndarray) -> np.ndarray:
        return np.sqrt(q1 * q2) / (2 * math.pi) * (
            np.sqrt(1.0 - correlation**2) + (math.pi - np.arccos(correlation)) * correlation
        )

    c = np.clip(c, -1.0, 1.0)
    return (1.0 + slope * slope) * relu_kernel(c) - 2.0 * slope * relu_kernel(-c)


def pair_covariance(
    activation: str, c: np.ndarray, q1: np.ndarray, q2: np.ndarray, weight_variance: float, bias_variance: float = 0.0
) -> np.ndarray:
    """sigma_w² E[phi(u1) phi(u2)] + sigma_b² for pairs of inputs (arrays of one value a pair): the next layer's
    covariance of the two."""
    c, q1, q2 = (np.asarray(a, dtype=np.float64) for a in (c, q1, q2))
    slope = _rectifier_slope(activation)
    if slope is not None:
        cross = _rectifier_cross_moment(c, q1, q2, slope)
    elif activation in LINEAR_NAMES:
        cross = c * np.sqrt(q1 * q2)
    else:
        u1, u2, weights = _pair_nodes(c, q1, q2)
        function = get_activation(activation).function
        cross = np.einsum("pij,ij->p", (function(u1) * function(u2)).numpy(), weights)
    return weight_variance * cross + bias_variance


def correlation_map(
    activation: str,
    c: np.ndarray,
    q1: np.ndarray,
    q2: np.ndarray,
    weight_variance: float,
    bias_variance: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer of the maps for pairs of inputs (arrays of one value a pair): (c', q1', q2')."""
    covariance = pair_covariance(activation, c, q1, q2, weight_variance, bias_variance)
    following = [
        np.array([length_map(activation, float(q), weight_variance, bias_variance) for q in np.atleast_1d(qs)])
        for qs in (q1, q2)
    ]
    return covariance / np.sqrt(following[0] * following[1]), following[0], following[1]


def correlation_slope(activation: str, c: float, q: float, weight_variance: float, bias_variance: float = 0.0) -> float:
    """chi_c, the c-map's slope at correlation c and equal lengths q: sigma_w² E[phi'(u1) phi'(u2)] · q / q'.

    At the length's fixed point q' = q, and this is Poole et al.'s chi_c; for a homogeneous phi (the rectifiers),
    whose correlation map does not depend on the length, it is the slope at any q.
    """
    following = length_map(activation, q, weight_variance, bias_variance)
    slope = _rectifier_slope(activation)
    if slope is not None:  # the probability that both, one or neither of u1, u2 is positive
        both = (math.pi - math.acos(min(max(c, -1.0), 1.0))) / (2 * math.pi)
        return weight_variance * ((1.0 + slope * slope) * both + 2.0 * slope * (0.5 - both)) * q / following
    if activation in LINEAR_NAMES:
        return weight_variance * q / following
    if c >= 1.0:  # both inputs the same: one-dimensional, so exact at any length
        return chi_1(activation, q, weight_variance) * q / following
    u1, u2, weights = _pair_nodes(np.array([c]), np.array([q]), np.array([q]))
    product = activation_derivative(activation, u1) * activation_derivative(activation, u2)
    return weight_variance * float(np.einsum("pij,ij->", product.numpy(), weights)) * q / following


@dataclass(frozen=True)
class DepthScale:
    """Where the maps settle for one sigma_w², sigma_b²: q*, chi_1, c*, chi_c and xi_c = -1/ln(chi_c)."""

    q_star: float
    chi_1: float
    c_star: float
    chi_c: float

    @property
    def xi_c(self) -> float:
        """Layers over which a correlation approaches c*; inf at the edge of chaos (chi_c = 1)."""
        return correlation_depth(self.chi_c)


def _is_homogeneous(activation: str) -> bool:
    return _rectifier_slope(activation) is not None or activation in LINEAR_NAMES


def _length_and_chi_1(activation: str, weight_variance: float, bias_variance: float) -> tuple[float, float]:
    """q* and chi_1 there; chi_1 is inf where the length grows without bound (every layer chaotic)."""
    q_star = length_fixed_point(activation, weight_variance, bias_variance)
    if not math.isfinite(q_star) and not _is_homogeneous(activation):
        return q_star, math.inf
    # a homogeneous phi's maps do not depend on the length: any finite one stands for a diverging q*
    return q_star, chi_1(activation, q_star if math.isfinite(q_star) else 1.0, weight_variance)


def depth_scale(activation: str, weight_variance: float, bias_variance: float = 0.0) -> DepthScale:
    """The fixed points of the length and correlation maps and the depth scale there (Poole et al. 2016)."""
    q_star, chi = _length_and_chi_1(activation, weight_variance, bias_variance)
    homogeneous = _is_homogeneous(activation)
    if not math.isfinite(q_star) and not homogeneous:  # no q* to evaluate at
        return DepthScale(q_star, math.inf, math.nan, math.nan)
    q = q_star if math.isfinite(q_star) else 1.0
    # c = 1's stability: chi_1 at q* (Poole et al.), or for a homogeneous phi the slope of its length-free map
    at_one = correlation_slope(activation, 1.0, q, weight_variance, bias_variance) if homogeneous else chi
    if at_one <= 1.0:
        return DepthScale(q_star, chi, 1.0, at_one)  # c* = 1 is stable
    if not homogeneous and q > PAIR_MAX_Q:
        return DepthScale(q_star, chi, math.nan, math.nan)  # beyond the pair quadrature
    c = np.zeros(1)
    lengths = np.full(1, q)
    # both lengths stay at q: the next layer's length is the same every layer (correlation_map's c', once)
    following = np.full(1, length_map(activation, q, weight_variance, bias_variance))
    for _ in range(CORRELATION_LAYERS):
        c = pair_covariance(activation, c, lengths, lengths, weight_variance, bias_variance) / np.sqrt(
            following * following)
    c_star = float(c[0])
    return DepthScale(q_star, chi, c_star, correlation_slope(activation, c_star, q, weight_variance, bias_variance))


@lru_cache(maxsize=16)
def critical_gain(activation: str) -> float:
    """The weight scale sigma_w (an orthogonal matrix's gain, sigma_w² = gain²) at which chi_1 = 1 at the length's
    fixed point, with zero biases: the edge of chaos. By bisection on sigma_w, chi_1 rising with it."""
    low, high = CRITICAL_GAIN_RANGE
    for _ in range(BISECTION_STEPS):
        middle = math.sqrt(low * high)
        if _length_and_chi_1(activation, middle * middle, 0.0)[1] < 1.0:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


def predicted_correlations(activation: str, weight_variances: Sequence[float | None], inputs: torch.Tensor) -> list[float | None]:
    """The mean correlation of two different inputs' pre-activations at each layer, by the maps.

    ``inputs [n, n_in]`` are the images; each pair starts from its own correlation and each image from its own
    second moment (zero biases, as every initialiser starts them), and the prediction is the mean over pairs
    of what the maps make of each. None from a layer with no stated variance on, once a length overflows, or
    once a saturating activation's length exceeds PAIR_MAX_Q.
    """
    x = inputs.double()
    norms = torch.linalg.vector_norm(x, dim=1)
    first, second = (index.numpy() for index in torch.triu_indices(len(x), len(x), offset=1))
    c = ((x[first] * x[second]).sum(dim=1) / (norms[first] * norms[second])).numpy()
    # each image's length, layer by layer (one length map per image, not per pair)
    lengths = (norms**2 / x.shape[1]).numpy()
    result: list[float | None] = []
    saturating = _rectifier_slope(activation) is None and activation not in LINEAR_NAMES
    with np.errstate(over="ignore", invalid="ignore"):  # a length that overflows ends the prediction below
        for index, variance in enumerate(weight_variances):
            if variance is None or not np.all(np.isfinite(lengths)) or (saturating and lengths.max() > PAIR_MAX_Q):
                # unknown, grown beyond floats, or beyond the pair quadrature
                return result + [None] * (len(weight_variances) - index)
            if index == 0:  # the first layer is linear in the input: its pre-activations keep its correlation
                lengths = variance * lengths
            else:
                covariance = pair_covariance(activation, c, lengths[first], lengths[second], variance)
                lengths = np.array([length_map(activation, float(q), variance) for q in lengths])
                c = covariance / np.sqrt(lengths[first] * lengths[second])
            result.append(float(np.mean(c)))
    return result
