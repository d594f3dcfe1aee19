"""Per-run, per-layer statistics computed on the training device in a few batched operations.

Everything is reduced to small tensors on the device first and copied to the host once, so a statistics
tick costs two device-to-host transfers whatever the number of runs and layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from inittui.science.activations import SATURATION_MARGIN, Activation
from inittui.core.events import HISTOGRAM_KINDS, Histogram, LayerStat

# histograms bin at most about this many values at once (bounding their temporaries' memory)
HISTOGRAM_CHUNK_VALUES = 2**20
# the scalar statistics, in the order they are stacked
_SCALARS = (
    "mean",
    "std",
    "dead",
    "saturated",
    "preactivation_std",
    "weight_std",
    "grad_norm",
    "activation_grad_std",
    "update_ratio",
)


def batched_histograms(
    values: Sequence[torch.Tensor], low: torch.Tensor, high: torch.Tensor, bins: int
) -> torch.Tensor:
    """Counts ``[runs, layers, bins]`` for ``values[l]`` shaped ``[runs, ...]``, over ``low[l, r]``…``high[l, r]``:
    one range per layer of each run.

    One ``bincount`` per layer over offset bin indices replaces runs × layers separate ``histc`` calls.
    """
    runs = values[0].shape[0]
    layers = len(values)
    scale = bins / (high - low).clamp(min=torch.finfo(low.dtype).tiny)
    counts = torch.zeros(runs * layers * bins, dtype=torch.long, device=values[0].device)
    for layer, tensor in enumerate(values):
        rows = tensor.reshape(runs, -1)
        # a few runs at a time: the first layer's weights are runs × 78,400 values, and the bin indices 8 bytes each
        step = max(1, HISTOGRAM_CHUNK_VALUES // rows.shape[1])
        for first in range(0, runs, step):
            part = slice(first, first + step)
            # in place on one temporary
            scaled = rows[part] - low[layer, part].unsqueeze(1)
            scaled.mul_(scale[layer, part].unsqueeze(1)).nan_to_num_(0.0)
            # values outside the range land in the end bins; truncation is floor once clamped at 0
            bin_index = scaled.clamp_(0, bins - 1).long()
            offsets = (torch.arange(first, first + len(scaled), device=tensor.device) * layers + layer) * bins
            counts += torch.bincount(bin_index.add_(offsets.unsqueeze(1)).reshape(-1), minlength=len(counts))
    return counts.view(runs, layers, bins)


def std_mean_rows(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample std and mean of each row of ``values [runs, n]``, as torch.std_mean computes them.

    Two passes (the mean, then the norm of the deviations) are exact enough and an order of magnitude faster
    on the CPU than torch's one-pass kernel on these shapes.
    """
    mean = values.mean(dim=1)
    deviations = torch.linalg.vector_norm(values - mean.unsqueeze(1), dim=1)
    return deviations / math.sqrt(max(values.shape[1] - 1, 1)), mean


