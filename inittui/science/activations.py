"""The activation functions a run can use, with what the statistics need to know about each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from inittui.core.config import ACTIVATION_NAMES


@dataclass(frozen=True)
class Activation:
    name: str
    function: Callable[[torch.Tensor], torch.Tensor]
    # the nonlinearity name torch.nn.init.calculate_gain knows, and its parameter
    gain_nonlinearity: str
    gain_param: float | None
    # fixed histogram range where the function is bounded; None means "from the data"
    value_range: tuple[float, float] | None
    # ReLU family: a unit is dead when its pre-activation is <= 0 for the whole batch
    can_die: bool
    # values within 0.01 of the function's bounds count as saturated
    saturation_bounds: tuple[float, float] | None

    def gain(self) -> float:
        return torch.nn.init.calculate_gain(self.gain_nonlinearity, self.gain_param)

    def saturated(self, values: torch.Tensor) -> torch.Tensor:
        """Boolean mask of saturated values (all False for non-saturating functions)."""
        if self.saturation_bounds is None:
            return torch.zeros_like(values, dtype=torch.bool)
        low, high = self.saturation_bounds
        return (values < low + SATURATION_MARGIN) | (values > high - SATURATION_MARGIN)


LEAKY_RELU_SLOPE = 0.01
# values within this distance of a bounded function's limits count as saturated (|tanh| > 0.99, ...)
SATURATION_MARGIN = 0.01

ACTIVATIONS: dict[str, Activation] = {
    activation.name: activation
    for activation in (
        Activation("sigmoid", torch.sigmoid, "sigmoid", None, (0.0, 1.0), False, (0.0, 1.0)),
        Activation("tanh", torch.tanh, "tanh", None, (-1.0, 1.0), False, (-1.0, 1.0)),
        Activation("relu", torch.relu, "relu", None, None, True, None),
        Activation(
            "leaky-relu",
            lambda x: F.leaky_relu(x, LEAKY_RELU_SLOPE),
            "leaky_relu",
            LEAKY_RELU_SLOPE,
            None,
            True,
            None,
        ),
        # torch has no gain for GELU; it behaves like ReLU away from 0, so ReLU's sqrt(2) is the usual choice
        Activation("gelu", F.gelu, "relu", None, None, True, None),
        Activation("selu", F.selu, "selu", None, None, False, None),
    )
}
assert tuple(ACTIVATIONS) == ACTIVATION_NAMES


def get_activation(name: str) -> Activation:
    return ACTIVATIONS[name]
