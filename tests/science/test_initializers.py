"""Every initialiser draws what the README says it draws, and LSUV gives unit variance on its batch.

The oracle is the README's own table of formulas, parsed here, not the code's ``weight_std``: a wrong
constant or fan mode in the code, or a formula the README misstates, fails these tests.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from support.paths import README as README_FILE
from inittui.science.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, get_activation
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES, RunSpec
from inittui.science.initializers import INITIALIZERS, get_initializer, lsuv_rescale_, needs_data
from inittui.science.theory import critical_gain, depth_scale
from inittui.training.model import initial_weights

README = README_FILE.read_text()
# [n_out, n_in]: wide and tall, so that fan-in and fan-out differ both ways; 100,000 weights each
SHAPES = [(200, 500), (500, 200)]


def _readme_formulas() -> dict[str, tuple[str, str]]:
    """name -> (formula, source) from the README's table of initialisers."""
    section = README.split("## Initialisers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9.\-]+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: (formula, source) for name, formula, source in rows}


FORMULAS = _readme_formulas()


def _evaluate(expression: str, n_in: int, n_out: int) -> float:
    """A README formula such as ``2/(n_in+n_out)``, ``0.01²`` or ``sqrt(6/n_in)`` as a number."""
    python = expression.replace("²", "**2").replace("√", "sqrt")
    return float(eval(python, {"__builtins__": {}}, {"sqrt": math.sqrt, "n_in": n_in, "n_out": n_out}))


def readme_distribution(name: str, n_in: int, n_out: int) -> tuple[str, float]:
    """What the README promises for a layer: ("normal", std), ("uniform", bound) or ("constant", value)."""
    formula, _ = FORMULAS[name]
    if match := re.fullmatch(r"W ~ N\(0, (.+)\)", formula):
        return "normal", math.sqrt(_evaluate(match.group(1), n_in, n_out))
    if match := re.fullmatch(r"W ~ U\(-a, a\), a = (.+)", formula):
        return "uniform", _evaluate(match.group(1), n_in, n_out)
    if match := re.fullmatch(r"W = ([0-9.]+) for every weight", formula):
        return "constant", float(match.group(1))
    raise AssertionError(f"the README's formula for {name} is not one this test can read: {formula!r}")


def readme_orthogonal_gains() -> dict[str, float]:
    """The gains the README gives ``orthogonal`` per activation: its list, GELU's sentence and leaky ReLU's
    slope (torch's calculate_gain: sqrt(2 / (1 + slope²)))."""
    _, source = FORMULAS["orthogonal"]
    listed = re.search(r"\(([^()]+)\)$", source).group(1)
    gains = {}
    for item in listed.split(", "):
        name, expression = item.split(" ", 1)
        gains[name] = _evaluate(re.sub(r"sqrt (\d+)", r"sqrt(\1)", expression), 0, 0)
    assert "For GELU, which `calculate_gain` does not know, `orthogonal` uses ReLU's gain √2" in README
    gains["gelu"] = math.sqrt(2)
    slope = float(re.search(r"`leaky-relu` \(slope ([0-9.]+)\)", README).group(1))
    gains["leaky-relu"] = math.sqrt(2 / (1 + slope**2))
    return gains


def draw(name: str, activation: str, n_out: int, n_in: int, seed: int = 0) -> torch.Tensor:
    weight = torch.empty(n_out, n_in)
    get_initializer(name).fill(weight, get_activation(activation), torch.Generator().manual_seed(seed))
    return weight


def test_the_readme_has_a_formula_for_every_initialiser_and_gains_for_every_activation():
    assert set(FORMULAS) == set(INITIALIZER_NAMES)
    assert set(readme_orthogonal_gains()) == set(ACTIVATION_NAMES)
    assert LEAKY_RELU_SLOPE == 0.01  # the slope the README states


@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_each_initialiser_states_the_readmes_formula_and_source(name):
    """What the help screen and the probe print is what the README says."""
    initializer = get_initializer(name)
    assert initializer.name == name
    assert (initializer.formula, initializer.note) == FORMULAS[name]


def test_initialisers_cannot_be_changed_while_running():
    with pytest.raises(dataclasses.FrozenInstanceError):
        INITIALIZERS["he"].formula = "W ~ N(0, 1)"  # type: ignore[misc]


RANDOM_FORMULAS = ["xavier", "glorot", "glorot-uniform", "he", "he-uniform", "normal-0.01", "normal-1"]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", RANDOM_FORMULAS)
def test_a_large_layer_has_the_readme_std_mean_and_bounds(name, shape):
    n_out, n_in = shape
    for activation in ACTIVATION_NAMES:  # these formulas do not depend on the activation
        kind, parameter = readme_distribution(name, n_in, n_out)
        std = parameter if kind == "normal" else parameter / math.sqrt(3)
        weight = draw(name, activation, n_out, n_in)
        # 100,000 draws: the std is known to ~0.3 %, the mean to std / 300
        assert weight.std().item() == pytest.approx(std, rel=0.015), activation
        assert abs(weight.mean().item()) < 5 * std / math.sqrt(weight.numel()), activation
        if kind == "uniform":
            assert weight.abs().max().item() <= parameter * (1 + 1e-6)
            # the bound is reached: a narrower uniform would not come this close 100,000 times
            assert weight.max().item() > 0.999 * parameter and weight.min().item() < -0.999 * parameter
        else:
            # ~50 of 100,000 normal draws lie beyond 3.5 std; a uniform of the same std stops at 1.73 std
            assert weight.abs().max().item() > 3.5 * std
        # the std the dashboard predicts beside the measured one is the README's
        assert INITIALIZERS[name].weight_std(n_in, n_out, get_activation(activation)) == pytest.approx(std, rel=1e-9)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_constant_sets_every_weight_to_the_readme_value(activation):
    kind, value = readme_distribution("constant", 100, 30)
    assert kind == "constant"
    weight = draw("constant", activation, 30, 100)
    assert torch.equal(weight, torch.full_like(weight, value))
    assert INITIALIZERS["constant"].weight_std(100, 30, get_activation(activation)) == 0.0


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_orthogonal_is_gain_times_an_orthogonal_matrix(activation, shape):
    n_out, n_in = shape
    gain = readme_orthogonal_gains()[activation]
    weight = draw("orthogonal", activation, n_out, n_in).double()
    # rows orthogonal when there are fewer of them than columns, columns otherwise
    gram = weight @ weight.T if n_out <= n_in else weight.T @ weight
    torch.testing.assert_close(gram, gain**2 * torch.eye(min(shape), dtype=torch.float64), atol=1e-4 * gain**2, rtol=0)
    predicted = INITIALIZERS["orthogonal"].weight_std(n_in, n_out, get_activation(activation))
    assert predicted == pytest.approx(gain / math.sqrt(max(shape)), rel=1e-9)
    assert weight.std().item() == pytest.approx(predicted, rel=0.01)


def readme_critical_gains() -> dict[str, float]:
    """The gains the README lists for ``orthogonal-critical``, per activation."""
    _, source = FORMULAS["orthogonal-critical"]
    listed = re.search(r"\(([^()]+)\)$", source).group(1)
    return {name: float(value) for name, value in (item.split(" ") for item in listed.split(", "))}


def test_the_readme_lists_a_critical_gain_for_every_activation_as_theory_computes_it():
    gains = readme_critical_gains()
    assert set(gains) == set(ACTIVATION_NAMES)
    for activation, gain in gains.items():
        # printed to 4 significant figures
        assert critical_gain(activation) == pytest.approx(gain, rel=6e-4), activation


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_orthogonal_critical_is_the_critical_gain_times_an_orthogonal_matrix(activation):
    gain = critical_gain(activation)
    weight = draw("orthogonal-critical", activation, 100, 100).double()
    torch.testing.assert_close(torch.linalg.svdvals(weight), torch.full((100,), gain, dtype=torch.float64), atol=1e-5, rtol=0)
    assert INITIALIZERS["orthogonal-critical"].weight_std(100, 100, get_activation(activation)) == pytest.approx(gain / 10)
    # at that gain the activation sits at the edge of chaos: chi_1 = 1 at the length's fixed point
    assert depth_scale(activation, gain * gain).chi_1 == pytest.approx(1.0, abs=1e-4)


def test_orthogonal_draws_differ_with_the_seed_and_repeat_with_it():
    first, again, other = (draw("orthogonal", "tanh", 50, 80, seed) for seed in (1, 1, 2))
    assert torch.equal(first, again) and not torch.allclose(first, other)


@pytest.mark.parametrize("name", sorted(set(INITIALIZER_NAMES) - {"constant"}))
def test_random_initialisers_follow_the_generator(name):
    first, again, other = (draw(name, "relu", 40, 60, seed) for seed in (5, 5, 6))
    assert torch.equal(first, again) and not torch.allclose(first, other)


# ---------------------------------------------------------------------------------------------- LSUV

SIZES = [784, 100, 100, 60, 10]


def lsuv_batch(seed: int = 0, scale: float = 3.0, offset: float = 0.5) -> torch.Tensor:
    """Inputs far from unit variance, so that LSUV has to rescale even the first layer."""
    return torch.randn(256, SIZES[0], generator=torch.Generator().manual_seed(seed)) * scale + offset


def preactivation_variances(weights, biases, activation: str, batch: torch.Tensor) -> list[float]:
    """Var(W·h + b) of every layer on ``batch``, the activation after every layer but the last."""
    variances, hidden = [], batch
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        output = hidden @ weight.T + bias
        variances.append(output.var().item())
        hidden = output if index == len(weights) - 1 else ACTIVATIONS[activation].function(output)
    return variances


def test_lsuv_needs_data_and_only_lsuv_does():
    assert [name for name in INITIALIZER_NAMES if needs_data(name)] == ["lsuv"]
    # its weights' std depends on the data: nothing is predicted
    assert all(INITIALIZERS["lsuv"].weight_std(784, 100, get_activation(a)) is None for a in ACTIVATION_NAMES)
    with pytest.raises(ValueError, match="LSUV needs a data batch"):
        initial_weights(RunSpec("lsuv", "tanh"), SIZES, seed=0, lsuv_batch=None)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_lsuv_starts_orthonormal_whatever_the_activation(activation):
    # orthonormal: LSUV's own scaling replaces any gain
    weight = draw("lsuv", activation, 60, 100).double()
    torch.testing.assert_close(weight @ weight.T, torch.eye(60, dtype=torch.float64), atol=1e-5, rtol=0)


def exactly_twice_the_variance() -> torch.Tensor:
    """A batch on which the first LSUV layer's output variance is 2, to float rounding."""
    batch = lsuv_batch(offset=0.0)
    weight = draw("lsuv", "tanh", SIZES[1], SIZES[0], seed=3)
    return batch * math.sqrt(2.0 / (batch @ weight.T).var().item())


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("inputs", ["variance 9", "variance 2"])
def test_lsuv_gives_every_layer_unit_variance_on_its_batch(activation, inputs):
    batch = lsuv_batch() if inputs == "variance 9" else exactly_twice_the_variance()
    weights, biases = initial_weights(RunSpec("lsuv", activation), SIZES, seed=3, lsuv_batch=batch)
    # within lsuv_rescale_'s tolerance, 0.01: a layer already that close (SELU's fixed point) is left alone
    for variance in preactivation_variances(weights, biases, activation, batch):
        assert variance == pytest.approx(1.0, abs=0.01)
    for weight in weights:
        # rescaled, still orthogonal: W·Wᵀ is a multiple of the identity
        gram = (weight @ weight.T).double()
        torch.testing.assert_close(gram, gram[0, 0] * torch.eye(len(weight), dtype=torch.float64), atol=1e-4 * gram[0, 0].item(), rtol=0)
    assert all(torch.equal(bias, torch.zeros_like(bias)) for bias in biases)


def test_lsuv_scales_with_the_batch_it_is_given():
    """The first layer's weights scale as 1 / (input std): measured on the batch, not assumed."""
    spec = RunSpec("lsuv", "tanh")
    base, _ = initial_weights(spec, SIZES, seed=1, lsuv_batch=lsuv_batch(offset=0.0))
    doubled, _ = initial_weights(spec, SIZES, seed=1, lsuv_batch=2 * lsuv_batch(offset=0.0))
    torch.testing.assert_close(doubled[0], base[0] / 2)
    # every later layer sees the same activations, so it gets the same weights
    for got, want in zip(doubled[1:], base[1:]):
        torch.testing.assert_close(got, want)


def test_lsuv_with_biases_iterates_to_the_tolerance():
    """With a bias, one division does not land on variance 1: it goes on until within the tolerance."""
    generator = torch.Generator().manual_seed(0)
    batch = lsuv_batch()
    weights = [draw("lsuv", "tanh", n_out, n_in, seed) for seed, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]))]
    biases = [torch.randn(n_out, generator=generator) * 0.6 for n_out in SIZES[1:]]
    lsuv_rescale_(weights, biases, get_activation("tanh"), batch, tolerance=0.01)
    for variance in preactivation_variances(weights, biases, "tanh", batch):
        assert variance == pytest.approx(1.0, abs=0.01)


