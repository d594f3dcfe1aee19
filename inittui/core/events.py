"""Everything the engine reports, as plain dataclasses that serialise to one JSON line each.

Standard library only: the run log, the headless reporter and the UI all read these.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from inittui.core.config import ExperimentConfig, RunSpec

HISTOGRAM_KINDS = ("activations", "preactivations", "gradients", "weights")


@dataclass
class Histogram:
    """Counts over equal-width bins spanning [low, high]; values outside land in the end bins."""

    low: float
    high: float
    counts: list[int]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        histogram = cls(**data)
        if not (_is_number(histogram.low) and _is_number(histogram.high) and _numbers(histogram.counts)):
            raise TypeError("a histogram whose bounds or counts are not numbers")
        return histogram


@dataclass
class LayerStat:
    """One hidden layer of one run, measured on one training batch."""

    mean: float
    std: float
    # fraction of units zero (pre-activation <= 0) for the whole batch; None where the activation cannot die
    dead: float | None
    # fraction of values in the flat tails (|tanh| > 0.99, sigmoid < 0.01 or > 0.99); None for non-saturating ones
    saturated: float | None
    # None where not measured: the random-input probe has no loss, hence no gradient
    preactivation_std: float | None
    weight_std: float | None
    predicted_weight_std: float | None
    grad_norm: float | None
    histograms: dict[str, Histogram]
    # std of ∂loss/∂activation over the batch and the layer's units: the gradient as backpropagated to this layer
    activation_grad_std: float | None = None
    # ‖ΔW‖ / ‖W‖ of the layer's weights over this step's update (0 for a run that did not train)
    update_ratio: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerStat:
        """Raises TypeError (or KeyError) where a field is not what it says (a damaged log line)."""
        values = dict(data)
        for name, value in values.items():
            if name != "histograms" and value is not None and not _is_number(value):
                raise TypeError(f"layer statistic {name} is not a number")
        if not _is_number(values["mean"]) or not _is_number(values["std"]):
            raise TypeError("a layer statistic without its mean and std")
        values["histograms"] = {str(kind): Histogram.from_dict(hist) for kind, hist in data["histograms"].items()}
        return cls(**values)


def unit_shares(layers: list[LayerStat]) -> tuple[float | None, float | None]:
    """The mean share of dead units and of saturated units over ``layers``; None where no layer has one."""

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None and math.isfinite(v)]
        return sum(known) / len(known) if known else None

    return mean([layer.dead for layer in layers]), mean([layer.saturated for layer in layers])


# what a run's status can be: training, stopped by a loss that is not finite, trained to the end, ended with
# its experiment (stopped, or an error); "starting" is the dashboard's, for a change it has asked for and
# the engine not yet confirmed, and "probe" a run of the random-input probe
RUN_STATUSES = ("running", "diverged", "done", "stopped", "error", "starting", "probe")


@dataclass
class RunRecord:
    """One run as its producer knows it now: which run (``id`` and ``spec``), which draw of its initial weights
    (0 first; each restart the next; back to 0 with a new spec), its status and step in this life (from its last
    start), and its latest numbers. The one record of a run: in events, results and the dashboard alike."""

    id: int
    spec: RunSpec
    status: str = "running"
    step: int = 0
    draw: int = 0
    # the seed of its weights and batch order; None in logs from before seed groups: the experiment's one seed
    seed: int | None = None
    train_loss: float | None = None
    train_acc: float | None = None
    test_acc: float | None = None
    best_test_acc: float | None = None
    # the mean share of dead and of saturated units over the hidden layers at the latest statistics step
    dead: float | None = None
    saturated: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def label(self, grouped: bool) -> str:
        """``he:relu``; in an experiment of a seed group, which replica: ``he:relu s1``."""
        return f"{self.name} s{self.seed}" if grouped and self.seed is not None else self.name

    def seed_or(self, experiment_seed: int) -> int:
        """The run's seed; a run of a log from before seed groups had the experiment's."""
        return experiment_seed if self.seed is None else self.seed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["spec"]
        return {"id": self.id, "init": self.spec.init, "activation": self.spec.activation, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Also reads the two records logs held before this one: ``{id, init, activation, status, step}`` and
        ``{id, name, init, activation, status, steps, train_loss, test_acc, best_test_acc}``."""
        values = dict(data)
        spec = RunSpec(str(values.pop("init")), str(values.pop("activation")))
        values.pop("name", None)
        if "steps" in values:
            values["step"] = values.pop("steps")
        known = {f.name for f in fields(cls)}
        record = cls(spec=spec, **{key: value for key, value in values.items() if key in known})
        if not isinstance(record.id, int) or not isinstance(record.step, int) or not isinstance(record.status, str):
            raise TypeError(f"not a run record: {data!r}")
        return record


