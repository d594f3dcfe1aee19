"""The memory estimate that refuses an experiment before anything is allocated."""

from __future__ import annotations

import pytest

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.errors import ConfigError
from inittui.core.memory import (
    DATASET_BYTES,
    check_fits,
    estimate_memory_bytes,
    format_bytes,
    parameter_count,
    physical_memory_bytes,
)

HE_RELU = RunSpec("he", "relu")


def test_parameters_are_every_layers_weights_and_biases():
    config = ExperimentConfig(runs=[HE_RELU], depth=2, width=3)
    assert parameter_count(config) == (784 * 3 + 3) + (3 * 3 + 3) + (3 * 10 + 10)


def test_the_estimate_counts_runs_optimizer_state_and_a_batchs_activations():
    config = ExperimentConfig(runs=[HE_RELU], depth=1, width=100, batch_size=1)
    parameters = parameter_count(config) * 4
    activations = (100 + 10) * 4 * 4
    assert estimate_memory_bytes(config) == 2 * parameters + activations + DATASET_BYTES
    adam = ExperimentConfig(runs=[HE_RELU] * 3, depth=1, width=100, batch_size=1, optimizer="adam")
    assert estimate_memory_bytes(adam) == 3 * (4 * parameters + activations) + DATASET_BYTES
    wide_batch = ExperimentConfig(runs=[HE_RELU], depth=1, width=100, batch_size=1000)
    assert estimate_memory_bytes(wide_batch) - estimate_memory_bytes(config) == 999 * activations


def test_an_experiment_too_big_is_refused_in_one_line_with_both_numbers():
    config = ExperimentConfig(runs=[HE_RELU] * 4, width=100_000_000)
    with pytest.raises(ConfigError) as error:
        check_fits(config, 8 * 10**9, "this machine")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"this experiment needs at least {format_bytes(estimate_memory_bytes(config))} ")
    assert message.endswith("but only 8 GB is available on this machine")


def test_what_fits_and_an_unknown_amount_pass():
    config = ExperimentConfig(runs=[HE_RELU])
    check_fits(config, estimate_memory_bytes(config), "this machine")
    check_fits(ExperimentConfig(runs=[HE_RELU], width=100_000_000), None, "this machine")


def test_the_machines_memory_is_known_here():
    assert physical_memory_bytes() > 10**8


@pytest.mark.parametrize("count,text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (2.5e9, "2.5 GB"),
                                        (3e18, "3,000 PB")])
def test_bytes_are_written_in_decimal_units(count, text):
    assert format_bytes(count) == text
