"""``inittui reproduce``: train the presets that carry a claim on real MNIST, run the probe, and print a
Markdown table of what was measured beside what was claimed, with pass/fail; then the atlas (every
initialiser × every activation) and the depth sweep (:mod:`inittui.experiments.depth_sweep`) as tables of their own.

The pass criteria are plain data (:data:`CRITERIA`): one entry per preset and run (or probe row), each a
metric measured once per seed and a closed range that its mean over the seeds, or every seed's value, must
lie in. Every preset trains its seeds as one seed group (one batched experiment); on the CPU each seed trains
exactly as it would in an experiment of its own, so the numbers are those of one experiment per seed.

Core module: torch only, no textual, nothing from ``inittui.ui``.
"""

from __future__ import annotations

import math
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import torch

from inittui.core.config import ExperimentConfig
from inittui.training.data import MNISTData, load_mnist
from inittui.experiments.depth_sweep import BANDS, StdRatio, band_for, measure_std_ratios, verdict
from inittui.experiments.sweep_runner import Execution, make_backend, run_tasks, share_token
from inittui.experiments.sweep_task import ExperimentTask, TaskResult
from inittui.training.logged import train_logged
from inittui.core.events import Evaluation, Event, JacobianSpectra, TrainProgress, experiment_runs
from inittui.core.presets import DEPTH_SWEEP, Sweep, get_preset
from inittui.core.spread import mean_and_std
from inittui.science.probe import ProbeResult, run_probe
from inittui.science.spectrum import fitted_depth_scale
from inittui.runlog.writer import RunLog

PROBE = "probe"
ATLAS = "atlas"
# book: "he's training loss below xavier's from step 200 on", on losses averaged over windows of this many steps
LOSS_WINDOW = 50
LOSS_FROM_STEP = 200
# symmetry: the largest difference between two units' weight rows, relative to the layer's largest weight
UNIT_SPREAD_TOLERANCE = 1e-4
# isometry: the measured depth scale within this factor of xi_c; at the edge of chaos, one at least the depth
DEPTH_SCALE_FACTOR = 1.5
ISOMETRY_DEPTH = 30
PROGRESS_INTERVAL_S = 0.25  # live step counter on a terminal
PROGRESS_LOG_INTERVAL_S = 60.0  # a line this often when stderr is a file


@dataclass(frozen=True)
class Criterion:
    """What one table row checks: ``metric`` of ``run`` must lie in [low, high], its mean over the seeds or,
    with ``every_seed``, each seed's value. A row that is not ``judged`` reports the measurement only."""

    preset: str
    run: str
    metric: str  # a key of METRICS
    low: float
    high: float
    claim: str  # what the book, the article or the paper says, for the "claim" column
    other: str | None = None  # the run compared with, for "loss_below"
    epoch: int | None = None  # "test_acc" at the end of this epoch rather than at the end of training
    every_seed: bool = False
    judged: bool = True