def experiment_runs(config: ExperimentConfig) -> list[RunRecord]:
    """The runs an experiment starts with: each of ``config.runs`` once per seed, ids in that order (a run's
    seed group together: ``he:relu`` seed 0, 1, 2, then the next run)."""
    replicas = [(spec, seed) for spec in config.runs for seed in config.run_seeds]
    return [RunRecord(index, spec, seed=seed) for index, (spec, seed) in enumerate(replicas)]


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
    runs: list[RunRecord]
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "runs": [run.to_dict() for run in self.runs]}


@dataclass
class RunsChanged(Event):
    """The set of runs or one run's spec or status changed; carries the whole current table."""

    type: ClassVar[str] = "runs"
    step: int
    reason: str
    runs: list[RunRecord]
    # the command this answers (see inittui.core.commands); None for a change of the engine's own
    request: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "runs": [run.to_dict() for run in self.runs]}


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


def correlation_depth(chi_c: float) -> float:
    """xi_c = -1/ln(chi_c), the layers over which correlations approach their fixed point (Poole et al. 2016):
    inf where chi_c >= 1, where the approach is slower than exponential (the edge of chaos)."""
    if chi_c <= 0.0:
        return 0.0
    return -1.0 / math.log(chi_c) if chi_c < 1.0 else math.inf


# the spectrum's histogram: fixed bins of log10 s, half a decade wide and centred on each half decade (s = 1 is
# the middle of one bin, not an edge between two), over 1e-12…1e12, so that any two steps or runs compare;
# values beyond land in the end bins (a zero singular value in the first)
SPECTRUM_BINS = 49
SPECTRUM_BIN_DECADES = 0.5
SPECTRUM_LOG10_LOW = -12.0 - SPECTRUM_BIN_DECADES / 2


def spectrum_bin_centre(index: int) -> float:
    """log10 s at the middle of the spectrum histogram's bin ``index``."""
    return SPECTRUM_LOG10_LOW + (index + 0.5) * SPECTRUM_BIN_DECADES


def _counts(value: object) -> bool:
    return isinstance(value, list) and all(type(count) is int and count >= 0 for count in value)


@dataclass
class RunSpectrum:
    """One run's hidden stack at one step, on the fixed spectrum images: the singular values of its input–output
    Jacobian J = D_L W_L … D_2 W_2 pooled over the images, and two images' correlation through the layers.
    Per-layer lists run over hidden layers 1…L; None where not finite (a diverged run) or not predicted."""

    s_max: float | None
    s_median: float | None
    # s_max / median of J_l, the product up to layer l (1 at layer 1)
    prefix_ratio: list[float | None]
    # the mean cosine similarity of two different images' pre-activations, measured
    correlation: list[float | None]
    # and by the mean-field correlation map from the images themselves, with its fixed point c* and its slope
    # there chi_c (the depth scale xi_c = -1/ln chi_c; chi_c is logged since xi_c may be infinite)
    predicted_correlation: list[float | None] = field(default_factory=list)
    c_star: float | None = None
    chi_c: float | None = None
    # how many of the pooled singular values of J fall in each of the SPECTRUM_BINS bins of log10 s; empty where
    # not finite (a diverged run) or not logged (logs older than the histogram)
    log10_histogram: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """s_max / median of the whole stack's J."""
        return self.prefix_ratio[-1] if self.prefix_ratio else None

    @property
    def xi_c(self) -> float | None:
        """The predicted depth scale of correlations, -1/ln chi_c (inf at chi_c >= 1)."""
        return None if self.chi_c is None else correlation_depth(self.chi_c)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpectrum:
        """Raises TypeError (or KeyError) where a field is not what it says (a damaged log line)."""
        spectrum = cls(**data)
        lists = (spectrum.prefix_ratio, spectrum.correlation, spectrum.predicted_correlation)
        scalars = (spectrum.s_max, spectrum.s_median, spectrum.c_star, spectrum.chi_c)
        if not all(_numbers(values, missing=True) for values in lists) or not all(
            value is None or _is_number(value) for value in scalars
        ):
            raise TypeError("a spectrum whose values are not numbers")
        if not _counts(spectrum.log10_histogram) or len(spectrum.log10_histogram) not in (0, SPECTRUM_BINS):
            raise TypeError(f"a spectrum histogram that is not {SPECTRUM_BINS} counts")
        return spectrum


@dataclass
class JacobianSpectra(Event):
    """Every run's :class:`RunSpectrum`, at the spectrum's own cadence (its SVDs cost more than the statistics)."""

    type: ClassVar[str] = "spectrum"
    step: int
    run_ids: list[int]
    spectra: list[RunSpectrum]
    # what measuring it took (its cadence keeps that within a budget of training time), and on how many images
    seconds: float
    images: int


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
    # the command this refuses (see inittui.core.commands), if it refuses one
    request: int | None = None


