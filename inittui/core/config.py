"""Experiment configuration: plain dataclasses that round-trip through JSON (standard library only)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from inittui.core.errors import ConfigError

INITIALIZER_NAMES = (
    "xavier",
    "glorot",
    "glorot-uniform",
    "he",
    "he-uniform",
    "orthogonal",
    "orthogonal-critical",
    "normal-0.01",
    "normal-1",
    "constant",
    "lsuv",
)
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky-relu", "gelu", "selu")
OPTIMIZER_NAMES = ("sgd", "momentum", "adam")
SCHEDULE_NAMES = ("constant", "cosine")
# "epoch": every epoch visits the training set once in a fresh random order;
# "random": every batch is drawn at random with replacement across steps, as the book's code does.
SAMPLING_NAMES = ("epoch", "random")
# "standard": pixels standardised with MNIST's mean and std (the PyTorch habit);
# "unit": pixels scaled to [0, 1] only, as the book's code feeds them
INPUT_SCALE_NAMES = ("standard", "unit")

MNIST_INPUTS = 784
MNIST_CLASSES = 10
TRAIN_SIZE = 60_000
# seeds torch's generators take (a signed 64-bit integer); negative ones are refused, as sweep files refuse them
MAX_SEED = 2**63 - 1
# seeds of one experiment: every run is replicated once per seed, in one batch
MAX_SEEDS = 1000
# what a device may be named before torch is loaded; whether cuda:N exists is asked of torch later
DEVICE_NAME = re.compile(r"auto|cpu|cuda(:[0-9]+)?")

def parse_seeds(text: str) -> list[int]:
    """``0,1,2``, ``0-4`` (both ends included), a mix of the two, or one seed ``3``: distinct seeds, in order given."""
    seeds: list[int] = []
    for part in (part.strip() for part in text.split(",")):
        low, sep, high = part.partition("-")
        if not (low.isdigit() and (high.isdigit() if sep else True)):
            raise ConfigError(f"--seeds {text!r}: {part!r} is not a seed (0, 1, ...) or a range of them (0-4)")
        first, last = int(low), int(high) if sep else int(low)
        if last < first:
            raise ConfigError(f"--seeds {text!r}: the range {part!r} runs backwards")
        if last > MAX_SEED:
            raise ConfigError(f"--seeds {text!r}: each seed must be between 0 and {MAX_SEED}")
        if len(seeds) + last - first + 1 > MAX_SEEDS:  # before the list is made: 0-10**12 would never end
            raise ConfigError(f"--seeds {text!r}: at most {MAX_SEEDS} seeds at once")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} names a seed twice")
    return seeds


@dataclass(frozen=True)
class RunSpec:
    """One network of an experiment: which initialiser and which activation."""

    init: str
    activation: str

    @property
    def name(self) -> str:
        return f"{self.init}:{self.activation}"

    @classmethod
    def parse(cls, text: str, initializers: Sequence[str] = INITIALIZER_NAMES) -> RunSpec:
        init, sep, activation = text.strip().partition(":")
        if not sep or not init or not activation:
            raise ConfigError(f"run {text!r} is not of the form INIT:ACTIVATION (e.g. he:relu)")
        spec = cls(init, activation)
        spec.validate(initializers)
        return spec

    def validate(self, initializers: Sequence[str] = INITIALIZER_NAMES) -> None:
        """``initializers``: the names known, the built-ins and any the user's ``--init-file`` declares."""
        if self.init not in initializers:
            raise ConfigError(f"unknown initialiser {self.init!r}; choose from {', '.join(initializers)}")
        if self.activation not in ACTIVATION_NAMES:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATION_NAMES)}")


def parse_runs(text: str, initializers: Sequence[str] = INITIALIZER_NAMES) -> list[RunSpec]:
    """Parse ``he:relu,xavier:tanh`` into run specs."""
    specs = [RunSpec.parse(part, initializers) for part in text.split(",") if part.strip()]
    if not specs:
        raise ConfigError("--runs names no run")
    return specs


