"""The input–output Jacobian of each run's hidden stack, and the correlation of inputs through its layers.

For hidden layers 1…L with pre-activations z_l = W_l h_(l-1) + b_l and h_l = phi(z_l), the hidden stack maps
h_1 to h_L; its Jacobian at one input is

    J = D_L W_L · … · D_2 W_2,    D_l = diag(phi'(z_l)),

a width × width matrix (the first layer, 784 → width, is not square and is left out). J_l, the product up to
layer l, is the Jacobian from h_1 to h_l (J_1 = I). Dynamical isometry (Pennington, Schoenholz & Ganguli 2017)
is J's singular values all near 1; their spread, s_max / median, is what grows with depth when it fails.

The spectrum is pooled over the images: the singular values of every image's J together, since what matters is
how the Jacobian treats the inputs the network sees, not one input (Pennington et al. average the spectral
density over inputs too). Computed for every run at once: one batched matmul a layer for all runs and images,
then one batched ``svdvals`` a layer (measured faster than ``torch.func.jacrev``: benchmarks/bench_spectrum.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence

import torch

from inittui.core.events import SPECTRUM_BIN_DECADES, SPECTRUM_BINS, SPECTRUM_LOG10_LOW, RunSpectrum
from inittui.science.activations import Activation
from inittui.science.statistics import finite_or_none


def activation_slopes(preactivations: torch.Tensor, per_run: Sequence[Activation]) -> torch.Tensor:
    """phi'(z) for ``preactivations [runs, ...]``, each run with its own activation, by autograd."""
    with torch.enable_grad():
        z = preactivations.detach().requires_grad_()
        values = torch.cat([activation.function(z[run : run + 1]) for run, activation in enumerate(per_run)])
        (slopes,) = torch.autograd.grad(values.sum(), z)
    return slopes


def jacobian_prefixes(preactivations: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                      per_run: Sequence[Activation]) -> Iterator[torch.Tensor]:
    """J_2 … J_L, each ``[runs, images, width, width]``, for ``preactivations[l]`` ``[runs, images, width]`` of
    hidden layers 1…L and ``weights`` the ``[runs, width, width]`` of layers 2…L; one at a time, so that a deep
    stack holds one product in memory, not all of them."""
    # kept as [runs, width out, images, width in], so that W_l times every image's J is one bmm a run
    jacobian: torch.Tensor | None = None
    for z, weight in zip(preactivations[1:], weights):
        runs, images, width = z.shape
        slopes = activation_slopes(z, per_run).transpose(1, 2).unsqueeze(-1)  # D_l, [runs, width, images, 1]
        if jacobian is None:
            step = weight.unsqueeze(2).expand(runs, width, images, weight.shape[2])
        else:
            step = (weight @ jacobian.reshape(runs, jacobian.shape[1], -1)).view(runs, width, images, -1)
        jacobian = slopes * step
        yield jacobian.transpose(1, 2)


def mean_correlation(preactivations: torch.Tensor) -> torch.Tensor:
    """``[runs]``: the mean cosine similarity of every pair of different images in ``[runs, images, width]``."""
    unit = preactivations / torch.linalg.vector_norm(preactivations, dim=2, keepdim=True).clamp(min=1e-30)
    gram = unit @ unit.transpose(1, 2)
    images = preactivations.shape[1]
    off_diagonal = gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)
    return off_diagonal / (images * (images - 1))


def log10_histograms(singular_values: torch.Tensor) -> torch.Tensor:
    """``[runs, SPECTRUM_BINS]`` counts of ``singular_values [runs, values]`` over the fixed bins of log10 s
    (see inittui.core.events); values beyond the bins land in the end ones, a zero in the first."""
    logs = torch.log10(singular_values.double().clamp(min=1e-300))
    bins = torch.floor((logs - SPECTRUM_LOG10_LOW) / SPECTRUM_BIN_DECADES).clamp(0, SPECTRUM_BINS - 1).long()
    counts = torch.zeros(bins.shape[0], SPECTRUM_BINS, dtype=torch.long, device=bins.device)
    return counts.scatter_add_(1, bins, torch.ones_like(bins))


@torch.no_grad()
def jacobian_spectra(preactivations: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                     per_run: Sequence[Activation]) -> list[RunSpectrum]:
    """Every run's spectrum and correlations (see the module's docstring), in the order of the runs' dimension;
    arguments as :func:`jacobian_prefixes`. Not-finite numbers (a diverged run) become None."""
    runs = preactivations[0].shape[0]
    # s_max / median per layer [layers, runs]; J_1 = I has ratio 1
    ratios = [torch.ones(runs, device=preactivations[0].device)]
    pooled = torch.ones(runs, 1, device=preactivations[0].device)
    for jacobian in jacobian_prefixes(preactivations, weights, per_run):
        # a diverged run's NaNs would make the SVD raise: its values are NaN instead (None in the event)
        finite = torch.isfinite(jacobian).flatten(1).all(dim=1)
        pooled = torch.linalg.svdvals(torch.where(finite.view(-1, 1, 1, 1), jacobian, 0.0)).reshape(runs, -1)
        pooled = torch.where(finite.unsqueeze(1), pooled, torch.nan)
        ratios.append(pooled.amax(dim=1) / pooled.median(dim=1).values)
    correlations = torch.stack([mean_correlation(z) for z in preactivations], dim=1)
    s_max, s_median = pooled.amax(dim=1), pooled.median(dim=1).values
    ratio_rows = torch.stack(ratios, dim=1).cpu().tolist()
    numbers = torch.stack([s_max, s_median], dim=1).cpu().tolist()
    finite_runs = torch.isfinite(pooled).all(dim=1).cpu().tolist()
    histograms = log10_histograms(torch.nan_to_num(pooled)).cpu().tolist()
    return [
        RunSpectrum(finite_or_none(top), finite_or_none(middle), [finite_or_none(v) for v in ratio_row],
                    [finite_or_none(v) for v in correlation_row],
                    log10_histogram=histogram if finite else [])
        for (top, middle), ratio_row, correlation_row, histogram, finite
        in zip(numbers, ratio_rows, correlations.cpu().tolist(), histograms, finite_runs)
    ]


# below this distance from c*, at width 100, a measured correlation is finite-width noise, not an approach
DEPTH_FIT_FLOOR = 0.01
DEPTH_FIT_MIN_LAYERS = 3


def fitted_depth_scale(correlation: Sequence[float | None], c_star: float) -> float | None:
    """The measured depth scale: xi of |c_l - c*| ∝ exp(-l / xi) (Poole et al. 2016), by least squares of
    ln |c_l - c*| against the layer l (``correlation[0]`` is layer 1) over the layers at least DEPTH_FIT_FLOOR from c*;
    None where fewer than DEPTH_FIT_MIN_LAYERS are, inf where the distance does not shrink."""
    points = [(layer, math.log(abs(c - c_star))) for layer, c in enumerate(correlation, start=1)
              if c is not None and abs(c - c_star) >= DEPTH_FIT_FLOOR]
    if len(points) < DEPTH_FIT_MIN_LAYERS:
        return None
    mean_layer = statistics.fmean(layer for layer, _ in points)
    mean_log = statistics.fmean(log for _, log in points)
    slope = (sum((layer - mean_layer) * (log - mean_log) for layer, log in points)
             / sum((layer - mean_layer) ** 2 for layer, _ in points))
    return -1.0 / slope if slope < 0 else math.inf