def test_lsuv_gives_up_after_its_iteration_limit():
    # a bias whose variance alone exceeds 1 cannot be scaled away: the limit ends the loop
    batch = lsuv_batch()
    weight = draw("lsuv", "tanh", 10, SIZES[0])
    bias = torch.linspace(-3, 3, 10)
    expected = weight.clone()
    for _ in range(3):
        expected /= (batch @ expected.T + bias).var().sqrt()
    lsuv_rescale_([weight], [bias], get_activation("tanh"), batch, max_iterations=3)
    torch.testing.assert_close(weight, expected)
    assert (batch @ weight.T + bias).var() > 1.5


def test_lsuv_rescales_parameters_in_place_without_autograd():
    layers = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    weights = [layer.weight for layer in layers]
    with torch.no_grad():
        for weight, layer in zip(weights, layers):
            weight.copy_(draw("lsuv", "relu", *weight.shape))
            layer.bias.zero_()
    batch = lsuv_batch()
    lsuv_rescale_(weights, [layer.bias for layer in layers], get_activation("relu"), batch)
    assert all(weight.grad_fn is None and weight.requires_grad for weight in weights)
    with torch.no_grad():
        variances = preactivation_variances(weights, [layer.bias for layer in layers], "relu", batch)
    assert variances == pytest.approx([1.0] * len(layers), abs=0.01)


@pytest.mark.parametrize("bad", [0.0, math.nan, math.inf])
def test_lsuv_leaves_a_layer_as_drawn_when_its_output_has_no_usable_variance(bad):
    batch = torch.full((64, SIZES[0]), bad)
    weights = [draw("lsuv", "relu", n_out, n_in) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    drawn = [w.clone() for w in weights]
    lsuv_rescale_(weights, [torch.zeros(len(w)) for w in weights], get_activation("relu"), batch)
    for got, want in zip(weights, drawn):
        assert torch.equal(got, want)
