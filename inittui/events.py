"""Everything the engine reports, as plain dataclasses that serialise to one JSON line each.

Standard library only: the run log, the headless reporter and the UI all read these.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

HISTOGRAM_KINDS = ("activations", "preactivations", "gradients", "weights")


@dataclass
class Histogram:
    """Counts over equal-width bins spanning [low, high]; values outside land in the end bins."""

    low: float
    high: float
    counts: list[int]


@dataclass
class LayerStat:
    """One hidden layer of one run, measured on one training batch."""

    mean: float
    std: float
    # fraction of units zero (pre-activation <= 0) for the whole batch; None where the activation cannot die
    dead: float | None
    # fraction of values in the flat tails (|tanh| > 0.99, sigmoid < 0.01 or > 0.99); None for non-saturating ones
    saturated: float | None
    preactivation_std: float
    weight_std: float
    predicted_weight_std: float | None
    grad_norm: float
    histograms: dict[str, Histogram]
    # std of ∂loss/∂activation over the batch and the layer's units: the gradient as backpropagated to this layer
    activation_grad_std: float | None = None
    # ‖ΔW‖ / ‖W‖ of the layer's weights over this step's update (0 for a run that did not train)
    update_ratio: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerStat:
        values = dict(data)
        values["histograms"] = {kind: Histogram(**hist) for kind, hist in data["histograms"].items()}
        return cls(**values)


@dataclass
class RunInfo:
    """A run as the engine currently has it."""

    id: int
    init: str
    activation: str
    status: str  # running, paused, diverged, done, stopped
    step: int = 0

    @property
    def name(self) -> str:
        return f"{self.init}:{self.activation}"


@dataclass
class RunResult:
    id: int
    name: str
    init: str
    activation: str
    status: str
    steps: int
    train_loss: float | None
    test_acc: float | None
    best_test_acc: float | None


@dataclass
class Event:
    """Base of all events; ``type`` names the subclass in JSON."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False, default=_finite_only)


def _finite_only(value: object) -> object:
    raise TypeError(f"cannot serialise {value!r}")


@dataclass
class ExperimentStarted(Event):
    type: ClassVar[str] = "started"
    config: dict[str, Any]
    device: str
    device_name: str
    dataset: str
    total_steps: int
    steps_per_epoch: int
    runs: list[RunInfo]
    time: float


@dataclass
class RunsChanged(Event):
    """The set of runs or one run's spec or status changed; carries the whole current table."""

    type: ClassVar[str] = "runs"
    step: int
    reason: str
    runs: list[RunInfo]


@dataclass
class TrainProgress(Event):
    """Per-step training loss and accuracy of every run since the last progress event."""

    type: ClassVar[str] = "progress"
    step: int
    epoch: float
    run_ids: list[int]
    run_steps: list[int]
    # losses[r][k]: loss of run r at its k-th step of this chunk; None where the run did not train (diverged)
    losses: list[list[float | None]]
    accuracies: list[list[float | None]]
    samples_per_s: float
    elapsed_s: float
    # memory the training holds on a CUDA device; None on the CPU
    device_memory_mb: float | None = None


@dataclass
class LayerStats(Event):
    type: ClassVar[str] = "layers"
    step: int
    run_ids: list[int]
    # layers[r][l]: hidden layer l of run r
    layers: list[list[LayerStat]]
    # predicted activation std at initialisation per run and layer (mean-field theory), None where unknown
    predicted_std: list[list[float | None]] = field(default_factory=list)


@dataclass
class Evaluation(Event):
    """Test-set accuracy of every run on the full test set."""

    type: ClassVar[str] = "evaluation"
    step: int
    epoch: float
    run_ids: list[int]
    test_acc: list[float | None]
    test_loss: list[float | None]


@dataclass
class StateChanged(Event):
    """The experiment as a whole: running, paused, or stopping."""

    type: ClassVar[str] = "state"
    state: str
    step: int


@dataclass
class DeviceChanged(Event):
    type: ClassVar[str] = "device"
    device: str
    device_name: str
    step: int


@dataclass
class Notice(Event):
    """Something the user should read: a refused command, a warning."""

    type: ClassVar[str] = "notice"
    message: str
    level: str = "info"


@dataclass
class ExperimentFinished(Event):
    type: ClassVar[str] = "finished"
    status: str  # done, stopped, error
    step: int
    elapsed_s: float
    samples_per_s: float
    results: list[RunResult]
    message: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ExperimentStarted,
        RunsChanged,
        TrainProgress,
        LayerStats,
        Evaluation,
        StateChanged,
        DeviceChanged,
        Notice,
        ExperimentFinished,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON object; raises KeyError/TypeError on a foreign object."""
    values = dict(data)
    cls = EVENT_TYPES[values.pop("type")]
    if "runs" in values and cls in (ExperimentStarted, RunsChanged):
        values["runs"] = [RunInfo(**run) for run in values["runs"]]
    if cls is LayerStats:
        values["layers"] = [[LayerStat.from_dict(layer) for layer in run] for run in values["layers"]]
    if cls is ExperimentFinished:
        values["results"] = [RunResult(**result) for result in values["results"]]
    return cls(**values)


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))
