"""Experiment configuration: the names the README documents, one-line errors at every boundary, JSON round trips."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest

from support.paths import README as README_FILE
from inittui.core.config import (
    ACTIVATION_NAMES,
    INITIALIZER_NAMES,
    INPUT_SCALE_NAMES,
    OPTIMIZER_NAMES,
    SAMPLING_NAMES,
    SCHEDULE_NAMES,
    ExperimentConfig,
    RunSpec,
    parse_runs,
    parse_seeds,
)
from inittui.core.errors import ConfigError
from inittui.core.events import experiment_runs

README = README_FILE.read_text()
HE_RELU = RunSpec("he", "relu")


def test_names_are_the_readmes():
    table = README.split("## Initialisers", 1)[1].split("\n## ", 1)[0]
    assert INITIALIZER_NAMES == tuple(re.findall(r"^\| `([a-z0-9.\-]+)` \|", table, flags=re.MULTILINE))
    activations = re.search(r"^Activations: (.+?)\. ", table, flags=re.MULTILINE).group(1)
    assert ACTIVATION_NAMES == tuple(re.findall(r"`([a-z\-]+)`", activations))
    assert "| `--optimizer " + "\\|".join(OPTIMIZER_NAMES) + "` |" in README


def test_the_other_choices():
    assert SCHEDULE_NAMES == ("constant", "cosine")
    assert SAMPLING_NAMES == ("epoch", "random")
    assert INPUT_SCALE_NAMES == ("standard", "unit")


@pytest.mark.parametrize(
    "field,names",
    [
        ("optimizer", OPTIMIZER_NAMES),
        ("lr_schedule", SCHEDULE_NAMES),
        ("sampling", SAMPLING_NAMES),
        ("input_scale", INPUT_SCALE_NAMES),
    ],
)
def test_every_choice_validates(field, names):
    for name in names:
        ExperimentConfig(runs=[HE_RELU], **{field: name}).validate()


def test_every_run_spec_validates_and_names_itself():
    for init in INITIALIZER_NAMES:
        for activation in ACTIVATION_NAMES:
            spec = RunSpec.parse(f" {init}:{activation} ")
            assert (spec.init, spec.activation) == (init, activation)
            assert spec.name == f"{init}:{activation}"


@pytest.mark.parametrize(
    "text,message",
    [
        ("he", "run 'he' is not of the form INIT:ACTIVATION (e.g. he:relu)"),
        (":relu", "run ':relu' is not of the form INIT:ACTIVATION (e.g. he:relu)"),
        ("he:", "run 'he:' is not of the form INIT:ACTIVATION (e.g. he:relu)"),
        ("magic:relu", "unknown initialiser 'magic'; choose from " + ", ".join(INITIALIZER_NAMES)),
        ("he:swish", "unknown activation 'swish'; choose from " + ", ".join(ACTIVATION_NAMES)),
        ("he:relu:tanh", "unknown activation 'relu:tanh'"),
    ],
)
def test_a_bad_run_is_a_one_line_config_error(text, message):
    with pytest.raises(ConfigError) as error:
        RunSpec.parse(text)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert isinstance(error.value, ValueError)


def test_a_run_spec_is_a_value():
    assert RunSpec("he", "relu") == HE_RELU and len({RunSpec("he", "relu"), HE_RELU}) == 1
    with pytest.raises(AttributeError):
        HE_RELU.init = "xavier"  # type: ignore[misc]


def test_parse_runs():
    assert parse_runs("he:relu, xavier:tanh,") == [HE_RELU, RunSpec("xavier", "tanh")]
    assert parse_runs("he:relu") == [HE_RELU]
    for empty in ("", " , ,"):
        with pytest.raises(ConfigError, match="^--runs names no run$"):
            parse_runs(empty)


def test_defaults_are_the_compare_presets_network():
    config = ExperimentConfig(runs=[HE_RELU])
    # the README's defaults: 5×100, SGD 0.01, batch 128, 10 epochs, seed 0, device auto, adaptive statistics
    assert (config.depth, config.width, config.optimizer, config.lr, config.batch_size) == (5, 100, "sgd", 0.01, 128)
    assert (config.epochs, config.steps, config.seed, config.device, config.stats_every) == (10, None, 0, "auto", None)
    assert (config.lr_schedule, config.sampling, config.input_scale) == ("constant", "epoch", "standard")
    assert (config.histogram_bins, config.preset) == (40, "custom")
    config.validate()


def test_layer_sizes_are_mnists_input_the_hidden_layers_and_ten_classes():
    assert ExperimentConfig(runs=[HE_RELU]).layer_sizes == [784, 100, 100, 100, 100, 100, 10]
    assert ExperimentConfig(runs=[HE_RELU], depth=1, width=7).layer_sizes == [784, 7, 10]


def test_steps_per_epoch_and_total_steps():
    config = ExperimentConfig(runs=[HE_RELU], batch_size=128, epochs=3)
    assert config.steps_per_epoch() == 469  # 60,000 / 128, the last batch partial
    assert config.steps_per_epoch(512) == 4 and config.steps_per_epoch(513) == 5
    assert ExperimentConfig(runs=[HE_RELU], batch_size=100).steps_per_epoch() == 600  # exactly 60,000 examples
    assert config.total_steps() == 3 * 469 and config.total_steps(512) == 12
    assert ExperimentConfig(runs=[HE_RELU], epochs=None, steps=7).total_steps() == 7
    # steps win over epochs; with neither, one epoch
    assert ExperimentConfig(runs=[HE_RELU], epochs=3, steps=7).total_steps(512) == 7
    assert ExperimentConfig(runs=[HE_RELU], epochs=None, steps=None).total_steps(512) == 4


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"runs": []}, "an experiment needs at least one run"),
        ({"runs": [RunSpec("he", "swish")]}, "unknown activation 'swish'"),
        ({"depth": 0}, "--depth must be at least 1, got 0"),
        ({"width": 0}, "--width must be at least 1, got 0"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'; choose from sgd, momentum, adam"),
        ({"lr": 0.0}, "--lr must be greater than 0, got 0.0"),
        ({"lr": -0.1}, "--lr must be greater than 0, got -0.1"),
        ({"lr": float("nan")}, "--lr must be a finite number, got nan"),
        ({"lr": float("inf")}, "--lr must be a finite number, got inf"),
        ({"device": "cpu:1"}, "unknown device 'cpu:1'; use auto, cpu, cuda or cuda:N"),
        ({"device": "cuda:x"}, "unknown device 'cuda:x'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"seed": -1}, "--seed must be between 0 and 9223372036854775807, got -1"),
        ({"seed": 10**23}, "--seed must be between 0 and 9223372036854775807, got 100000000000000000000000"),
        ({"lr_schedule": "step"}, "unknown schedule 'step'; choose from constant, cosine"),
        ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
        ({"sampling": "sorted"}, "unknown sampling 'sorted'; choose from epoch, random"),
        ({"input_scale": "raw"}, "unknown input scale 'raw'; choose from standard, unit"),
        ({"epochs": 0}, "--epochs must be at least 1, got 0"),
        ({"steps": 0}, "--steps must be at least 1, got 0"),
        ({"stats_every": 0}, "--stats-every must be at least 1, got 0"),
        ({"histogram_bins": 1}, "histogram bins must be at least 2, got 1"),
    ],
)
def test_each_bad_value_is_a_one_line_config_error(overrides, message):
    with pytest.raises(ConfigError) as error:
        ExperimentConfig(**{"runs": [HE_RELU], **overrides}).validate()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"depth": 1},
        {"width": 1},
        {"lr": 1e-9},
        {"batch_size": 1},
        {"epochs": 1},
        {"epochs": None, "steps": 1},
        {"stats_every": 1},
        {"histogram_bins": 2},
        {"device": "cuda:7"},
        {"seed": 0},
        {"seed": 2**63 - 1},
        {"device": "cuda"},
        {"device": "cpu"},
    ],
)
def test_the_smallest_good_values_validate(overrides):
    ExperimentConfig(**{"runs": [HE_RELU], **overrides}).validate()


def test_with_runs_replaces_the_runs_and_nothing_else():
    original = ExperimentConfig(runs=[HE_RELU], depth=3, preset="book")
    runs = [RunSpec("xavier", "tanh")]
    changed = original.with_runs(runs)
    assert changed.runs == runs and changed.runs is not runs
    assert original.runs == [HE_RELU]
    assert (changed.depth, changed.preset) == (3, "book")


def test_to_dict_is_json_with_runs_by_name():
    config = ExperimentConfig(runs=[HE_RELU, RunSpec("xavier", "tanh")], optimizer="adam", steps=5, epochs=None)
    data = config.to_dict()
    assert data["runs"] == ["he:relu", "xavier:tanh"]
    assert set(data) == {f.name for f in fields(ExperimentConfig)}
    assert data["optimizer"] == "adam" and data["steps"] == 5 and data["epochs"] is None
    assert ExperimentConfig.from_dict(json.loads(json.dumps(data))) == config


def test_from_dict_ignores_unknown_keys_and_defaults_missing_ones():
    config = ExperimentConfig.from_dict({"runs": ["he:relu"], "depth": 2, "colour": "blue"})
    assert config == ExperimentConfig(runs=[HE_RELU], depth=2)
    assert ExperimentConfig.from_dict({}).runs == []
    with pytest.raises(ConfigError, match="unknown initialiser"):
        ExperimentConfig.from_dict({"runs": ["magic:relu"]})



@pytest.mark.parametrize(
    "text, seeds",
    [("3", [3]), ("0,1,2", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("7, 0-1", [7, 0, 1]), ("5-5", [5])],
)
def test_seeds_are_a_list_a_range_or_one_seed(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "1,,2", "2-1", "1-", "-3", "0,0", "0-2,1", "1.5"])
def test_bad_seeds_are_refused(text):
    with pytest.raises(ConfigError):
        parse_seeds(text)


def test_an_experiment_without_seeds_has_its_one_seed_and_logs_before_seed_groups_read_so():
    config = ExperimentConfig(runs=[RunSpec("he", "relu")], seed=4)
    assert config.run_seeds == [4]
    old = config.to_dict()
    del old["seeds"]
    assert ExperimentConfig.from_dict(old).run_seeds == [4]
    grouped = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], seeds=[0, 1])
    assert ExperimentConfig.from_dict(grouped.to_dict()).run_seeds == [0, 1]
    assert [(r.spec.name, r.seed) for r in experiment_runs(grouped)] == [
        ("he:relu", 0), ("he:relu", 1), ("xavier:tanh", 0), ("xavier:tanh", 1)]
