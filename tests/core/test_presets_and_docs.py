"""Presets are plain data matching their stated definitions, and the README states every formula the code uses."""

from __future__ import annotations


import pytest

from support.paths import README as README_FILE
from inittui.core.errors import ConfigError
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.science.initializers import INITIALIZERS
from inittui.core.presets import PRESETS, get_preset

README = README_FILE.read_text()


def test_compare_is_the_default_experiment():
    config = get_preset("compare").config()
    assert [s.name for s in config.runs] == [
        "normal-0.01:tanh", "xavier:tanh", "he:tanh", "normal-0.01:relu", "xavier:relu", "he:relu",
    ]
    assert (config.depth, config.width, config.optimizer, config.lr, config.batch_size, config.epochs) == (
        5, 100, "sgd", 0.01, 128, 10,
    )
    assert config.total_steps() == 10 * 469


def test_book_preset_is_the_books_experiment():
    config = get_preset("book").config()
    assert config.layer_sizes == [784, 100, 100, 100, 100, 10]
    assert (config.optimizer, config.lr, config.batch_size, config.sampling, config.total_steps()) == (
        "sgd", 0.01, 128, "random", 2000,
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_and_says_what_it_shows(name):
    preset = PRESETS[name]
    preset.config().validate()
    assert preset.expected and preset.title


def test_epochs_and_steps_override_each_other():
    assert get_preset("book").config(epochs=2).total_steps() == 2 * 469
    assert get_preset("compare").config(steps=7).total_steps() == 7


def test_a_preset_chosen_with_p_keeps_the_device_seed_and_seeds_unless_it_has_seeds_of_its_own():
    from dataclasses import replace

    current = get_preset("compare").config(device="cpu", seed=7, seeds=[0, 1, 2], width=16)
    chosen = get_preset("book").config_replacing(current)
    assert (chosen.preset, chosen.device, chosen.seed, chosen.seeds, chosen.width) == ("book", "cpu", 7, [0, 1, 2], 100)
    assert get_preset("book").config_replacing(get_preset("compare").config(seed=3)).run_seeds == [3]
    own = replace(get_preset("book"), base=replace(get_preset("book").base, seeds=[4, 5]))
    assert own.config_replacing(current).seeds == [4, 5]


def test_unknown_preset_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("nope")
    with pytest.raises(ConfigError, match="--lr must be greater than 0"):
        ExperimentConfig(runs=[RunSpec("he", "relu")], lr=-1).validate()


def test_config_round_trips_through_json_dict():
    config = get_preset("seed").config(seed=3)
    assert ExperimentConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_readme_states_every_initialisers_formula(name):
    initializer = INITIALIZERS[name]
    assert f"| `{name}` | {initializer.formula} |" in README