def validate_device_name(name: str) -> None:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``; anything else is a ConfigError, without loading torch."""
    if not DEVICE_NAME.fullmatch(name):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


@dataclass
class ExperimentConfig:
    """Everything that defines an experiment; all runs share all of it but their RunSpec."""

    runs: list[RunSpec]
    depth: int = 5
    width: int = 100
    optimizer: str = "sgd"
    lr: float = 0.01
    lr_schedule: str = "constant"
    batch_size: int = 128
    sampling: str = "epoch"
    input_scale: str = "standard"
    epochs: int | None = 10
    steps: int | None = None
    seed: int = 0
    # a seed group: every run is replicated once per seed, all trained together; empty: ``seed`` alone
    seeds: list[int] = field(default_factory=list)
    device: str = "auto"
    # None: as often as keeps the statistics within 2.5 % of training time, measured while training
    stats_every: int | None = None
    histogram_bins: int = 40
    preset: str = "custom"
    # the user's --init-file paths (absolute) and the initialisers they declare, name -> formula (the docstring):
    # the run log keeps both, so a log reads without running any code; only the process that trains loads them
    init_files: list[str] = field(default_factory=list)
    user_initializers: dict[str, str] = field(default_factory=dict)

    @property
    def initializer_names(self) -> tuple[str, ...]:
        """Every initialiser a run may use: the built-ins, then the user's."""
        return (*INITIALIZER_NAMES, *self.user_initializers)

    @property
    def run_seeds(self) -> list[int]:
        """The seeds every run is trained with: ``seeds``, or ``seed`` alone."""
        return list(self.seeds) or [self.seed]

    @property
    def layer_sizes(self) -> list[int]:
        """Sizes of every layer, input first: 784, width × depth, 10."""
        return [MNIST_INPUTS, *([self.width] * self.depth), MNIST_CLASSES]

    def steps_per_epoch(self, train_size: int = TRAIN_SIZE) -> int:
        return -(-train_size // self.batch_size)

    def total_steps(self, train_size: int = TRAIN_SIZE) -> int:
        if self.steps is not None:
            return self.steps
        return (self.epochs or 1) * self.steps_per_epoch(train_size)

    def validate(self) -> None:
        if not self.runs:
            raise ConfigError("an experiment needs at least one run")
        for spec in self.runs:
            spec.validate(self.initializer_names)
        if self.depth < 1:
            raise ConfigError(f"--depth must be at least 1, got {self.depth}")
        if self.width < 1:
            raise ConfigError(f"--width must be at least 1, got {self.width}")
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZER_NAMES)}")
        if not math.isfinite(self.lr):
            raise ConfigError(f"--lr must be a finite number, got {self.lr}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be greater than 0, got {self.lr}")
        if self.lr_schedule not in SCHEDULE_NAMES:
            raise ConfigError(f"unknown schedule {self.lr_schedule!r}; choose from {', '.join(SCHEDULE_NAMES)}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.sampling not in SAMPLING_NAMES:
            raise ConfigError(f"unknown sampling {self.sampling!r}; choose from {', '.join(SAMPLING_NAMES)}")
        if self.input_scale not in INPUT_SCALE_NAMES:
            raise ConfigError(f"unknown input scale {self.input_scale!r}; choose from {', '.join(INPUT_SCALE_NAMES)}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"--steps must be at least 1, got {self.steps}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.stats_every is not None and self.stats_every < 1:
            raise ConfigError(f"--stats-every must be at least 1, got {self.stats_every}")
        validate_device_name(self.device)
        if any(not 0 <= seed <= MAX_SEED for seed in self.run_seeds) or len(set(self.run_seeds)) != len(self.run_seeds):
            raise ConfigError(f"seeds must be distinct and between 0 and {MAX_SEED}, got {self.run_seeds}")
        if self.histogram_bins < 2:
            raise ConfigError(f"histogram bins must be at least 2, got {self.histogram_bins}")

    def with_runs(self, runs: list[RunSpec]) -> ExperimentConfig:
        return replace(self, runs=list(runs))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runs"] = [spec.name for spec in self.runs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        user = dict(values.get("user_initializers") or {})
        values["runs"] = [RunSpec.parse(name, (*INITIALIZER_NAMES, *user)) for name in data.get("runs", [])]
        return cls(**values)