CRITERIA: tuple[Criterion, ...] = (
    # the book's own numpy code (784-100×4-10 ReLU, SGD 0.01, 2000 random batches), measured on the test set
    Criterion("book", "normal-0.01:relu", "test_acc", 0.0, 0.12, "11.35 % (loss stays ≈ 2.30)"),
    Criterion("book", "xavier:relu", "test_acc", 0.90, 0.93, "91.4 %"),
    Criterion("book", "he:relu", "test_acc", 0.92, 0.95, "93.6 %"),
    Criterion("book", "he:relu", "loss_below", 1.0, 1.0, "He's loss lowest (book's figure)", other="xavier:relu"),
    # the article: Xavier+tanh "over 90 %", He+ReLU "over 98 %" (Adam 1e-3, cosine, 20 epochs here)
    Criterion("seed", "xavier:tanh", "test_acc", 0.975, 1.0, "90 %+", every_seed=True),
    Criterion("seed", "he:relu", "test_acc", 0.980, 1.0, "98 %+", every_seed=True),
    # He et al. 2015 on a 30-layer ReLU net: their "Xavier" (1/n_in) stalls, theirs trains. Glorot's
    # 2/(n_in+n_out) stalls too. Both escape late and at random: Xavier during epoch 3 in 4 of seeds 0-19,
    # glorot during epoch 2 in 2 of them. So each stall is judged up to the epoch it lasted in every one of
    # seeds 0-9 (and then, fresh, in 10-19), and reported as measured after it.
    Criterion("deep", "xavier:relu", "test_acc", 0.0, 0.15, "11.35 % (stalls)", epoch=2, every_seed=True),
    Criterion("deep", "xavier:relu", "test_acc", 0.0, 1.0, "escapes late in some seeds", judged=False),
    Criterion("deep", "glorot:relu", "test_acc", 0.0, 0.15, "11.35 % (stalls)", epoch=1, every_seed=True),
    Criterion("deep", "glorot:relu", "test_acc", 0.0, 1.0, "escapes late in some seeds", epoch=2, judged=False),
    Criterion("deep", "glorot:relu", "test_acc", 0.0, 1.0, "escapes late in some seeds", judged=False),
    Criterion("deep", "he:relu", "test_acc", 0.90, 1.0, "93.6 %", every_seed=True),
    # the article's point 1: constant weights never break symmetry
    Criterion("symmetry", "constant:tanh", "unit_spread", 0.0, UNIT_SPREAD_TOLERANCE,
              "every unit of a layer learns the same"),
    Criterion("symmetry", "xavier:tanh", "test_acc", 0.90, 1.0, "random weights learn"),
    # the book's histogram experiment: 1000 random inputs, 5 layers of 100 units, no bias
    # Pennington, Schoenholz & Ganguli 2017: orthogonal weights at the edge of chaos make a deep tanh net's
    # input–output Jacobian well conditioned; Gaussian ones cannot. Measured at initialisation; seeds 0-4 gave
    # 2.24–2.45 and 2.5–4.0e5 (the 40-line script: 3.3 and 8e5 on 16 inputs)
    Criterion("isometry", "orthogonal-critical:tanh", "initial_ratio", 0.0, 10.0, "≈ 1: dynamical isometry",
              every_seed=True),
    Criterion("isometry", "xavier:tanh", "initial_ratio", 1e3, math.inf, "spread by depth", every_seed=True),
    Criterion("isometry", "orthogonal:tanh", "initial_ratio", 0.0, math.inf, "chaotic at gain 5/3", judged=False),
    Criterion("isometry", "he:relu", "initial_ratio", 0.0, math.inf, "half the values ≈ 0", judged=False),
    # the depth scale of correlations (Poole et al. 2016), fitted to the measured correlation at initialisation
    # (docs/spectrum.md). Seeds 0-9 gave 0.93-1.32 of xi_c = 12.1 for orthogonal:tanh and no decay at all for
    # orthogonal-critical:tanh; these bounds were written then, and held in every one of seeds 10-19
    Criterion("isometry", "orthogonal:tanh", "depth_scale_factor", 1.0, DEPTH_SCALE_FACTOR, "ξ_c finite: chaotic",
              every_seed=True),
    Criterion("isometry", "orthogonal-critical:tanh", "correlation_decay", 0.0, 1.0 / ISOMETRY_DEPTH,
              "ξ_c = ∞: edge of chaos", every_seed=True),
    Criterion("isometry", "xavier:tanh", "correlation_decay", 0.0, math.inf, "ξ_c ≈ 1000", judged=False),
    Criterion("isometry", "he:relu", "correlation_decay", 0.0, math.inf, "ξ_c = ∞, a power-law approach",
              judged=False),
    # how much faster it learns: reported, not assumed (nor that it beats he:relu)
    Criterion("isometry", "orthogonal-critical:tanh", "test_acc", 0.0, 1.0, "learns faster", epoch=1, judged=False),
    Criterion("isometry", "xavier:tanh", "test_acc", 0.0, 1.0, "learns slower", epoch=1, judged=False),
    Criterion("isometry", "he:relu", "test_acc", 0.0, 1.0, "for comparison", epoch=1, judged=False),
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
    """What one preset × seed left behind, by run name; in a seed group, each seed has its own."""

    seed: int = 0
    test_acc: dict[str, float | None] = field(default_factory=dict)
    # test accuracy at the end of every whole epoch, by epoch (1, 2, ...)
    epoch_test_acc: dict[str, dict[int, float | None]] = field(default_factory=dict)
    # "done" or "diverged" (a run whose loss became non-finite, frozen where it stood)
    statuses: dict[str, str] = field(default_factory=dict)
    # training loss per step (None where the run did not train)
    losses: dict[str, list[float | None]] = field(default_factory=dict)
    # s_max / median of the hidden stack's Jacobian at initialisation (the step-0 spectrum), by run name
    initial_ratio: dict[str, float | None] = field(default_factory=dict)
    # the depth scale fitted to the measured correlation at initialisation (inf: no approach), and xi_c predicted
    initial_depth_scale: dict[str, float | None] = field(default_factory=dict)
    initial_xi_c: dict[str, float | None] = field(default_factory=dict)
    # hidden-layer weights [n_out, n_in] after training
    hidden_weights: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    # the experiment's: in a seed group, every seed's outcome carries the group's status and time
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
    if c.epoch is None:
        return outcome.test_acc.get(c.run)
    return outcome.epoch_test_acc.get(c.run, {}).get(c.epoch)


def _initial_ratio(c: Criterion, outcome: object) -> float | None:
    assert isinstance(outcome, TrainOutcome)
    return outcome.initial_ratio.get(c.run)


def _depth_scale_factor(c: Criterion, outcome: object) -> float | None:
    """How many times the measured depth scale and the predicted xi_c differ, either way (1: equal)."""
    assert isinstance(outcome, TrainOutcome)
    measured, predicted = outcome.initial_depth_scale.get(c.run), outcome.initial_xi_c.get(c.run)
    if measured is None or predicted is None or not 0.0 < predicted < math.inf or not 0.0 < measured < math.inf:
        return None
    return max(measured / predicted, predicted / measured)


def _correlation_decay(c: Criterion, outcome: object) -> float | None:
    """1 / the measured depth scale: 0 where the correlation does not approach c* at all."""
    assert isinstance(outcome, TrainOutcome)
    measured = outcome.initial_depth_scale.get(c.run)
    return None if measured is None else 1.0 / measured


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
    "initial_ratio": Metric(_initial_ratio, "Jacobian s_max/median at init"),
    "depth_scale_factor": Metric(_depth_scale_factor, "factor between measured depth scale and ξ_c at init"),
    "correlation_decay": Metric(_correlation_decay, "1 / measured depth scale (per layer) at init"),
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
    judged: bool = True  # False: the measurement is reported, with no bound to pass


def expected(c: Criterion) -> str:
    """The range in words: ``test acc 90–93 %``, ``... ≤ 0.001``, ``test acc at epoch 2 ≤ 15 % in every seed``."""
    metric = METRICS[c.metric]
    label = metric.label + (f" at epoch {c.epoch}" if c.epoch is not None else "")
    label += f" than {c.other}" if c.other else ""
    if not c.judged:
        return f"{label}, as measured"
    if c.low == c.high:
        bound = metric.bound(c.low)
    elif c.high == math.inf or (metric.percent and c.high >= 1.0):
        bound = f"≥ {metric.bound(c.low)}"
    elif c.low <= 0.0:
        bound = f"≤ {metric.bound(c.high)}"
    else:
        bound = f"{metric.bound(c.low)}–{metric.bound(c.high)}".replace(" %–", "–")
    return f"{label} {bound}" + (" in every seed" if c.every_seed else "")


def judge(c: Criterion, outcomes: Sequence[object]) -> Row:
    """One row: ``c``'s metric over every seed's outcome; fails when any seed lacks it or it is not finite.

    The mean over the seeds must lie in the range, or with ``c.every_seed`` each seed's value; the row then
    lists every seed's value too, as does a row that only reports.
    """
    metric = METRICS[c.metric]
    values = [metric.measure(c, outcome) for outcome in outcomes]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not values or len(finite) < len(values):
        measured = "missing" if not finite else "not finite"
        return Row(c.preset, c.run, measured, c.claim, expected(c), False, c.judged)
    mean, std = mean_and_std(finite)
    measured = metric.show(mean)
    if len(finite) > 1:
        measured += f" ± {metric.show(std)}"
        if c.every_seed or not c.judged:
            measured += "; per seed " + ", ".join(metric.show(v) for v in finite)
    inside = all(c.low <= v <= c.high for v in finite) if c.every_seed else c.low <= mean <= c.high
    return Row(c.preset, c.run, measured, c.claim, expected(c), inside or not c.judged, c.judged)


def _result(row: Row) -> str:
    if not row.passed:
        return "**FAIL**"
    return "pass" if row.judged else "reported"


def seeds_text(seeds: Sequence[int]) -> str:
    """``mean ± std over seeds 0, 1, 2``, or ``seed 7`` for one seed."""
    return f"mean ± std over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; a ``|`` inside a cell is escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |" for cells in rows]
    return "\n".join(lines)


