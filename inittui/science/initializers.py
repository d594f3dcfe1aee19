"""Weight initialisers, each with its exact formula and its predicted weight std.

Every one is built on ``torch.nn.init``; only LSUV's data-driven rescaling is done here.
Weights are torch's layout: ``[n_out, n_in]``, so fan_in is ``n_in``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from inittui.science.activations import Activation
from inittui.core.config import INITIALIZER_NAMES

CONSTANT_WEIGHT = 0.01


@dataclass(frozen=True)
class Initializer:
    name: str
    formula: str
    note: str
    # fills a [n_out, n_in] weight in place
    fill: Callable[[torch.Tensor, Activation, torch.Generator | None], None]
    # predicted std of the weights of a layer (n_in, n_out, activation); None where it depends on data
    weight_std: Callable[[int, int, Activation], float | None]


def _normal(std: float) -> Callable[[torch.Tensor, Activation, torch.Generator | None], None]:
    def fill(weight: torch.Tensor, activation: Activation, generator: torch.Generator | None) -> None:
        nn.init.normal_(weight, 0.0, std, generator=generator)

    return fill


def _orthogonal(weight: torch.Tensor, activation: Activation, generator: torch.Generator | None) -> None:
    nn.init.orthogonal_(weight, gain=activation.gain(), generator=generator)


def _orthogonal_critical(weight: torch.Tensor, activation: Activation, generator: torch.Generator | None) -> None:
    nn.init.orthogonal_(weight, gain=_critical_gain(activation), generator=generator)


def _critical_gain(activation: Activation) -> float:
    # imported here: the theory imports this module for the variances the initialisers state
    from inittui.science.theory import critical_gain

    return critical_gain(activation.name)


def _orthonormal(weight: torch.Tensor, activation: Activation, generator: torch.Generator | None) -> None:
    # LSUV starts from an orthonormal matrix; its data-driven scaling replaces any gain
    nn.init.orthogonal_(weight, gain=1.0, generator=generator)


INITIALIZERS: dict[str, Initializer] = {
    init.name: init
    for init in (
        Initializer(
            "xavier",
            "W ~ N(0, 1/n_in)",
            "Xavier as the book and the article define it (Keras: LeCun normal); torch kaiming_normal_ with gain 1",
            lambda w, a, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear", generator=g),
            lambda n_in, n_out, a: 1.0 / math.sqrt(n_in),
        ),
        Initializer(
            "glorot",
            "W ~ N(0, 2/(n_in+n_out))",
            "Glorot & Bengio 2010; torch xavier_normal_",
            lambda w, a, g: nn.init.xavier_normal_(w, generator=g),
            lambda n_in, n_out, a: math.sqrt(2.0 / (n_in + n_out)),
        ),
        Initializer(
            "glorot-uniform",
            "W ~ U(-a, a), a = sqrt(6/(n_in+n_out))",
            "Glorot & Bengio 2010; torch xavier_uniform_",
            lambda w, a, g: nn.init.xavier_uniform_(w, generator=g),
            lambda n_in, n_out, a: math.sqrt(2.0 / (n_in + n_out)),
        ),
        Initializer(
            "he",
            "W ~ N(0, 2/n_in)",
            "He et al. 2015; torch kaiming_normal_ (fan_in, relu)",
            lambda w, a, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
            lambda n_in, n_out, a: math.sqrt(2.0 / n_in),
        ),
        Initializer(
            "he-uniform",
            "W ~ U(-a, a), a = sqrt(6/n_in)",
            "He et al. 2015; torch kaiming_uniform_ (fan_in, relu)",
            lambda w, a, g: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu", generator=g),
            lambda n_in, n_out, a: math.sqrt(2.0 / n_in),
        ),
        Initializer(
            "orthogonal",
            "W = gain · Q, Q orthogonal, gain = calculate_gain(activation)",
            "Saxe et al. 2014; torch orthogonal_ (tanh 5/3, relu sqrt 2, sigmoid 1, selu 3/4)",
            _orthogonal,
            lambda n_in, n_out, a: a.gain() / math.sqrt(max(n_in, n_out)),
        ),
        Initializer(
            "orthogonal-critical",
            "W = gain · Q, Q orthogonal, gain = sigma_w where chi_1 = sigma_w² E[phi'(sqrt(q*) z)²] = 1",
            "Poole et al. 2016, Pennington et al. 2017: orthogonal at the edge of chaos, q* the length's fixed point; "
            "torch orthogonal_ (tanh 1.003, relu 1.414, leaky-relu 1.414, sigmoid 9.866, gelu 1.534, selu 0.6710)",
            _orthogonal_critical,
            lambda n_in, n_out, a: _critical_gain(a) / math.sqrt(max(n_in, n_out)),
        ),
        Initializer(
            "normal-0.01",
            "W ~ N(0, 0.01²)",
            "the book's 'std 0.01': too small, activations vanish layer by layer",
            _normal(0.01),
            lambda n_in, n_out, a: 0.01,
        ),
        Initializer(
            "normal-1",
            "W ~ N(0, 1)",
            "std 1: too large, sigmoid and tanh saturate",
            _normal(1.0),
            lambda n_in, n_out, a: 1.0,
        ),
        Initializer(
            "constant",
            f"W = {CONSTANT_WEIGHT} for every weight",
            "no randomness: every unit of a layer computes and learns the same thing (the symmetry problem)",
            lambda w, a, g: nn.init.constant_(w, CONSTANT_WEIGHT),
            lambda n_in, n_out, a: 0.0,
        ),
        Initializer(
            "lsuv",
            "W = Q / std(Q·h) per layer on one batch, Q orthonormal, until Var(W·h) = 1",
            "Mishkin & Matas 2015, layer-sequential unit-variance; torch orthogonal_, then rescaled on data",
            _orthonormal,
            lambda n_in, n_out, a: None,
        ),
    )
}
assert tuple(INITIALIZERS) == INITIALIZER_NAMES


# the user's initialisers, loaded from --init-file by inittui.science.user_init in the process that trains
USER_INITIALIZERS: dict[str, Initializer] = {}


def get_initializer(name: str) -> Initializer:
    return INITIALIZERS[name] if name in INITIALIZERS else USER_INITIALIZERS[name]


def is_user_initializer(name: str) -> bool:
    """True for an initialiser from the user's file: its theory comes from the drawn variance."""
    return name in USER_INITIALIZERS


def needs_data(name: str) -> bool:
    return name == "lsuv"


@torch.no_grad()
def lsuv_rescale_(
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    activation: Activation,
    batch: torch.Tensor,
    tolerance: float = 0.01,
    max_iterations: int = 10,
) -> None:
    """LSUV's second step: scale each layer in turn until its output has unit variance on ``batch``.

    ``weights[l]`` is ``[n_out, n_in]``; the last layer is the linear output layer.
    """
    hidden = batch
    last = len(weights) - 1
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        for _ in range(max_iterations):
            output = hidden @ weight.T + bias
            variance = output.var()
            if not torch.isfinite(variance) or variance <= 0 or abs(variance.item() - 1.0) < tolerance:
                break
            weight.div_(variance.sqrt())
        output = hidden @ weight.T + bias
        hidden = output if index == last else activation.function(output)