@dataclass
class ExperimentFinished(Event):
    type: ClassVar[str] = "finished"
    status: str  # done, stopped, error
    step: int
    elapsed_s: float
    samples_per_s: float
    results: list[RunRecord]
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "results": [run.to_dict() for run in self.results]}


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ExperimentStarted,
        RunsChanged,
        TrainProgress,
        LayerStats,
        JacobianSpectra,
        Evaluation,
        StateChanged,
        DeviceChanged,
        Notice,
        ExperimentFinished,
    )
}


def _is_number(value: object) -> bool:
    return type(value) in (int, float)


def _numbers(value: object, *, missing: bool = False) -> bool:
    if not isinstance(value, list):
        return False
    try:
        math.fsum(value)  # at C speed: every item a number (the usual case: a chunk of losses)
        return True
    except (TypeError, ValueError, OverflowError):  # a None, inf beside -inf, a sum beyond floats: one by one
        return all(_is_number(v) or (missing and v is None) for v in value)


# what each field of an event must be in JSON, checked before an event is built: a line of the right form with
# nonsense in it is then rejected as a damaged line by every reader alike
_FIELD_CHECKS: dict[str, Any] = {
    "int": lambda v: type(v) is int,
    "number": _is_number,
    "number?": lambda v: v is None or _is_number(v),
    "int?": lambda v: v is None or type(v) is int,
    "str": lambda v: isinstance(v, str),
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "ints": lambda v: isinstance(v, list) and all(type(i) is int for i in v),
    "numbers?": lambda v: _numbers(v, missing=True),
    "rows?": lambda v: isinstance(v, list) and all(_numbers(row, missing=True) for row in v),
}
_SHAPES: dict[str, dict[str, str]] = {
    "started": {"config": "dict", "device": "str", "device_name": "str", "dataset": "str", "total_steps": "int",
                "steps_per_epoch": "int", "runs": "list", "time": "number"},
    "runs": {"step": "int", "reason": "str", "runs": "list", "request": "int?"},
    "progress": {"step": "int", "epoch": "number", "run_ids": "ints", "run_steps": "ints", "losses": "rows?",
                 "accuracies": "rows?", "samples_per_s": "number", "elapsed_s": "number",
                 "device_memory_mb": "number?"},
    "layers": {"step": "int", "run_ids": "ints", "layers": "list", "predicted_std": "rows?"},
    "spectrum": {"step": "int", "run_ids": "ints", "spectra": "list", "seconds": "number", "images": "int"},
    "evaluation": {"step": "int", "epoch": "number", "run_ids": "ints", "test_acc": "numbers?", "test_loss": "numbers?"},
    "state": {"state": "str", "step": "int"},
    "device": {"device": "str", "device_name": "str", "step": "int"},
    "notice": {"message": "str", "level": "str", "request": "int?"},
    "finished": {"status": "str", "step": "int", "elapsed_s": "number", "samples_per_s": "number",
                 "results": "list", "message": "str"},
}
# per-run lists that must have one entry per run id
_PER_RUN = {"progress": ("run_steps", "losses", "accuracies"), "layers": ("layers",), "spectrum": ("spectra",),
            "evaluation": ("test_acc", "test_loss")}


# each kind's checks as (field, check, its name in _FIELD_CHECKS), looked up once, not once per line read
_CHECKS = {kind: tuple((name, _FIELD_CHECKS[check], check) for name, check in shape.items())
           for kind, shape in _SHAPES.items()}


def _check_shape(kind: str, values: dict[str, Any]) -> None:
    for name, check, described in _CHECKS[kind]:
        if name in values and not check(values[name]):
            raise TypeError(f"{kind} event: {name} is not {described}")
    for name in _PER_RUN.get(kind, ()):
        if name in values and len(values[name]) != len(values["run_ids"]):
            raise ValueError(f"{kind} event: {name} does not have one entry per run")


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON object; raises KeyError, TypeError or ValueError on a foreign object or
    on fields that are not what the event's type says (a damaged log line)."""
    values = dict(data)
    kind = values.pop("type")
    cls = EVENT_TYPES[kind]
    _check_shape(kind, values)
    if cls in (ExperimentStarted, RunsChanged):
        values["runs"] = [RunRecord.from_dict(run) for run in values["runs"]]
    if cls is LayerStats:
        values["layers"] = [[LayerStat.from_dict(layer) for layer in run] for run in values["layers"]]
    if cls is JacobianSpectra:
        values["spectra"] = [RunSpectrum.from_dict(spectrum) for spectrum in values["spectra"]]
    if cls is ExperimentFinished:
        values["results"] = [RunRecord.from_dict(result) for result in values["results"]]
    return cls(**values)


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))
