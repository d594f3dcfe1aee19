"""The book's activation-distribution experiment (``inittui probe``).

Random inputs (``samples`` × ``width``, standard normal) pass through ``depth`` layers of
``width`` units with no bias, for every initialiser × activation. Per layer: mean, std,
saturated and dead fractions, each averaged over ``trials`` independent weight draws (with the
std's spread across draws), the mean-field prediction of the std, and a histogram of one draw.

Core module: torch only, no textual, nothing from ``inittui.ui``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from inittui.science.activations import ACTIVATIONS, Activation, get_activation
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.core.events import Histogram
from inittui.science.initializers import get_initializer, lsuv_rescale_, needs_data
from inittui.science.statistics import batched_histograms
from inittui.science.theory import predicted_activation_std

SPARK_LEVELS = "▁▂▃▄▅▆▇█"


@dataclass
class ProbeLayer:
    mean: float
    std: float
    # std across trials of the per-trial std
    std_spread: float
    # fraction of values in the flat tails; None for non-saturating activations
    saturated: float | None
    # fraction of units with pre-activation <= 0 for every input; None where the activation cannot die
    dead: float | None
    # mean-field prediction (inittui.science.theory), None where it does not apply
    predicted_std: float | None
    # values of trial 0
    histogram: Histogram


@dataclass
class ProbeResult:
    init: str
    activation: str
    layers: list[ProbeLayer]

    @property
    def name(self) -> str:
        return f"{self.init}:{self.activation}"


def _draw_weights(
    init: str,
    activation: str,
    inputs: torch.Tensor,
    width: int,
    depth: int,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    """Weights for every trial, stacked per layer: ``depth`` tensors of [trials, width(out), width(in)]."""
    initializer = get_initializer(init)
    act = get_activation(activation)
    trials = inputs.shape[0]
    per_trial: list[list[torch.Tensor]] = []
    for trial in range(trials):
        weights = [torch.empty(width, width) for _ in range(depth)]
        for weight in weights:
            initializer.fill(weight, act, generator)
        if needs_data(init):
            biases = [torch.zeros(width) for _ in range(depth)]
            lsuv_rescale_(weights, biases, act, inputs[trial])
        per_trial.append(weights)
    return [torch.stack([per_trial[t][layer] for t in range(trials)]) for layer in range(depth)]


def _layer_range(act: Activation, outputs: torch.Tensor) -> tuple[float, float]:
    """The histogram's range for one layer: a bounded activation's own, else the layer's finite values'."""
    low, high = act.value_range if act.value_range is not None else _data_range(outputs)
    if high <= low:  # every value the same: give the one bar some width
        span = max(abs(low) * 1e-3, 1e-12)
        low, high = low - span, high + span
    return low, high


def _data_range(outputs: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest finite value of ``outputs`` (0, 1 when there is none)."""
    low, high = (v.item() for v in torch.aminmax(outputs))
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    finite = outputs[torch.isfinite(outputs)]
    if finite.numel() == 0:
        return 0.0, 1.0
    low, high = (v.item() for v in torch.aminmax(finite))
    return low, high


def _probe_one(
    init: str,
    activation: str,
    inputs: torch.Tensor,
    width: int,
    depth: int,
    bins: int,
    generator: torch.Generator,
) -> ProbeResult:
    act = get_activation(activation)
    trials = inputs.shape[0]
    weights = _draw_weights(init, activation, inputs, width, depth, generator)
    predicted = predicted_activation_std(init, activation, [inputs.shape[2]] + [width] * depth, 1.0)

    hidden = inputs
    outputs: list[torch.Tensor] = []
    stats: list[dict[str, Any]] = []
    for layer in range(depth):
        pre = torch.bmm(hidden, weights[layer].transpose(1, 2))
        hidden = act.function(pre)
        outputs.append(hidden[0])
        flat = hidden.reshape(trials, -1)
        variances, means = torch.var_mean(flat, dim=1, correction=0)
        stds = variances.sqrt()
        entry: dict[str, Any] = {
            "mean": means.mean().item(),
            "std": stds.mean().item(),
            "std_spread": stds.std(correction=1).item() if trials > 1 else 0.0,
            "saturated": None,
            "dead": None,
        }
        if act.saturation_bounds is not None:
            entry["saturated"] = act.saturated(flat).count_nonzero().item() / flat.numel()
        if act.can_die:
            # dead: pre-activation <= 0 for every input, i.e. its maximum over the inputs is <= 0
            entry["dead"] = (pre.amax(dim=1) <= 0).count_nonzero().item() / (trials * width)
        stats.append(entry)

    ranges = [_layer_range(act, layer) for layer in outputs]  # each layer its own, as training's statistics
    # one draw's histograms, with the dashboard's binning (values outside the range land in the end bins)
    counts = batched_histograms(
        [layer.unsqueeze(0) for layer in outputs],
        torch.tensor([[low] for low, _ in ranges]), torch.tensor([[high] for _, high in ranges]), bins,
    )[0].tolist()
    layers = [
        ProbeLayer(
            mean=entry["mean"],
            std=entry["std"],
            std_spread=entry["std_spread"],
            saturated=entry["saturated"],
            dead=entry["dead"],
            predicted_std=predicted[layer],
            histogram=Histogram(float(ranges[layer][0]), float(ranges[layer][1]), counts[layer]),
        )
        for layer, entry in enumerate(stats)
    ]
    return ProbeResult(init, activation, layers)