def format_markdown(rows: Sequence[Row], seeds: Sequence[int]) -> str:
    header = ["preset", "run", f"measured ({seeds_text(seeds)})", "claim", "expected", "result"]
    return markdown_table(header, [[r.preset, r.run, r.measured, r.claim, r.expected, _result(r)] for r in rows])


# ---------------------------------------------------------------------------------------------- the atlas


def grid_axes(runs: Sequence[str]) -> tuple[list[str], list[str]]:
    """The initialisers and the activations of ``init:activation`` run names, each in order of first appearance."""
    inits = list(dict.fromkeys(name.split(":")[0] for name in runs))
    activations = list(dict.fromkeys(name.split(":")[1] for name in runs))
    return inits, activations


def accuracy_cell(run: str, outcomes: Sequence[TrainOutcome]) -> tuple[str, float | None]:
    """A run's test accuracy over the seeds, in %: ``92.1 ± 0.3`` (or ``92.1`` for one seed), over the seeds
    where it trained to the end, saying in how many it diverged; ``diverged`` when it did in every seed.
    Returns the text and the mean (None unless every seed trained to the end, so that it can be ranked)."""
    accuracies: list[float] = []
    diverged = missing = 0
    for outcome in outcomes:
        accuracy = outcome.test_acc.get(run)
        if outcome.statuses.get(run) == "diverged":
            diverged += 1
        elif accuracy is None or not math.isfinite(accuracy):
            missing += 1
        else:
            accuracies.append(100 * accuracy)
    if not accuracies:
        return ("diverged" if diverged else "missing"), None
    mean, std = mean_and_std(accuracies)
    text = f"{mean:.1f}" + (f" ± {std:.1f}" if len(outcomes) > 1 else "")
    notes = []
    if diverged:
        notes.append(f"diverged in {diverged} of {len(outcomes)}")
    if missing:
        notes.append(f"missing in {missing} of {len(outcomes)}")
    if notes:
        return f"{text} ({', '.join(notes)})", None
    return text, mean


