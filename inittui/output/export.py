"""A run log handed to where users already look: TensorBoard event files, or CSV.

Each run (an id with its initialiser and activation) becomes its own TensorBoard run, ``DIR/<log>/<id>_<init>_
<activation>``, with its scalars (train loss and accuracy every step, test accuracy and loss at every
evaluation) and each hidden layer's histograms as logged (activations, pre-activations, gradients, weights),
all at the experiment's steps, and its initialiser, activation and seed as hparams. The experiment's
throughput goes to ``DIR/<log>/experiment``. The log is read line by line, as every reader reads it: a damaged
line is skipped and counted, the rest exported. Only ``--tensorboard`` loads torch (its writer).
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inittui.core.errors import ConfigError, RunLogError
from inittui.core.events import (
    Evaluation,
    Event,
    ExperimentStarted,
    Histogram,
    LayerStats,
    RunRecord,
    RunsChanged,
    TrainProgress,
)
from inittui.runlog.catalogue import started_from_header
from inittui.runlog.layout import EVENTS_FILE
from inittui.runlog.reader import parse_line, read_config

INSTALL_HINT = "pip install 'inittui[tensorboard]'"


@dataclass(frozen=True)
class RunKey:
    """Which run a number belongs to: a run id in one spec (a run given a new initialiser is a new run here);
    ``id`` None for the experiment as a whole."""

    id: int | None
    init: str = ""
    activation: str = ""

    @property
    def directory(self) -> str:
        return "experiment" if self.id is None else f"{self.id}_{self.init}_{self.activation}"


EXPERIMENT = RunKey(None)


@dataclass(frozen=True)
class Scalar:
    run: RunKey
    tag: str
    step: int
    value: float


@dataclass(frozen=True)
class LayerHistogram:
    run: RunKey
    tag: str  # "<kind>/layer<n>", n from 1
    step: int
    histogram: Histogram


@dataclass
class ExportCounts:
    """What was written, and how many lines of the log could not be read."""

    runs: int = 0
    scalars: int = 0
    histograms: int = 0
    skipped: int = 0


@dataclass
class LogRecords:
    """Everything exportable in a run log, in the log's order (:meth:`records`), and, once read, the runs met,
    each with its hparams, and the number of lines skipped."""

    run_dir: Path
    header: dict[str, Any] = field(default_factory=dict)
    hparams: dict[RunKey, dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0
    _current: dict[int, RunKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self.header = read_config(self.run_dir)
        except RunLogError:
            self.header = {}  # the events still say what the runs were

    @property
    def seed(self) -> int | None:
        config = self.header.get("config")
        seed = config.get("seed") if isinstance(config, dict) else None
        return seed if isinstance(seed, int) else None

    def records(self) -> Iterator[Scalar | LayerHistogram]:
        path = self.run_dir / EVENTS_FILE
        try:
            stream = path.open("rb")
        except OSError as error:
            raise RunLogError(f"cannot read {path}: {error.strerror}") from None
        with stream:
            for line in stream:
                if not line.strip():
                    continue
                event = parse_line(line)
                if event is None:
                    self.skipped += 1
                    continue
                yield from self._of(event)

    def _runs(self, records: list[RunRecord], experiment: dict[str, Any]) -> None:
        self._current = {}
        for record in records:
            key = RunKey(record.id, record.spec.init, record.spec.activation)
            self._current[record.id] = key
            seed = experiment.get("seed", self.seed)
            self.hparams.setdefault(key, {"init": key.init, "activation": key.activation, "run": record.id,
                                          "seed": seed if isinstance(seed, int) else -1})

    def _of(self, event: Event) -> Iterator[Scalar | LayerHistogram]:
        if not self._current and not isinstance(event, ExperimentStarted):
            # the log's first line is lost: the runs as config.json names them, as the viewer rebuilds them
            started = started_from_header(self.header)
            if started is not None:
                self._runs(started.runs, started.config)
        match event:
            case ExperimentStarted():
                self._runs(event.runs, event.config)
            case RunsChanged():
                self._runs(event.runs, {})
            case TrainProgress():
                yield Scalar(EXPERIMENT, "throughput/samples_per_s", event.step, float(event.samples_per_s))
                for run_id, losses, accuracies in zip(event.run_ids, event.losses, event.accuracies):
                    key = self._current.get(run_id)
                    if key is None:
                        continue
                    # a chunk's values are its steps up to the event's: every run trains on each step
                    first = event.step - len(losses) + 1
                    yield from _per_step(key, "loss/train", first, losses)
                    yield from _per_step(key, "accuracy/train", event.step - len(accuracies) + 1, accuracies)
            case Evaluation():
                for run_id, accuracy, loss in zip(event.run_ids, event.test_acc, event.test_loss):
                    key = self._current.get(run_id)
                    if key is None:
                        continue
                    if accuracy is not None:
                        yield Scalar(key, "accuracy/test", event.step, float(accuracy))
                    if loss is not None:
                        yield Scalar(key, "loss/test", event.step, float(loss))
            case LayerStats():
                for run_id, layers in zip(event.run_ids, event.layers):
                    key = self._current.get(run_id)
                    if key is None:
                        continue
                    for number, layer in enumerate(layers, start=1):
                        for kind, histogram in layer.histograms.items():
                            yield LayerHistogram(key, f"{kind}/layer{number}", event.step, histogram)


def _per_step(key: RunKey, tag: str, first: int, values: list[float | None]) -> Iterator[Scalar]:
    for offset, value in enumerate(values):
        if value is not None:  # a run that did not train that step (diverged)
            yield Scalar(key, tag, first + offset, float(value))


def bucket_limits(histogram: Histogram) -> list[float]:
    """The right edge of each of the histogram's equal-width bins, as TensorBoard's buckets are given."""
    bins = len(histogram.counts)
    width = (histogram.high - histogram.low) / max(bins, 1)
    return [histogram.low + width * (index + 1) for index in range(bins)]


def _moments(histogram: Histogram) -> tuple[float, float]:
    """Sum and sum of squares of the values, each taken at its bin's centre: the log keeps counts, not values."""
    limits = bucket_limits(histogram)
    width = (histogram.high - histogram.low) / max(len(limits), 1)
    centres = [limit - width / 2 for limit in limits]
    total = math.fsum(c * n for c, n in zip(centres, histogram.counts))
    squares = math.fsum(c * c * n for c, n in zip(centres, histogram.counts))
    return total, squares


