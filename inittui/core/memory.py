"""How much memory an experiment needs, estimated from its configuration before anything is allocated
(standard library only, so the command line can refuse an experiment that cannot fit without loading torch)."""

from __future__ import annotations

import os

from inittui.core.config import MNIST_INPUTS, ExperimentConfig
from inittui.core.errors import ConfigError

FLOAT_BYTES = 4
# tensors of every parameter's size besides the weights: the gradient, then the optimiser's moments
OPTIMIZER_MOMENTS = {"sgd": 0, "momentum": 1, "adam": 2}
# per unit and sample of a step: the pre-activation and the activation kept for backward, and their gradients
ACTIVATION_TENSORS = 4
# MNIST's training and test images as float32 on the training device
DATASET_BYTES = 70_000 * MNIST_INPUTS * FLOAT_BYTES


def parameter_count(config: ExperimentConfig) -> int:
    """Weights and biases of one run's network."""
    sizes = config.layer_sizes
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def estimate_memory_bytes(config: ExperimentConfig) -> int:
    """A lower bound on what training ``config`` holds at once: every run's parameters, gradients and optimiser
    state, a batch's activations for every run, and the dataset."""
    runs = len(config.runs)
    per_parameter = 2 + OPTIMIZER_MOMENTS[config.optimizer]
    parameters = runs * parameter_count(config) * per_parameter * FLOAT_BYTES
    units = sum(config.layer_sizes[1:])
    activations = runs * config.batch_size * units * ACTIVATION_TENSORS * FLOAT_BYTES
    return parameters + activations + DATASET_BYTES


def physical_memory_bytes() -> int | None:
    """This machine's RAM, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(count: float) -> str:
    """``1.5 GB``: decimal units, three significant digits."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    index = 0
    while count >= 1000 and index < len(units) - 1:
        count /= 1000
        index += 1
    return f"{count:.3g} {units[index]}" if count < 1000 else f"{count:,.0f} {units[index]}"


def check_fits(config: ExperimentConfig, available_bytes: int | None, where: str) -> None:
    """Raise a one-line ConfigError when the estimate exceeds ``available_bytes`` (``where``: ``this machine``
    or a CUDA device's name); an unknown amount of memory refuses nothing. ``config`` must be valid."""
    needed = estimate_memory_bytes(config)
    if available_bytes is not None and needed > available_bytes:
        raise ConfigError(
            f"this experiment needs at least {format_bytes(needed)} of memory ({len(config.runs)} × "
            f"{parameter_count(config):,} parameters with their gradients and {config.optimizer} state, and the "
            f"activations of a batch of {config.batch_size:,}), but only {format_bytes(available_bytes)} is "
            f"available on {where}"
        )