def training_length(config: ExperimentConfig) -> str:
    """``3 epochs``, ``1 epoch`` or ``200 steps``."""
    if config.steps is not None:
        return f"{config.steps} step{'s' * (config.steps != 1)}"
    epochs = config.epochs or 1
    return f"{epochs} epoch{'s' * (epochs != 1)}"


def format_atlas(outcomes: Sequence[TrainOutcome], runs: Sequence[str], seeds: Sequence[int], length: str) -> str:
    """Initialisers down, activations across, test accuracy in the cells, the best of every column in bold."""
    inits, activations = grid_axes(runs)
    cells = {(i, a): accuracy_cell(f"{i}:{a}", outcomes) for i in inits for a in activations}
    best = {
        a: max((round(mean, 1) for i in inits if (mean := cells[i, a][1]) is not None), default=None)
        for a in activations
    }

    def shown(init: str, activation: str) -> str:
        text, mean = cells[init, activation]
        return f"**{text}**" if mean is not None and round(mean, 1) == best[activation] else text

    caption = (
        f"Test accuracy (%) after {length}, {seeds_text(seeds)}. Bold: the highest mean "
        "of its column. Diverged: the training loss became non-finite and the run was frozen."
    )
    table = markdown_table(["init", *activations], [[i, *(shown(i, a) for a in activations)] for i in inits])
    return f"{caption}\n\n{table}"


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