def export_directory(run_dir: Path, out_dir: Path) -> Path:
    """Where a run log's export goes, ``out_dir/<the log's name>``; ConfigError if it is there already (the
    points would show twice in TensorBoard) or cannot be made."""
    target = Path(out_dir).expanduser() / Path(run_dir).resolve().name
    if target.exists():
        raise ConfigError(f"{target} exists already: export into another directory, or remove it first")
    try:
        target.mkdir(parents=True)
    except OSError as error:
        raise ConfigError(f"cannot create {target}: {error.strerror}") from None
    return target


def require_tensorboard() -> None:
    """ConfigError, saying how to install it, where TensorBoard is not installed (before torch is loaded)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(f"--tensorboard needs TensorBoard, which is not installed: {INSTALL_HINT}")


def export_tensorboard(run_dir: Path, out_dir: Path) -> tuple[Path, ExportCounts]:
    """Write the run log as TensorBoard event files under ``out_dir``; where they went, and what was written."""
    require_tensorboard()
    target = export_directory(run_dir, out_dir)
    from torch.utils.tensorboard import SummaryWriter  # torch only for this command
    from torch.utils.tensorboard.summary import hparams

    log = LogRecords(Path(run_dir))
    writers: dict[RunKey, SummaryWriter] = {}
    counts = ExportCounts()

    def writer(key: RunKey) -> SummaryWriter:
        if key not in writers:
            writers[key] = SummaryWriter(log_dir=str(target / key.directory))
            if key in log.hparams:
                # the hparams summaries in the run's own event file, so TensorBoard's HParams tab lists this run
                for summary in hparams(log.hparams[key], {"accuracy/test": 0.0}):
                    writers[key].file_writer.add_summary(summary)
        return writers[key]

    try:
        for record in log.records():
            if isinstance(record, Scalar):
                writer(record.run).add_scalar(record.tag, record.value, record.step)
                counts.scalars += 1
                continue
            histogram = record.histogram
            total, squares = _moments(histogram)
            writer(record.run).add_histogram_raw(
                record.tag, min=histogram.low, max=histogram.high, num=sum(histogram.counts), sum=total,
                sum_squares=squares, bucket_limits=bucket_limits(histogram), bucket_counts=histogram.counts,
                global_step=record.step,
            )
            counts.histograms += 1
    finally:
        for each in writers.values():
            each.close()
    counts.runs, counts.skipped = len(log.hparams), log.skipped
    return target, counts


def export_csv(run_dir: Path, out_dir: Path) -> tuple[Path, ExportCounts]:
    """Write the run log as ``runs.csv`` (each run's hparams), ``scalars.csv`` (run, tag, step, value) and
    ``histograms.csv`` (run, tag, step, and each bin's low and high edge and count) under ``out_dir``."""
    target = export_directory(run_dir, out_dir)
    log = LogRecords(Path(run_dir))
    counts = ExportCounts()
    with (target / "scalars.csv").open("w", newline="") as scalars_file, \
            (target / "histograms.csv").open("w", newline="") as histograms_file:
        scalars, histograms = csv.writer(scalars_file), csv.writer(histograms_file)
        scalars.writerow(["run", "tag", "step", "value"])
        histograms.writerow(["run", "tag", "step", "low", "high", "count"])
        for record in log.records():
            if isinstance(record, Scalar):
                scalars.writerow([record.run.directory, record.tag, record.step, repr(record.value)])
                counts.scalars += 1
                continue
            histogram = record.histogram
            lows = [histogram.low, *bucket_limits(histogram)[:-1]]
            for low, high, count in zip(lows, bucket_limits(histogram), histogram.counts):
                histograms.writerow([record.run.directory, record.tag, record.step, repr(low), repr(high), count])
            counts.histograms += 1
    with (target / "runs.csv").open("w", newline="") as runs_file:
        runs = csv.writer(runs_file)
        runs.writerow(["run", "init", "activation", "seed"])
        for key, values in log.hparams.items():
            runs.writerow([key.directory, values["init"], values["activation"], values["seed"]])
    counts.runs, counts.skipped = len(log.hparams), log.skipped
    return target, counts
