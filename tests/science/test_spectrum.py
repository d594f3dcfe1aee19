"""The hidden stack's Jacobian spectrum and the correlation through its layers (inittui.science.spectrum)."""

from __future__ import annotations

import math

import pytest
import torch

from inittui.science.activations import Activation, get_activation
from inittui.core.events import SPECTRUM_BINS, spectrum_bin_centre
from inittui.science.spectrum import (
    DEPTH_FIT_FLOOR,
    fitted_depth_scale,
    jacobian_spectra,
    log10_histograms,
    mean_correlation,
)

LINEAR = Activation("linear", lambda x: x, "linear", None, None, False, None)


def _forward(images: torch.Tensor, weights: list[torch.Tensor], activation: Activation) -> list[torch.Tensor]:
    """Pre-activations of hidden layers 1…L of one run, ``[1, images, width]`` each (zero biases)."""
    preactivations, h = [], images
    for weight in weights:
        z = h @ weight.T
        preactivations.append(z.unsqueeze(0))
        h = activation.function(z)
    return preactivations


def _orthogonal(n: int, generator: torch.Generator, gain: float = 1.0) -> torch.Tensor:
    weight = torch.empty(n, n, dtype=torch.float64)
    torch.nn.init.orthogonal_(weight, gain=gain, generator=generator)
    return weight


def test_a_linear_network_with_orthogonal_weights_has_every_singular_value_1():
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(20, 30, generator=generator, dtype=torch.float64)]
    weights += [_orthogonal(20, generator) for _ in range(6)]
    images = torch.randn(5, 30, generator=generator, dtype=torch.float64)
    hidden = [w.unsqueeze(0) for w in weights[1:]]
    (spectrum,) = jacobian_spectra(_forward(images, weights, LINEAR), hidden, [LINEAR])
    assert spectrum.s_max == pytest.approx(1.0, abs=1e-5)
    assert spectrum.s_median == pytest.approx(1.0, abs=1e-5)
    assert spectrum.prefix_ratio == pytest.approx([1.0] * 7, abs=1e-5)
    # and an orthogonal gain of 2 doubles every singular value per layer: 2⁶
    doubled = [weights[0]] + [2 * w for w in weights[1:]]
    (spectrum,) = jacobian_spectra(_forward(images, doubled, LINEAR), [w.unsqueeze(0) for w in doubled[1:]], [LINEAR])
    assert (spectrum.s_max, spectrum.s_median) == pytest.approx((64.0, 64.0), rel=1e-5)


def test_a_known_two_by_two_product_gives_its_singular_values():
    # one hidden-to-hidden layer, linear: J = W_2 = [[3, 0], [4, 5]], singular values sqrt(45), sqrt(5)
    # (s1² + s2² = 50 = ‖W‖_F², s1·s2 = 15 = |det W|); two images give the pair twice, median their mean
    first = torch.eye(2, dtype=torch.float64)
    second = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    (spectrum,) = jacobian_spectra(_forward(images, [first, second], LINEAR), [second.unsqueeze(0)], [LINEAR])
    assert spectrum.s_max == pytest.approx(math.sqrt(45))
    # torch's median of an even count is the lower of the middle two
    assert spectrum.s_median == pytest.approx(math.sqrt(5))
    assert spectrum.prefix_ratio == pytest.approx([1.0, 3.0])
    # the ratio is to the median, not the smallest: diag(1, 2, 4) has ratio 2
    third = torch.diag(torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64))
    pair = [torch.eye(3, dtype=torch.float64), third]
    (spectrum,) = jacobian_spectra(_forward(torch.eye(3, dtype=torch.float64), pair, LINEAR), [third.unsqueeze(0)], [LINEAR])
    assert (spectrum.s_max, spectrum.s_median, spectrum.prefix_ratio[-1]) == pytest.approx((4.0, 2.0, 2.0))


def test_a_tanh_stack_matches_jacrev_of_its_forward_pass():
    """The product of D_l W_l against torch.func's Jacobian of h_1 -> h_L, image by image."""
    generator = torch.Generator().manual_seed(3)
    tanh = get_activation("tanh")
    weights = [torch.randn(12, 16, generator=generator, dtype=torch.float64) / 4]
    weights += [torch.randn(12, 12, generator=generator, dtype=torch.float64) * 1.5 / math.sqrt(12) for _ in range(4)]
    images = torch.randn(3, 16, generator=generator, dtype=torch.float64)

    def stack(h1: torch.Tensor) -> torch.Tensor:
        h = h1
        for weight in weights[1:]:
            h = torch.tanh(h @ weight.T)
        return h

    h1 = torch.tanh(images @ weights[0].T)
    jacobians = torch.func.vmap(torch.func.jacrev(stack))(h1)
    expected = torch.linalg.svdvals(jacobians).reshape(-1)
    (spectrum,) = jacobian_spectra(_forward(images, weights, tanh), [w.unsqueeze(0) for w in weights[1:]], [tanh])
    assert spectrum.s_max == pytest.approx(float(expected.max()), rel=1e-9)
    assert spectrum.s_median == pytest.approx(float(expected.median()), rel=1e-9)


