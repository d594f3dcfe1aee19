"""A sweep file (``inittui sweep SWEEP.toml``): settings named as the command-line options are, a scalar fixing
a setting for every experiment and a list making it an axis; the experiments are the cartesian product of
the axes, in the file's order (the last axis varies fastest).

Standard library only: a sweep is read, checked and listed (``--dry-run``) without loading torch.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inittui.core.config import MAX_SEED, MNIST_INPUTS, OPTIMIZER_NAMES, TRAIN_SIZE, ExperimentConfig, parse_runs
from inittui.core.errors import ConfigError
from inittui.core.presets import PRESETS, get_preset

ATLAS_RUNS = "atlas"  # `runs = "atlas"`: every initialiser × every activation
# forward and backward through a dense layer: 2 + 4 floating-point operations per weight and sample
FLOPS_PER_WEIGHT_SAMPLE = 6


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("must be an integer")
    return value


def _positive_integer(value: object) -> int:
    if _integer(value) < 1:
        raise ConfigError("must be at least 1")
    return value  # type: ignore[return-value]


def _seed(value: object) -> int:
    if not 0 <= _integer(value) <= MAX_SEED:
        raise ConfigError(f"must be between 0 and {MAX_SEED}")
    return value  # type: ignore[return-value]


def _learning_rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("must be a number")
    if not math.isfinite(value):  # TOML has inf and nan
        raise ConfigError("must be a finite number")
    if not value > 0:
        raise ConfigError("must be greater than 0")
    return float(value)


def _choice(names: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, one of {', '.join(names)}")
        if value not in names:
            raise ConfigError(f"unknown; choose from {', '.join(names)}")
        return value

    return check


def _runs(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError('must be a string of INIT:ACTIVATION pairs ("he:relu,xavier:tanh") or "atlas"')
    if value != ATLAS_RUNS:
        parse_runs(value)
    return value


# every key a sweep file may hold, with the check of one of its values; the names are the CLI's options
SETTINGS: dict[str, Callable[[object], object]] = {
    "preset": _choice(tuple(PRESETS)),
    "runs": _runs,
    "depth": _positive_integer,
    "width": _positive_integer,
    "optimizer": _choice(OPTIMIZER_NAMES),
    "lr": _learning_rate,
    "batch_size": _positive_integer,
    "epochs": _positive_integer,
    "steps": _positive_integer,
    "seeds": _seed,
}


@dataclass(frozen=True)
class SweepExperiment:
    """One point of the sweep: its name (also its log's directory), its value on every axis, its config."""

    name: str
    axes: dict[str, Any]
    config: ExperimentConfig

    @property
    def parameters(self) -> int:
        """Weights and biases of one of its networks."""
        sizes = self.config.layer_sizes
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))

    def flops(self, train_size: int = TRAIN_SIZE) -> float:
        """Floating-point operations of its training, every run together (statistics and evaluation left out)."""
        config = self.config
        weights = self.parameters
        return FLOPS_PER_WEIGHT_SAMPLE * weights * config.batch_size * config.total_steps(train_size) * len(config.runs)


@dataclass(frozen=True)
class SweepPlan:
    """A sweep read from a file: its name, its fixed settings and its axes, and the experiments they make."""

    name: str
    fixed: dict[str, Any]
    axes: dict[str, list[Any]]
    experiments: list[SweepExperiment]


