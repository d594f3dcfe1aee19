"""What the layer statistics mean: the backpropagated gradient and the update-to-weight ratio against plain
autograd and the weights themselves, the fast std against torch's, and the depth picture of the deep preset."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inittui.science.activations import get_activation
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.training.data import load_mnist
from inittui.training.engine import Engine
from inittui.core.events import LayerStat, LayerStats, event_from_json
from inittui.training.model import initial_weights, run_seed
from inittui.core.presets import get_preset
from inittui.science.statistics import std_mean_rows

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("glorot", "sigmoid")]


def test_gradient_and_update_statistics_are_what_autograd_and_the_weights_say(tiny_data):
    config = ExperimentConfig(
        runs=list(SPECS), depth=3, width=16, batch_size=32, epochs=None, steps=1, stats_every=1, optimizer="adam", lr=0.01,
        device="cpu",
    )
    events: list = []
    engine = Engine(config, tiny_data, events.append)
    assert engine.run().status == "done"
    (stats,) = [e for e in events if isinstance(e, LayerStats)]
    batch = torch.randperm(len(tiny_data.train_labels), generator=torch.Generator().manual_seed(config.seed))[:32]
    x, y = tiny_data.train_images[batch], tiny_data.train_labels[batch]
    for run_id, spec in enumerate(SPECS):
        weights, biases = initial_weights(spec, config.layer_sizes, run_seed(config.seed, spec, 0), tiny_data.train_images[:32])
        for tensor in weights + biases:
            tensor.requires_grad_()
        # the same run alone, its activations kept for their gradients
        hidden, activations = x, []
        for number, (weight, bias) in enumerate(zip(weights, biases)):
            hidden = hidden @ weight.T + bias
            if number < len(weights) - 1:
                hidden = get_activation(spec.activation).function(hidden)
                hidden.retain_grad()
                activations.append(hidden)
        F.cross_entropy(hidden, y).backward()
        trained, _ = engine.run_weights(run_id)
        for layer, measured in enumerate(stats.layers[run_id]):
            assert measured.activation_grad_std == pytest.approx(activations[layer].grad.std().item(), rel=1e-4)
            before = weights[layer].detach()
            step = torch.linalg.vector_norm(trained[layer] - before) / torch.linalg.vector_norm(before)
            assert measured.update_ratio == pytest.approx(step.item(), rel=1e-4)
            # Adam's first step moves every weight by about lr: far from lr × gradient
            assert measured.update_ratio == pytest.approx(0.01 / before.std().item(), rel=0.1)


def test_a_run_that_does_not_train_has_no_update():
    config = ExperimentConfig(runs=[RunSpec("normal-1", "relu"), RunSpec("xavier", "tanh")], depth=3, width=64,
                              batch_size=32, epochs=None, steps=30, stats_every=1, lr=50.0, device="cpu")
    from support.data import random_mnist

    events: list = []
    engine = Engine(config, random_mnist(), events.append)
    engine.run()
    assert [r.status for r in engine.runs] == ["diverged", "done"]
    last = [e for e in events if isinstance(e, LayerStats)][-1]
    assert all(layer.update_ratio == 0.0 for layer in last.layers[0])
    assert all(layer.update_ratio > 0 for layer in last.layers[1])


def test_the_fast_std_is_torchs():
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(5, 3000, generator=generator) * torch.tensor([[1e-6], [1e-2], [1.0], [30.0], [1e3]]) + 0.5
    std, mean = std_mean_rows(values)
    want_std, want_mean = torch.std_mean(values.double(), dim=1)
    torch.testing.assert_close(std, want_std.float(), rtol=1e-5, atol=0)
    torch.testing.assert_close(mean, want_mean.float(), rtol=1e-6, atol=1e-7)


def test_logs_written_before_these_statistics_still_load():
    old = {"mean": 0.1, "std": 1.0, "dead": None, "saturated": 0.2, "preactivation_std": 1.1, "weight_std": 0.1,
           "predicted_weight_std": 0.1, "grad_norm": 0.5, "histograms": {}}
    layer = LayerStat.from_dict(old)
    assert layer.activation_grad_std is None and layer.update_ratio is None
    line = '{"type":"layers","step":0,"run_ids":[0],"layers":[[' + __import__("json").dumps(old) + "]]}"
    assert event_from_json(line).layers[0][0].update_ratio is None


@pytest.mark.mnist
def test_the_deep_preset_at_step_0_shows_he_flat_and_xavier_vanishing(mnist_dir):
    """He et al.'s picture, measured: seed 0, 30 ReLU layers of 100."""
    events: list = []
    Engine(get_preset("deep").config(steps=1, seed=0, device="cpu"), load_mnist(mnist_dir), events.append).run()
    (stats,) = [e for e in events if isinstance(e, LayerStats)]
    names = [run.name for run in get_preset("deep").config().runs]
    he, xavier = stats.layers[names.index("he:relu")], stats.layers[names.index("xavier:relu")]
    assert he[0].std == pytest.approx(0.81, abs=0.02) and he[29].std == pytest.approx(0.52, abs=0.03)
    # halved variance per layer: about 2e-5 at layer 30, where mean-field theory predicts 2.5e-5
    assert 1.5e-5 < xavier[29].std < 2.5e-5
    assert stats.predicted_std[names.index("xavier:relu")][29] == pytest.approx(2.5e-5, rel=0.05)
    # backwards the same way: He's gradient keeps its size, Xavier's shrinks towards the input
    assert he[0].activation_grad_std == pytest.approx(he[29].activation_grad_std, rel=0.5)
    assert xavier[0].activation_grad_std < 1e-3 * xavier[29].activation_grad_std