def test_runs_are_measured_each_with_its_own_activation():
    generator = torch.Generator().manual_seed(4)
    images = torch.randn(4, 10, generator=generator, dtype=torch.float64)
    per_run = [get_activation("tanh"), get_activation("relu")]
    runs = [[torch.randn(8, 10, generator=generator, dtype=torch.float64)] +
            [torch.randn(8, 8, generator=generator, dtype=torch.float64) / math.sqrt(8) for _ in range(3)] for _ in per_run]
    alone = [jacobian_spectra(_forward(images, w, a), [x.unsqueeze(0) for x in w[1:]], [a])[0] for w, a in zip(runs, per_run)]
    stacked_z = [torch.cat(layer) for layer in zip(*[_forward(images, w, a) for w, a in zip(runs, per_run)])]
    stacked_w = [torch.stack(layer) for layer in zip(*[w[1:] for w in runs])]
    together = jacobian_spectra(stacked_z, stacked_w, per_run)
    for one, other in zip(alone, together):
        assert (other.s_max, other.s_median) == pytest.approx((one.s_max, one.s_median), rel=1e-9)
        assert other.prefix_ratio == pytest.approx(one.prefix_ratio, rel=1e-9)


def test_mean_correlation_is_the_mean_over_pairs_of_different_images():
    z = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]], dtype=torch.float64)
    # cosines: (1, 2) 1/sqrt 2, (1, 3) 0, (2, 3) 1/sqrt 2
    assert float(mean_correlation(z)[0]) == pytest.approx(2 / math.sqrt(2) / 3)


def test_a_diverged_run_gives_none_and_leaves_the_others_measured():
    generator = torch.Generator().manual_seed(5)
    tanh = get_activation("tanh")
    images = torch.randn(3, 6, generator=generator)
    weights = [torch.randn(2, 4, 4, generator=generator) for _ in range(2)]
    weights[1][0, 0, 0] = math.nan  # run 0 diverged
    first = torch.randn(2, 4, 6, generator=generator)
    z1 = images @ first.transpose(1, 2)
    z2 = torch.tanh(z1) @ weights[0].transpose(1, 2)
    z3 = torch.tanh(z2) @ weights[1].transpose(1, 2)
    diverged, fine = jacobian_spectra([z1, z2, z3], weights, [tanh, tanh])
    assert diverged.s_max is None and diverged.prefix_ratio[-1] is None
    assert fine.s_max is not None and all(v is not None for v in fine.prefix_ratio)


def test_the_histogram_of_an_orthogonal_linear_network_is_one_bin_at_log10_s_0():
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(20, 30, generator=generator, dtype=torch.float64)]
    weights += [_orthogonal(20, generator) for _ in range(6)]
    images = torch.randn(5, 30, generator=generator, dtype=torch.float64)
    (spectrum,) = jacobian_spectra(_forward(images, weights, LINEAR), [w.unsqueeze(0) for w in weights[1:]], [LINEAR])
    assert len(spectrum.log10_histogram) == SPECTRUM_BINS
    (occupied,) = [index for index, count in enumerate(spectrum.log10_histogram) if count]
    assert spectrum_bin_centre(occupied) == 0.0
    assert spectrum.log10_histogram[occupied] == 5 * 20  # every image's every singular value
    # gain 2 a layer: every value 2⁶ = 64, log10 1.81, in the bin centred on 2
    doubled = [weights[0]] + [2 * w for w in weights[1:]]
    (spectrum,) = jacobian_spectra(_forward(images, doubled, LINEAR), [w.unsqueeze(0) for w in doubled[1:]], [LINEAR])
    (occupied,) = [index for index, count in enumerate(spectrum.log10_histogram) if count]
    assert spectrum_bin_centre(occupied) == 2.0


def test_the_histogram_bins_clip_at_their_ends_and_a_zero_lands_in_the_first():
    values = torch.tensor([[0.0, 1e-30, 1e-12, 1.0, 0.999, 1.01, 1e12, 1e30]])
    (counts,) = log10_histograms(values).tolist()
    assert counts[0] == 3 and counts[SPECTRUM_BINS // 2] == 3 and counts[-1] == 2 and sum(counts) == 8


def test_a_diverged_run_has_no_histogram():
    generator = torch.Generator().manual_seed(5)
    tanh = get_activation("tanh")
    images = torch.randn(3, 6, generator=generator)
    weights = [torch.randn(2, 4, 4, generator=generator) for _ in range(2)]
    weights[1][0, 0, 0] = math.nan
    first = torch.randn(2, 4, 6, generator=generator)
    z1 = images @ first.transpose(1, 2)
    z2 = torch.tanh(z1) @ weights[0].transpose(1, 2)
    z3 = torch.tanh(z2) @ weights[1].transpose(1, 2)
    diverged, fine = jacobian_spectra([z1, z2, z3], weights, [tanh, tanh])
    assert diverged.log10_histogram == [] and sum(fine.log10_histogram) == 3 * 4


def test_the_fitted_depth_scale_of_an_exponential_approach_is_its_decay_length():
    # c_l = c* + 0.5 exp(-l / 7) approaches c* = 0.2 with xi = 7; beyond 0.01 of c* the rest is noise, left out
    approach = [0.2 + 0.5 * math.exp(-layer / 7.0) for layer in range(1, 31)]
    assert fitted_depth_scale(approach, 0.2) == pytest.approx(7.0)
    noisy = [c if abs(c - 0.2) >= DEPTH_FIT_FLOOR else 0.2 + 0.003 * (-1) ** layer for layer, c in enumerate(approach)]
    assert fitted_depth_scale(noisy, 0.2) == pytest.approx(7.0)
    assert fitted_depth_scale([0.3] * 30, 1.0) == math.inf  # no approach: the edge of chaos
    assert fitted_depth_scale([0.5, 0.2, None], 0.2) is None  # too few layers away from c*