@torch.no_grad()
def run_probe(
    inits: Sequence[str] | None = None,
    activations: Sequence[str] | None = None,
    *,
    trials: int = 10,
    seed: int = 0,
    samples: int = 1000,
    width: int = 100,
    depth: int = 5,
    bins: int = 20,
) -> list[ProbeResult]:
    """Every initialiser × activation (all of both by default), init-major order.

    Every combination sees the same inputs (one standard-normal batch per trial) and a weight
    generator seeded from ``seed`` alone, so a combination's numbers do not depend on which
    others are probed alongside it.
    """
    inits = list(INITIALIZER_NAMES if inits is None else inits)
    activations = list(ACTIVATION_NAMES if activations is None else activations)
    for name in inits:
        get_initializer(name)  # KeyError for an unknown name, before any work
    for name in activations:
        if name not in ACTIVATIONS:
            raise KeyError(name)
    if trials < 1 or samples < 1 or width < 1 or depth < 1 or bins < 1:
        raise ValueError("trials, samples, width, depth and bins must be at least 1")
    input_generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(trials, samples, width, generator=input_generator)
    results = []
    for init in inits:
        for activation in activations:
            generator = torch.Generator().manual_seed(seed + 1)
            results.append(_probe_one(init, activation, inputs, width, depth, bins, generator))
    return results


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def probe_to_json(results: list[ProbeResult]) -> dict:
    """A JSON-safe dict (non-finite numbers become None); histograms included per layer."""
    return {
        "results": [
            {
                "init": result.init,
                "activation": result.activation,
                "layers": [
                    {
                        "mean": _finite(layer.mean),
                        "std": _finite(layer.std),
                        "std_spread": _finite(layer.std_spread),
                        "predicted_std": _finite(layer.predicted_std),
                        "saturated": _finite(layer.saturated),
                        "dead": _finite(layer.dead),
                        "histogram": {
                            "low": _finite(layer.histogram.low),
                            "high": _finite(layer.histogram.high),
                            "counts": list(layer.histogram.counts),
                        },
                    }
                    for layer in result.layers
                ],
            }
            for result in results
        ]
    }


def _rebin(counts: list[int], width: int) -> list[float]:
    """Counts spread over ``width`` equal bins (proportional split of each original bin)."""
    if width <= 0 or not counts:
        return []
    if len(counts) == width:
        return [float(c) for c in counts]
    cumulative = [0.0]
    for count in counts:
        cumulative.append(cumulative[-1] + count)

    def at(position: float) -> float:  # cumulative count at a fractional bin position
        index = min(int(position), len(counts) - 1)
        return cumulative[index] + (position - index) * counts[index]

    scale = len(counts) / width
    return [at((i + 1) * scale) - at(i * scale) for i in range(width)]


def sparkline(counts: list[int], width: int = 20) -> str:
    """Unicode block sparkline of histogram counts; an empty bin is a space."""
    values = _rebin(counts, width)
    top = max(values, default=0.0)
    if top <= 0:
        return " " * len(values)
    chars = []
    for value in values:
        if value <= 0:
            chars.append(" ")
        else:
            level = min(max(math.ceil(value / top * len(SPARK_LEVELS)) - 1, 0), len(SPARK_LEVELS) - 1)
            chars.append(SPARK_LEVELS[level])
    return "".join(chars)


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_probe(results: list[ProbeResult], histogram_width: int = 20) -> str:
    """Human-readable report: per result a header ``init:activation``, one line per layer."""
    lines: list[str] = []
    for result in results:
        if lines:
            lines.append("")
        lines.append(f"{result.init}:{result.activation}")
        for index, layer in enumerate(result.layers, start=1):
            hist = layer.histogram
            lines.append(
                f"  layer {index}  mean {_number(layer.mean):>9}  "
                f"std {_number(layer.std):>9} ± {_number(layer.std_spread):<9}  "
                f"predicted {_number(layer.predicted_std):>9}  "
                f"saturated {_percent(layer.saturated):>6}  dead {_percent(layer.dead):>6}  "
                f"[{_number(hist.low)}, {_number(hist.high)}] {sparkline(hist.counts, histogram_width)}"
            )
    return "\n".join(lines)