def _value_text(value: object) -> str:
    """A value as the file wrote it, on one line (a string's newline escaped)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _checked(path: Path, key: str, value: object) -> object:
    if key not in SETTINGS:
        raise ConfigError(f"{path}: unknown key {key} = {_value_text(value)}; sweep keys: {', '.join(SETTINGS)}")
    try:
        return SETTINGS[key](value)
    except ConfigError as error:
        raise ConfigError(f"{path}: {key} = {_value_text(value)}: {error}") from None


def read_settings(path: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The file's fixed settings and its axes, every value checked; ConfigError names the file, key and value."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read: {getattr(error, 'strerror', None) or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    fixed: dict[str, Any] = {}
    axes: dict[str, list[Any]] = {}
    for key, value in document.items():
        if key not in SETTINGS:
            _checked(path, key, value)  # raises: unknown key
        if isinstance(value, list):
            if not value:
                raise ConfigError(f"{path}: {key} = []: an empty list gives no experiment; give at least one value")
            axes[key] = [_checked(path, key, item) for item in value]
        else:
            if isinstance(value, dict):
                raise ConfigError(f"{path}: {key} is a table; a sweep file holds only keys with values or lists")
            fixed[key] = _checked(path, key, value)
    if "epochs" in {*fixed, *axes} and "steps" in {*fixed, *axes}:
        raise ConfigError(f"{path}: epochs and steps both set; an experiment trains for one or the other")
    return fixed, axes


def _name_part(key: str, value: object, position: int) -> str:
    if key == "runs":
        return f"runs{position}"
    text = re.sub(r"[^A-Za-z0-9.]+", "_", str(value))
    return f"{'seed' if key == 'seeds' else key.replace('_', '-')}{text}"


def experiment_config(settings: dict[str, Any], device: str = "auto", stats_every: int | None = None) -> ExperimentConfig:
    """The experiment of one point of a sweep, as ``inittui train`` would build it from the same options."""
    preset_name = settings.get("preset", "compare")
    config = get_preset(preset_name).config(
        depth=settings.get("depth"),
        width=settings.get("width"),
        optimizer=settings.get("optimizer"),
        lr=settings.get("lr"),
        batch_size=settings.get("batch_size"),
        epochs=settings.get("epochs"),
        steps=settings.get("steps"),
        seed=settings.get("seeds"),
        device=device,
        stats_every=stats_every,
    )
    runs = settings.get("runs")
    if runs is not None:
        specs = PRESETS[ATLAS_RUNS].base.runs if runs == ATLAS_RUNS else parse_runs(runs)
        config = config.with_runs(list(specs))
        config.preset = "custom" if preset_name == "compare" else f"{preset_name}+runs"
    config.validate()
    return config


def expand(fixed: dict[str, Any], axes: dict[str, list[Any]], *, device: str = "auto",
           stats_every: int | None = None) -> list[SweepExperiment]:
    """The cartesian product of the axes, each point an experiment named by its index and axis values."""
    experiments = []
    keys = list(axes)
    positions = [range(len(axes[key])) for key in keys]
    for index, point in enumerate(itertools.product(*positions)):
        values = {key: axes[key][i] for key, i in zip(keys, point)}
        parts = [_name_part(key, values[key], i) for key, i in zip(keys, point)]
        label = "-".join([f"{index:03d}", *parts])
        experiments.append(SweepExperiment(label, values, experiment_config({**fixed, **values}, device, stats_every)))
    return experiments


def load_sweep(path: Path, *, device: str = "auto", stats_every: int | None = None) -> SweepPlan:
    """Read, check and expand a sweep file."""
    fixed, axes = read_settings(path)
    return SweepPlan(path.stem, fixed, axes, expand(fixed, axes, device=device, stats_every=stats_every))


def format_flops(flops: float) -> str:
    """``12.3 TFLOP``, ``450 GFLOP``."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops / 1e6:.3g} MFLOP"


def format_dry_run(sweep: SweepPlan) -> str:
    """One line per experiment (its axes, training length, runs, size, floating-point work), then the total."""
    lines = [f"sweep {sweep.name}: {len(sweep.experiments)} experiments; axes: "
             + (", ".join(f"{key} ({len(values)})" for key, values in sweep.axes.items()) or "none")]
    total = 0.0
    for experiment in sweep.experiments:
        config = experiment.config
        flops = experiment.flops()
        total += flops
        axes = " ".join(f"{key}={value}" for key, value in experiment.axes.items())
        lines.append(
            f"  {experiment.name}  {axes or '(no axes)'}  {config.total_steps()} steps × {len(config.runs)} runs of "
            f"{MNIST_INPUTS}-{config.width}×{config.depth}-10, batch {config.batch_size}: {format_flops(flops)}"
        )
    lines.append(f"total {format_flops(total)} (6 FLOP per weight and sample; epochs counted on MNIST's "
                 f"{TRAIN_SIZE:,} training images)")
    return "\n".join(lines)
