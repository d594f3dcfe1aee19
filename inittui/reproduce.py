"""``inittui reproduce``: train the presets that carry a claim on real MNIST, run the probe, and print a
Markdown table of what was measured beside what was claimed, with pass/fail.

The pass criteria are plain data (:data:`CRITERIA`): one entry per preset and run (or probe row), each a
metric measured once per seed and a closed range its mean over the seeds must lie in.

Core module: torch only, no textual, nothing from ``inittui.ui``.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import torch

from inittui.config import ExperimentConfig
from inittui.data import MNISTData, load_mnist
from inittui.engine import Engine
from inittui.events import Event, ExperimentFinished, TrainProgress
from inittui.headless import stop_on_signals
from inittui.presets import get_preset
from inittui.probe import ProbeResult, run_probe
from inittui.runlog import RunLog

PROBE = "probe"
# book: "he's training loss below xavier's from step 200 on", on losses averaged over windows of this many steps
LOSS_WINDOW = 50
LOSS_FROM_STEP = 200
# symmetry: the largest difference between two units' weight rows, relative to the layer's largest weight
UNIT_SPREAD_TOLERANCE = 1e-4
PROGRESS_INTERVAL_S = 0.25  # live step counter on a terminal
PROGRESS_LOG_INTERVAL_S = 60.0  # a line this often when stderr is a file


@dataclass(frozen=True)
class Criterion:
    """What one table row checks: ``metric`` of ``run`` (mean over seeds) must lie in [low, high]."""

    preset: str
    run: str
    metric: str  # a key of METRICS
    low: float
    high: float
    claim: str  # what the book, the article or the paper says, for the "claim" column
    other: str | None = None  # the run compared with, for "loss_below"


CRITERIA: tuple[Criterion, ...] = (
    # the book's own numpy code (784-100×4-10 ReLU, SGD 0.01, 2000 random batches), measured on the test set
    Criterion("book", "normal-0.01:relu", "test_acc", 0.0, 0.12, "11.35 % (loss stays ≈ 2.30)"),
    Criterion("book", "xavier:relu", "test_acc", 0.90, 0.93, "91.4 %"),
    Criterion("book", "he:relu", "test_acc", 0.92, 0.95, "93.6 %"),
    Criterion("book", "he:relu", "loss_below", 1.0, 1.0, "He's loss lowest (book's figure)", other="xavier:relu"),
    # the article: Xavier+tanh "over 90 %", He+ReLU "over 98 %" (Adam 1e-3, cosine, 20 epochs here)
    Criterion("seed", "xavier:tanh", "test_acc", 0.975, 1.0, "90 %+"),
    Criterion("seed", "he:relu", "test_acc", 0.980, 1.0, "98 %+"),
    # He et al. 2015 on a 30-layer ReLU net; claims measured with plain PyTorch
    Criterion("deep", "glorot:relu", "test_acc", 0.0, 0.15, "11.35 % (stalls)"),
    Criterion("deep", "xavier:relu", "test_acc", 0.0, 0.15, "11.35 % (stalls)"),
    Criterion("deep", "he:relu", "test_acc", 0.90, 1.0, "93.6 %"),
    # the article's point 1: constant weights never break symmetry
    Criterion("symmetry", "constant:tanh", "unit_spread", 0.0, UNIT_SPREAD_TOLERANCE,
              "every unit of a layer learns the same"),
    Criterion("symmetry", "xavier:tanh", "test_acc", 0.90, 1.0, "random weights learn"),
    # the book's histogram experiment: 1000 random inputs, 5 layers of 100 units, no bias
    Criterion(PROBE, "he:relu", "depth_ratio", 0.7, 1.4, "std stays equal in deep layers"),
    Criterion(PROBE, "xavier:relu", "layer_ratio", 0.6, 0.8, "std drifts to 0 (×1/√2 per layer)"),
    Criterion(PROBE, "normal-0.01:relu", "depth_ratio", 0.0, 1e-3, "activations vanish"),
    Criterion(PROBE, "he:relu", "theory_error", 0.0, 0.15, "mean-field theory"),
    Criterion(PROBE, "xavier:tanh", "theory_error", 0.0, 0.15, "mean-field theory"),
    Criterion(PROBE, "glorot:tanh", "theory_error", 0.0, 0.15, "mean-field theory"),
    Criterion(PROBE, "orthogonal:tanh", "theory_error", 0.0, 0.15, "mean-field theory"),
)


def criteria_for(preset: str) -> list[Criterion]:
    return [c for c in CRITERIA if c.preset == preset]


# ---------------------------------------------------------------------------------------------- outcomes


@dataclass
class TrainOutcome:
    """What one preset × seed left behind, by run name."""

    test_acc: dict[str, float | None] = field(default_factory=dict)
    # training loss per step (None where the run did not train)
    losses: dict[str, list[float | None]] = field(default_factory=dict)
    # hidden-layer weights [n_out, n_in] after training
    hidden_weights: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    status: str = "done"
    elapsed_s: float = 0.0


def smoothed(losses: Sequence[float | None], window: int = LOSS_WINDOW) -> list[float]:
    """Mean loss over consecutive windows of ``window`` steps (the last may be shorter); NaN where any is None."""
    means = []
    for start in range(0, len(losses), window):
        chunk = losses[start : start + window]
        means.append(math.nan if any(v is None for v in chunk) else sum(chunk) / len(chunk))  # type: ignore[arg-type]
    return means


def fraction_below(losses: Sequence[float | None], other: Sequence[float | None],
                   from_step: int = LOSS_FROM_STEP, window: int = LOSS_WINDOW) -> float:
    """Fraction of the windows starting at ``from_step`` or later where ``losses`` is below ``other``."""
    mine, theirs = smoothed(losses, window), smoothed(other, window)
    first = -(-from_step // window)
    pairs = list(zip(mine[first:], theirs[first:]))
    if not pairs:
        return math.nan
    return sum(1 for a, b in pairs if a < b) / len(pairs)


def unit_spread(hidden_weights: Sequence[torch.Tensor]) -> float:
    """Largest difference between any unit's weight row and the first unit's, relative to the largest weight,
    over all hidden layers: 0 when every unit of every layer is identical."""
    spread = 0.0
    for weight in hidden_weights:
        scale = weight.abs().max().item()
        if not math.isfinite(scale):
            return math.inf
        difference = (weight - weight[:1]).abs().max().item()
        spread = max(spread, difference / scale if scale > 0 else 0.0)
    return spread


def _stds(result: ProbeResult) -> list[float]:
    return [layer.std for layer in result.layers]


def depth_ratio(result: ProbeResult) -> float:
    """Std of the last layer's activations over the first's."""
    stds = _stds(result)
    return stds[-1] / stds[0] if stds[0] > 0 else math.nan


def layer_ratio(result: ProbeResult) -> float:
    """Geometric mean of the std ratio from one layer to the next."""
    ratio = depth_ratio(result)
    steps = len(result.layers) - 1
    return ratio ** (1.0 / steps) if steps > 0 and ratio >= 0 else math.nan


def theory_error(result: ProbeResult) -> float:
    """Largest relative difference between the mean-field prediction and the measured std, over the layers."""
    errors = []
    for layer in result.layers:
        if layer.predicted_std is None or not layer.std > 0:
            return math.nan
        errors.append(abs(layer.predicted_std - layer.std) / layer.std)
    return max(errors)


# ---------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    measure: Callable[[Criterion, object], float | None]  # (criterion, one seed's outcome) -> value
    label: str  # what the number is, for the "expected" column
    percent: bool = False

    def show(self, value: float) -> str:
        return f"{100 * value:.2f} %" if self.percent else f"{value:.3g}"

    def bound(self, value: float) -> str:
        return f"{100 * value:g} %" if self.percent else f"{value:g}"


def _test_acc(c: Criterion, outcome: object) -> float | None:
    assert isinstance(outcome, TrainOutcome)
    return outcome.test_acc.get(c.run)


def _loss_below(c: Criterion, outcome: object) -> float | None:
    assert isinstance(outcome, TrainOutcome) and c.other is not None
    if c.run not in outcome.losses or c.other not in outcome.losses:
        return None
    return fraction_below(outcome.losses[c.run], outcome.losses[c.other])


def _unit_spread(c: Criterion, outcome: object) -> float | None:
    assert isinstance(outcome, TrainOutcome)
    weights = outcome.hidden_weights.get(c.run)
    return None if weights is None else unit_spread(weights)


def _probe(function: Callable[[ProbeResult], float]) -> Callable[[Criterion, object], float | None]:
    def measure(c: Criterion, outcome: object) -> float | None:
        assert isinstance(outcome, dict)
        result = outcome.get(c.run)
        return None if result is None else function(result)

    return measure


METRICS: dict[str, Metric] = {
    "test_acc": Metric(_test_acc, "test acc", percent=True),
    "loss_below": Metric(_loss_below, f"windows of {LOSS_WINDOW} steps from step {LOSS_FROM_STEP} with lower mean loss",
                         percent=True),
    "unit_spread": Metric(_unit_spread, "max row difference / max weight, hidden layers after training"),
    "depth_ratio": Metric(_probe(depth_ratio), "std layer 5 / layer 1"),
    "layer_ratio": Metric(_probe(layer_ratio), "std ratio per layer (geometric mean)"),
    "theory_error": Metric(_probe(theory_error), "max over layers of |predicted − measured| / measured", percent=True),
}


# ---------------------------------------------------------------------------------------------- the table


@dataclass
class Row:
    preset: str
    run: str
    measured: str
    claim: str
    expected: str
    passed: bool


def expected(c: Criterion) -> str:
    """The range in words: ``test acc 90–93 %``, ``... ≤ 0.001``, ``... ≥ 98 %``."""
    metric = METRICS[c.metric]
    label = metric.label + (f" than {c.other}" if c.other else "")
    if c.low == c.high:
        bound = metric.bound(c.low)
    elif c.high == math.inf or (metric.percent and c.high >= 1.0):
        bound = f"≥ {metric.bound(c.low)}"
    elif c.low <= 0.0:
        bound = f"≤ {metric.bound(c.high)}"
    else:
        bound = f"{metric.bound(c.low)}–{metric.bound(c.high)}".replace(" %–", "–")
    return f"{label} {bound}"


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def judge(c: Criterion, outcomes: Sequence[object]) -> Row:
    """One row: ``c``'s metric over every seed's outcome; fails when any seed lacks it or it is not finite."""
    metric = METRICS[c.metric]
    values = [metric.measure(c, outcome) for outcome in outcomes]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not values or len(finite) < len(values):
        measured = "missing" if not finite else "not finite"
        return Row(c.preset, c.run, measured, c.claim, expected(c), False)
    mean, std = mean_and_std(finite)
    measured = metric.show(mean) + (f" ± {metric.show(std)}" if len(finite) > 1 else "")
    return Row(c.preset, c.run, measured, c.claim, expected(c), c.low <= mean <= c.high)


def format_markdown(rows: Sequence[Row], seeds: Sequence[int]) -> str:
    seed_text = f"mean ± std over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    header = ["preset", "run", f"measured ({seed_text})", "claim", "expected", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [row.preset, row.run, row.measured, row.claim, row.expected, "pass" if row.passed else "**FAIL**"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- running


class StepCounter:
    """A live step counter on stderr: redrawn in place on a terminal, an occasional line otherwise."""

    def __init__(self, label: str, total_steps: int, stream: IO[str] | None = None) -> None:
        self.label = label
        self.total = total_steps
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval = PROGRESS_INTERVAL_S if self.interactive else PROGRESS_LOG_INTERVAL_S
        self.last = time.monotonic()

    def update(self, step: int) -> None:
        if time.monotonic() - self.last < self.interval:
            return
        self.last = time.monotonic()
        text = f"  {self.label}: step {step}/{self.total}"
        self.stream.write(f"\r{text}\x1b[K" if self.interactive else text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def train_preset(config: ExperimentConfig, data: MNISTData, log_dir: Path, label: str) -> TrainOutcome:
    """Train ``config`` to the end (logged under ``log_dir``) and collect what the criteria look at."""
    log = RunLog.create(log_dir, config, {"dataset": data.description, "reproduce": True})
    outcome = TrainOutcome(losses={spec.name: [] for spec in config.runs})
    names: dict[int, str] = dict(enumerate(spec.name for spec in config.runs))
    counter = StepCounter(label, config.total_steps(len(data.train_labels)))

    def emit(event: Event) -> None:
        log.write(event)
        if isinstance(event, TrainProgress):
            for run_id, losses in zip(event.run_ids, event.losses):
                outcome.losses[names[run_id]].extend(losses)
            counter.update(event.step)

    engine = Engine(config, data, emit)
    with stop_on_signals(engine):
        try:
            finished: ExperimentFinished = engine.run()
        finally:
            log.close()
            counter.clear()
    outcome.status, outcome.elapsed_s = finished.status, finished.elapsed_s
    if finished.status == "error":
        print(f"  {label}: error: {finished.message}", file=sys.stderr)
    for result in finished.results:
        outcome.test_acc[result.name] = result.test_acc
        weights, _ = engine.run_weights(result.id)
        outcome.hidden_weights[result.name] = weights[:-1]
    return outcome


def _probe_outcome(seed: int) -> dict[str, ProbeResult]:
    """The probe for every (init, activation) a criterion names; each pair is independent of the others."""
    pairs = dict.fromkeys(c.run for c in criteria_for(PROBE))
    results = {}
    for name in pairs:
        init, activation = name.split(":")
        (result,) = run_probe([init], [activation], seed=seed)
        results[name] = result
    return results


def _summary(outcome: TrainOutcome) -> str:
    return ", ".join(
        f"{name} {'-' if acc is None else f'{100 * acc:.2f}%'}" for name, acc in outcome.test_acc.items()
    )


def run_reproduce(
    presets: list[str],
    seeds: list[int],
    *,
    device: str,
    data_dir: str | None,
    log_dir: Path,
    overrides: dict[str, dict] | None = None,
    stream: IO[str] | None = None,
) -> int:
    """Train every preset for every seed, run the probe, print the Markdown table.

    Returns 0 when every row passes, 1 when one fails, 130 when interrupted. ``overrides`` maps a preset
    name to keyword arguments for :meth:`Preset.config` (tests shorten runs with it).
    """
    overrides = overrides or {}
    data = load_mnist(data_dir)
    print(f"reproduce: {data.description}; presets {', '.join(presets)}; seeds {', '.join(map(str, seeds))}; "
          f"device {device}, {torch.get_num_threads()} CPU threads; logs in {log_dir}", file=sys.stderr)
    rows: list[Row] = []
    for name in presets:
        outcomes = []
        for seed in seeds:
            config = get_preset(name).config(**{**overrides.get(name, {}), "seed": seed, "device": device})
            label = f"{name} seed {seed}"
            outcome = train_preset(config, data, log_dir, label)
            print(f"{label}: {outcome.status} in {outcome.elapsed_s:.1f} s ({_summary(outcome)})", file=sys.stderr)
            if outcome.status == "stopped":
                print("reproduce: interrupted", file=sys.stderr)
                return 130
            outcomes.append(outcome)
        rows += [judge(c, outcomes) for c in criteria_for(name)]

    started = time.perf_counter()
    probes = [_probe_outcome(seed) for seed in seeds]
    print(f"probe: done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows += [judge(c, probes) for c in criteria_for(PROBE)]

    print(format_markdown(rows, seeds), file=stream or sys.stdout)
    failed = [row for row in rows if not row.passed]
    print(f"reproduce: {len(rows) - len(failed)}/{len(rows)} passed", file=sys.stderr)
    return 1 if failed else 0