def train_preset(
    config: ExperimentConfig,
    data: MNISTData,
    log_dir: Path,
    label: str,
    *,
    run_dir: Path | None = None,
    header: dict | None = None,
    progress: IO[str] | None = None,
    keep_weights: bool = True,
) -> list[TrainOutcome]:
    """Train ``config`` to the end (logged under ``log_dir``, or at ``run_dir``) and collect what the criteria
    look at: one outcome per seed of ``config.run_seeds``, in that order (one for an experiment of one seed).
    ``header`` replaces the log's ``reproduce`` mark; ``progress`` takes the step counter (stderr)."""
    extra = {"dataset": data.description, **(header if header is not None else {"reproduce": True})}
    log = RunLog.create(log_dir, config, extra) if run_dir is None else RunLog(run_dir, config, extra)
    by_seed = {seed: TrainOutcome(seed, losses={spec.name: [] for spec in config.runs}) for seed in config.run_seeds}
    # every run id's (seed's outcome, run name), as the engine numbers the replicas
    runs = {run.id: (by_seed[run.seed_or(config.seed)], run.name) for run in experiment_runs(config)}
    counter = StepCounter(label, config.total_steps(len(data.train_labels)), progress)

    def emit(event: Event) -> None:  # train_logged has written it to the log already
        if isinstance(event, TrainProgress):
            for run_id, losses in zip(event.run_ids, event.losses):
                outcome, name = runs[run_id]
                outcome.losses[name].extend(losses)
            counter.update(event.step)
        elif isinstance(event, JacobianSpectra) and event.step == 0:
            for run_id, spectrum in zip(event.run_ids, event.spectra):
                outcome, name = runs[run_id]
                outcome.initial_ratio[name] = spectrum.ratio
                outcome.initial_xi_c[name] = spectrum.xi_c
                outcome.initial_depth_scale[name] = (
                    None if spectrum.c_star is None else fitted_depth_scale(spectrum.correlation, spectrum.c_star))
        elif isinstance(event, Evaluation) and float(event.epoch).is_integer():
            for run_id, accuracy in zip(event.run_ids, event.test_acc):
                outcome, name = runs[run_id]
                outcome.epoch_test_acc.setdefault(name, {})[int(event.epoch)] = accuracy

    def warn(failure: str) -> None:
        print(f"  {label}: warning: {failure}; training goes on", file=sys.stderr)

    try:
        finished, engine = train_logged(config, data, log, emit, on_log_failure=warn)
    finally:
        counter.clear()
    for outcome in by_seed.values():
        outcome.status, outcome.elapsed_s = finished.status, finished.elapsed_s
    if finished.status == "error":
        print(f"  {label}: error: {finished.message}", file=sys.stderr)
    for result in finished.results:
        outcome = by_seed[result.seed_or(config.seed)]
        outcome.test_acc[result.name] = result.test_acc
        outcome.statuses[result.name] = result.status
        if keep_weights:
            weights, _ = engine.run_weights(result.id)
            outcome.hidden_weights[result.name] = weights[:-1]
    return list(by_seed.values())


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


@dataclass(frozen=True)
class Dispatch:
    """Where reproduce's experiments train (the sweep runner's options) and what every one of them needs."""

    data: MNISTData
    data_dir: str | None
    log_dir: Path
    execution: Execution = Execution()


def _train_all(experiments: Sequence[tuple[str, ExperimentConfig]], dispatch: Dispatch,
               keep_weights: bool = False) -> list[list[TrainOutcome]] | None:
    """Train every ``(label, config)`` through the sweep runner (here one at a time, or in processes or Ray
    tasks), a line on stderr after each; every experiment's outcomes (one per seed) in the given order, None
    when interrupted."""
    execution = dispatch.execution
    remote = execution.ray or execution.jobs > 1
    token = share_token(dispatch.log_dir) if remote else ""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    tasks = [
        ExperimentTask(label, label, config, str(dispatch.log_dir / f"{stamp}-{label.replace(' ', '-')}"),
                       dispatch.data_dir, token, threads=execution.threads, ship_logs=execution.ship_logs,
                       keep_weights=keep_weights, header={"reproduce": True})
        for label, config in experiments
    ]

    def here(task: ExperimentTask) -> TaskResult:
        return TaskResult(task.name, train_preset(task.config, dispatch.data, dispatch.log_dir, task.label), None,
                          socket.gethostname())

    try:
        report = run_tasks(tasks, make_backend(execution, here), retries=execution.retries)
    finally:
        if token:
            (dispatch.log_dir / token).unlink(missing_ok=True)
    if report.interrupted:
        print("reproduce: interrupted", file=sys.stderr)
        return None
    experiments_outcomes = []
    for task in tasks:
        result = report.results.get(task.name) or report.last_results.get(task.name)
        outcomes = result.outcomes if result is not None else [TrainOutcome(seed, status="error")
                                                               for seed in task.config.run_seeds]
        first = outcomes[0]
        if len(outcomes) == 1:
            print(f"{task.label}: {first.status} in {first.elapsed_s:.1f} s ({_summary(first)})", file=sys.stderr)
        else:  # a seed group: its time, then each seed's accuracies on a line of its own
            print(f"{task.label}: {first.status} in {first.elapsed_s:.1f} s", file=sys.stderr)
            for outcome in outcomes:
                print(f"  seed {outcome.seed}: {_summary(outcome)}", file=sys.stderr)
        experiments_outcomes.append(outcomes)
    return experiments_outcomes