def test_histograms_binned_a_few_runs_at_a_time_count_the_same(monkeypatch):
    from inittui.science import statistics

    generator = torch.Generator().manual_seed(1)
    layers = [torch.randn(7, 300, generator=generator), torch.randn(7, 20, 5, generator=generator) * 3]
    low, high = torch.full((2, 7), -2.0), torch.stack([torch.linspace(1.0, 4.0, 7), torch.linspace(0.5, 2.0, 7)])
    whole = statistics.batched_histograms(layers, low, high, bins=12)
    monkeypatch.setattr(statistics, "HISTOGRAM_CHUNK_VALUES", 250)  # under one run's values: a run at a time
    assert torch.equal(statistics.batched_histograms(layers, low, high, bins=12), whole)
    monkeypatch.setattr(statistics, "HISTOGRAM_CHUNK_VALUES", 650)  # two or three runs at a time, a ragged end
    assert torch.equal(statistics.batched_histograms(layers, low, high, bins=12), whole)
    assert whole.sum(dim=2).tolist() == [[300, 100]] * 7


def test_every_layer_has_a_histogram_range_of_its_own(tiny_data):
    # std 0.01 shrinks the activations about tenfold a layer: in a range the first layer sets, the last would
    # be one bar; in its own it spreads over many bins
    config = ExperimentConfig(runs=[RunSpec("normal-0.01", "relu")], depth=4, width=64, batch_size=32, epochs=None,
                              steps=1, stats_every=1, device="cpu")
    events: list = []
    assert Engine(config, tiny_data, events.append).run().status == "done"
    (stats,) = [e for e in events if isinstance(e, LayerStats)]
    layers = stats.layers[0]
    for kind in ("activations", "preactivations", "gradients", "weights"):
        first, last = layers[0].histograms[kind], layers[-1].histograms[kind]
        assert first.high != last.high, kind
    activations = [layer.histograms["activations"] for layer in layers]
    assert activations[-1].high < activations[0].high / 100
    assert all(sum(count > 0 for count in histogram.counts) > 5 for histogram in activations)
