"""The depth sweep (:data:`inittui.core.presets.DEPTH_SWEEP`): the activation scale at initialisation against depth,
measured and predicted, for ``inittui reproduce`` to set beside trainability.

Every depth is its own experiment (one experiment has one architecture). Apart from training, the std of
the last hidden layer's activations over the first's is measured at initialisation on real training images
for several weight draws, beside the mean-field prediction (:mod:`inittui.science.theory`). Draw k is exactly the
initial weights the engine gives seed k, so the trained runs' own starting points are among the draws.

The measurement is checked where mean-field theory should hold at width 100: within 15 % of the prediction
up to the book's depth (5), within a factor 2 up to depth 10 wherever the prediction is above 1e-6. Deeper, a
finite-width network drifts away from the mean field (the log of the squared activation spreads and its
median falls; Hanin & Rolnick 2018): the gap is shown, not judged.

Core module: torch only, no textual, nothing from ``inittui.ui``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from inittui.science.activations import get_activation
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.data import MNISTData
from inittui.training.model import initial_weights, run_seed
from inittui.core.presets import Sweep
from inittui.science.theory import input_second_moment, predicted_activation_std


@dataclass(frozen=True)
class Band:
    """Where mean-field theory is held to the measurement: up to ``deepest`` layers, wherever the prediction
    is above ``smallest_prediction``, the measured median over the prediction must lie in [low, high]."""

    deepest: int
    low: float
    high: float
    smallest_prediction: float
    text: str


# the first band whose depth reaches applies
BANDS = (Band(5, 0.85, 1.15, 0.0, "±15 %"), Band(10, 0.5, 2.0, 1e-6, "×2"))


@dataclass
class StdRatio:
    """Std of the last hidden layer's activations over the first's, at initialisation."""

    predicted: float | None  # mean-field; None where it does not apply
    draws: list[float]  # measured, one per weight draw

    @property
    def median(self) -> float:
        return statistics.median(self.draws) if self.draws else math.nan

    @property
    def low(self) -> float:
        return min(self.draws, default=math.nan)

    @property
    def high(self) -> float:
        return max(self.draws, default=math.nan)

    @property
    def gap(self) -> float:
        """Measured median over the prediction."""
        if self.predicted is None or not self.predicted > 0:
            return math.nan
        return self.median / self.predicted


@torch.no_grad()
def hidden_stds(
    images: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], activation: str
) -> list[float]:
    """Std of every hidden layer's activations over all units and images (the last layer is the output: skipped)."""
    function = get_activation(activation).function
    hidden = images
    stds = []
    for weight, bias in zip(weights[:-1], biases[:-1]):
        hidden = function(hidden @ weight.T + bias)
        stds.append(hidden.std(correction=0).item())
    return stds


@torch.no_grad()
def measure_std_ratio(spec: RunSpec, config: ExperimentConfig, data: MNISTData, draws: int, samples: int) -> StdRatio:
    """The ratio for ``draws`` weight draws of ``spec`` in ``config``'s network, on its first ``samples``
    training images. Draw k is what the engine starts seed k from (LSUV scaled on the engine's batch)."""
    scaled = data.unit_scaled() if config.input_scale == "unit" else data
    images = scaled.train_images[:samples]
    lsuv_batch = scaled.train_images[: config.batch_size]
    ratios = []
    for draw in range(draws):
        weights, biases = initial_weights(spec, config.layer_sizes, run_seed(draw, spec, 0), lsuv_batch)
        stds = hidden_stds(images, weights, biases, spec.activation)
        ratios.append(stds[-1] / stds[0] if stds[0] > 0 else math.nan)
    predicted = predicted_activation_std(
        spec.init, spec.activation, config.layer_sizes[:-1], input_second_moment(scaled.train_images)
    )
    first, last = predicted[0], predicted[-1]
    ratio = last / first if first is not None and last is not None and first > 0 else None
    return StdRatio(ratio, ratios)


def measure_std_ratios(sweep: Sweep, depth: int, data: MNISTData) -> dict[str, StdRatio]:
    """Every run's ratio at one depth."""
    config = sweep.config(depth)
    return {spec.name: measure_std_ratio(spec, config, data, sweep.draws, sweep.samples) for spec in config.runs}


def band_for(depth: int, predicted: float | None) -> Band | None:
    """The band that judges a ratio at ``depth`` with this prediction; None where none does."""
    for band in BANDS:
        if depth <= band.deepest:
            return band if predicted is not None and predicted > band.smallest_prediction else None
    return None


def verdict(depth: int, ratio: StdRatio) -> str:
    """``pass`` or ``fail`` where a band applies; ``not judged`` within the bands' depths where the prediction
    is too small or absent; ``gap shown`` deeper."""
    band = band_for(depth, ratio.predicted)
    if band is not None:
        return "pass" if band.low <= ratio.gap <= band.high else "fail"  # NaN compares False: fail
    return "not judged" if depth <= BANDS[-1].deepest else "gap shown"