def seed_group(seeds: Sequence[int]) -> dict[str, object]:
    """The config overrides that train ``seeds`` as one seed group; one seed is an experiment of its own, as
    ``--seed`` makes it (its log and its run names as they were before seed groups)."""
    return {"seed": seeds[0], "seeds": list(seeds) if len(seeds) > 1 else []}


def seeds_label(label: str, seeds: Sequence[int]) -> str:
    """``book seed 3``, ``book seeds 0, 1, 2``: how progress names an experiment."""
    return f"{label} seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"


@dataclass
class SweepOutcome:
    """What the depth sweep left behind, by depth: the std ratios at initialisation and every seed's training."""

    sweep: Sweep
    length: str  # how long every run trained: "1 epoch"
    ratios: dict[int, dict[str, StdRatio]] = field(default_factory=dict)
    outcomes: dict[int, list[TrainOutcome]] = field(default_factory=dict)

    def verdicts(self) -> list[str]:
        return [verdict(depth, ratios[run]) for depth, ratios in self.ratios.items() for run in self.sweep.runs]


def run_depth_sweep(
    sweep: Sweep, seeds: Sequence[int], dispatch: Dispatch, device: str, overrides: dict
) -> SweepOutcome | None:
    """Every depth: measure the std ratios at initialisation; then train every depth, its seeds as one seed
    group; None when interrupted."""
    data = dispatch.data
    result = SweepOutcome(sweep, training_length(sweep.config(sweep.depths[0], **overrides)))
    for depth in sweep.depths:
        started = time.perf_counter()
        result.ratios[depth] = measure_std_ratios(sweep, depth, data)
        print(f"{sweep.name} depth {depth}: std ratios at initialisation, {sweep.draws} draws of "
              f"{len(sweep.runs)} runs, in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    # one seed group per depth: a depth's seeds train together
    experiments = [
        (seeds_label(f"{sweep.name} depth {depth}", seeds),
         sweep.config(depth, **{**overrides, **seed_group(seeds), "device": device}))
        for depth in sweep.depths
    ]
    outcomes = _train_all(experiments, dispatch)
    if outcomes is None:
        return None
    result.outcomes = dict(zip(sweep.depths, outcomes))
    return result


VERDICT_TEXT = {
    "pass": "pass",
    "fail": "**FAIL**",
    "not judged": f"not judged (prediction ≤ {BANDS[-1].smallest_prediction:g})",
    "gap shown": "gap shown",
}


def _number(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3g}"


def format_depth_sweep(result: SweepOutcome, seeds: Sequence[int]) -> str:
    """One row per run and depth (runs in the sweep's order, depths ascending), a caption above."""
    sweep = result.sweep
    caption = (
        f"Test accuracy (%) after {result.length}, {seeds_text(seeds)}. Std ratio: the std of the last hidden layer's "
        f"activations over the first's at initialisation, on the first {sweep.samples} training images; "
        f"measured: the median over {sweep.draws} weight draws, draw k being the weights seed k starts from "
        "(range in brackets); mean-field: the prediction of inittui.science.theory. Band: where measured ÷ mean-field "
        + " and ".join(f"{b.text} up to depth {b.deepest}" for b in BANDS)
        + f" (where the prediction is above {BANDS[-1].smallest_prediction:g}); deeper, the gap is shown."
    )
    header = ["run", "depth", "test acc", "std ratio: mean-field", "measured (range)", "measured ÷ mean-field",
              "band", "result"]
    rows = []
    for run in sweep.runs:
        for depth, ratios in result.ratios.items():
            ratio = ratios[run]
            band = band_for(depth, ratio.predicted)
            rows.append([
                run,
                str(depth),
                accuracy_cell(run, result.outcomes.get(depth, []))[0],
                _number(ratio.predicted),
                f"{_number(ratio.median)} ({_number(ratio.low)}–{_number(ratio.high)})",
                _number(ratio.gap),
                band.text if band else "—",
                VERDICT_TEXT[verdict(depth, ratio)],
            ])
    return f"{caption}\n\n{markdown_table(header, rows)}"


def run_reproduce(
    presets: list[str],
    seeds: list[int],
    *,
    device: str,
    data_dir: str | None,
    log_dir: Path,
    overrides: dict[str, dict] | None = None,
    sweep: Sweep | None = None,
    stream: IO[str] | None = None,
    execution: Execution = Execution(),
) -> int:
    """Train every preset (and the depth sweep, named ``depth-sweep``, depth by depth), its seeds as one seed
    group, run the probe, print the Markdown tables: the claims, then the atlas and the depth sweep where
    they ran.

    Returns 0 when every judged row and cell passes, 1 when one fails, 130 when interrupted. ``overrides``
    maps a preset name (or ``depth-sweep``) to keyword arguments for its configs; tests shorten runs with
    it, and shrink the sweep with ``sweep``. ``execution`` says where the experiments train (the sweep
    runner's options: one at a time here by default).
    """
    overrides = overrides or {}
    started = time.perf_counter()
    data = load_mnist(data_dir)
    dispatch = Dispatch(data, data_dir, log_dir, execution)
    print(f"reproduce: {data.description}; {', '.join(presets)}; seeds {', '.join(map(str, seeds))}; "
          f"device {device}, {torch.get_num_threads()} CPU threads; logs in {log_dir}", file=sys.stderr)
    rows: list[Row] = []
    tables: list[str] = []
    sweep_result: SweepOutcome | None = None
    for name in presets:
        if name == DEPTH_SWEEP.name:
            sweep_result = run_depth_sweep(sweep or DEPTH_SWEEP, seeds, dispatch, device, overrides.get(name, {}))
            if sweep_result is None:
                return 130
            tables.append(format_depth_sweep(sweep_result, seeds))
            continue
        preset = get_preset(name)
        config = preset.config(**{**overrides.get(name, {}), **seed_group(seeds), "device": device})
        trained = _train_all([(seeds_label(name, seeds), config)], dispatch,
                             keep_weights=any(c.metric == "unit_spread" for c in criteria_for(name)))
        if trained is None:
            return 130
        (outcomes,) = trained
        rows += [judge(c, outcomes) for c in criteria_for(name)]
        if name == ATLAS:
            length = training_length(preset.config(**overrides.get(name, {})))
            tables.append(format_atlas(outcomes, preset.runs, seeds, length))

    probe_started = time.perf_counter()
    probes = [_probe_outcome(seed) for seed in seeds]
    print(f"probe: done in {time.perf_counter() - probe_started:.1f} s", file=sys.stderr)
    rows += [judge(c, probes) for c in criteria_for(PROBE)]

    print("\n\n".join([format_markdown(rows, seeds), *tables]), file=stream or sys.stdout)
    judged = [row for row in rows if row.judged]
    failed = [row for row in rows if not row.passed]
    summary = f"reproduce: {sum(row.passed for row in judged)}/{len(judged)} passed"
    if sweep_result is not None:
        verdicts = sweep_result.verdicts()
        cells = [v for v in verdicts if v in ("pass", "fail")]
        failed_cells = cells.count("fail")
        summary += f"; {DEPTH_SWEEP.name}: {len(cells) - failed_cells}/{len(cells)} judged cells passed"
    else:
        failed_cells = 0
    print(f"{summary}; {(time.perf_counter() - started) / 60:.1f} min in all", file=sys.stderr)
    return 1 if failed or failed_cells else 0
