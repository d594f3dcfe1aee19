"""Experiment configuration: plain dataclasses that round-trip through JSON (standard library only)."""

from __future__ import annotations

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
        if self.stats_every is not None and self.stats_every < 1:
            raise ConfigError(f"--stats-every must be at least 1, got {self.stats_every}")
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