def _symmetric_range(values: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """-m…m per layer and run (``[layers, runs]``), m the largest |value| of that layer: each layer's own
    range, so that a deep layer's narrow distribution is not one bar of a range its first layer sets."""
    runs = values[0].shape[0]
    # the largest |value|: two reductions, no |values| temporary
    largest = torch.stack(
        [torch.maximum(t.reshape(runs, -1).amax(dim=1), -t.reshape(runs, -1).amin(dim=1)) for t in values]
    )
    largest = torch.nan_to_num(largest, nan=1.0, posinf=1.0).clamp(min=1e-12)
    return -largest, largest


def _activation_range(values: Sequence[torch.Tensor], per_run: Sequence[Activation]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each layer's min…max (``[layers, runs]``); a bounded activation's own range instead, where it saturates."""
    runs = values[0].shape[0]
    low = torch.stack([t.reshape(runs, -1).amin(dim=1) for t in values])
    high = torch.stack([t.reshape(runs, -1).amax(dim=1) for t in values])
    fixed_low = torch.tensor([a.value_range[0] if a.value_range else 0.0 for a in per_run], device=low.device)
    fixed_high = torch.tensor([a.value_range[1] if a.value_range else 0.0 for a in per_run], device=low.device)
    is_fixed = torch.tensor([a.value_range is not None for a in per_run], device=low.device)
    low = torch.where(is_fixed, fixed_low, torch.nan_to_num(low, nan=0.0, neginf=-1.0))
    high = torch.where(is_fixed, fixed_high, torch.nan_to_num(high, nan=1.0, posinf=1.0))
    # all values equal: give the one bar some width, relative to the value (1e-12 vanishes next to 0.5 in float32)
    return low, torch.maximum(high, low + (low.abs() * 1e-3).clamp(min=1e-12))


@torch.no_grad()
def layer_statistics(
    preactivations: Sequence[torch.Tensor],
    activations: Sequence[torch.Tensor],
    activation_grads: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    gradients: Sequence[torch.Tensor],
    weights_after: Sequence[torch.Tensor],
    per_run: Sequence[Activation],
    predicted_weight_std: Sequence[Sequence[float | None]],
    bins: int,
) -> list[list[LayerStat]]:
    """Statistics of every hidden layer of every run: ``result[run][layer]``.

    ``preactivations``/``activations`` are ``[runs, batch, width]`` per hidden layer and ``activation_grads``
    the loss's gradient with respect to those activations; ``weights``/``gradients`` the matching
    ``[runs, n_out, n_in]`` weights the forward pass used and their gradients, ``weights_after`` the same
    weights after the optimiser's update.
    """
    runs = activations[0].shape[0]
    device = activations[0].device
    can_die = torch.tensor([a.can_die for a in per_run], device=device)
    can_saturate = torch.tensor([a.saturation_bounds is not None for a in per_run], device=device)
    # values below ``near_low`` or above ``near_high`` are saturated; ±inf where the function cannot saturate
    near_low = torch.tensor(
        [a.saturation_bounds[0] + SATURATION_MARGIN if a.saturation_bounds else -torch.inf for a in per_run],
        device=device,
    ).view(-1, 1, 1)
    near_high = torch.tensor(
        [a.saturation_bounds[1] - SATURATION_MARGIN if a.saturation_bounds else torch.inf for a in per_run],
        device=device,
    ).view(-1, 1, 1)

    scalars = []
    layers = zip(preactivations, activations, activation_grads, weights, gradients, weights_after)
    for z, h, h_grad, weight, grad, weight_after in layers:
        std, mean = std_mean_rows(h.reshape(runs, -1))
        weight_norm = torch.linalg.vector_norm(weight.reshape(runs, -1), dim=1)
        update_norm = torch.linalg.vector_norm((weight_after - weight).reshape(runs, -1), dim=1)
        # a unit is dead when it is off for every sample of the batch
        dead = (z.amax(dim=1) <= 0).sum(dim=1) / z.shape[2]
        saturated = ((h < near_low) | (h > near_high)).sum(dim=(1, 2)) / (h.shape[1] * h.shape[2])
        scalars.append(
            torch.stack(
                [
                    mean,
                    std,
                    torch.where(can_die, dead, torch.nan),
                    torch.where(can_saturate, saturated, torch.nan),
                    std_mean_rows(z.reshape(runs, -1))[0],
                    std_mean_rows(weight.reshape(runs, -1))[0],
                    torch.linalg.vector_norm(grad.reshape(runs, -1), dim=1),
                    std_mean_rows(h_grad.reshape(runs, -1))[0],
                    update_norm / weight_norm,
                ],
                dim=1,
            )
        )
    scalar_table = torch.stack(scalars, dim=1)  # [runs, layers, scalars]

    ranges = {
        "activations": _activation_range(activations, per_run),
        "preactivations": _symmetric_range(preactivations),
        "gradients": _symmetric_range(gradients),
        "weights": _symmetric_range(weights),
    }
    sources = {"activations": activations, "preactivations": preactivations, "gradients": gradients, "weights": weights}
    counts = torch.stack([batched_histograms(sources[k], *ranges[k], bins) for k in HISTOGRAM_KINDS])
    bounds = torch.stack([torch.stack(ranges[k]) for k in HISTOGRAM_KINDS])  # [kinds, 2, layers, runs]

    scalar_rows = scalar_table.cpu().tolist()
    count_rows = counts.cpu().tolist()
    bound_rows = bounds.cpu().tolist()
    result = []
    for r in range(runs):
        layers = []
        for layer, row in enumerate(scalar_rows[r]):
            values = dict(zip(_SCALARS, (finite_or_none(v) for v in row)))
            histograms = {
                kind: Histogram(bound_rows[k][0][layer][r], bound_rows[k][1][layer][r], count_rows[k][r][layer])
                for k, kind in enumerate(HISTOGRAM_KINDS)
            }
            layers.append(
                LayerStat(
                    mean=values["mean"],
                    std=values["std"],
                    dead=values["dead"],
                    saturated=values["saturated"],
                    preactivation_std=values["preactivation_std"],
                    weight_std=values["weight_std"],
                    predicted_weight_std=predicted_weight_std[r][layer],
                    grad_norm=values["grad_norm"],
                    histograms=histograms,
                    activation_grad_std=values["activation_grad_std"],
                    update_ratio=values["update_ratio"],
                )
            )
        result.append(layers)
    return result


def finite_or_none(value: float) -> float | None:
    """``value``, or None where it is NaN or infinite (JSON holds neither)."""
    return value if value == value and abs(value) != float("inf") else None
