"""The one fold of an experiment's event stream: what each run is, was and measured, from its events alone.

The live dashboard folds the engine's events as they arrive; ``inittui view`` folds the same events read from
the run log; ``inittui runs`` folds them to summarise a log. Each run is kept as its *lives*: a life begins
when the run (re)starts (a restart, a new initialiser or activation) and holds that life's record, its loss
and accuracy curves (:class:`~inittui.series.curve.MinMaxSeries`, fed every step), its test accuracies and its
latest layer statistics. Numbers of one life never leak into another, and a time cursor on a past step finds
the life that was training then.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace
from typing import Any

from inittui.core.events import (
    DeviceChanged,
    Evaluation,
    Event,
    ExperimentFinished,
    ExperimentStarted,
    JacobianSpectra,
    LayerStat,
    LayerStats,
    Notice,
    RunRecord,
    RunSpectrum,
    RunsChanged,
    StateChanged,
    TrainProgress,
    unit_shares,
)
from inittui.series.curve import MinMaxSeries

# the parts of a screen an event can make stale
HEADER, TABLE, CURVES, LAYERS = "header", "table", "curves", "layers"
EVERYTHING = frozenset({HEADER, TABLE, CURVES, LAYERS})
# buckets of a life's curves; a past life keeps fewer, and a run keeps at most LIVES_KEPT lives
CURVE_BUCKETS = 1024
PAST_LIFE_BUCKETS = 256
LIVES_KEPT = 32
# Jacobian spectra a life keeps (they are rare: their own cadence keeps them within 0.5 % of training time)
SPECTRA_KEPT = 64


@dataclass
class RunLife:
    """One life of a run: from its (re)start at experiment step ``started_at`` until the next."""

    record: RunRecord
    started_at: int
    loss: MinMaxSeries
    accuracy: MinMaxSeries
    # (run step, test accuracy) at each evaluation
    test: list[tuple[int, float]] = field(default_factory=list)
    # the latest layer statistics of this life, the mean-field prediction of each layer's activation std, and
    # the experiment step they were measured at
    layers: list[LayerStat] = field(default_factory=list)
    predicted: list[float | None] = field(default_factory=list)
    layers_step: int | None = None
    # (experiment step, spectrum) of this life, oldest first, at most SPECTRA_KEPT
    spectra: list[tuple[int, RunSpectrum]] = field(default_factory=list)

    def spectrum_at(self, step: int | None) -> tuple[int, RunSpectrum] | None:
        """The latest spectrum measured at or before ``step`` (None: the latest of all)."""
        known = [entry for entry in self.spectra if step is None or entry[0] <= step]
        return known[-1] if known else None

    @classmethod
    def begin(cls, record: RunRecord, started_at: int) -> RunLife:
        # buckets one step wide at first, merging as the life grows: its first steps are drawn finely however
        # long the experiment is meant to be
        return cls(record, started_at, MinMaxSeries(CURVE_BUCKETS), MinMaxSeries(CURVE_BUCKETS))

    def retire(self) -> None:
        """This life has ended: its curves shrink to PAST_LIFE_BUCKETS buckets."""
        self.loss = self.loss.shrunk(PAST_LIFE_BUCKETS)
        self.accuracy = self.accuracy.shrunk(PAST_LIFE_BUCKETS)

    def record_at(self, run_step: int) -> RunRecord:
        """The record as it stood at ``run_step`` of this life (its latest at or past its last step): before
        its last step the run was still training."""
        if run_step >= self.record.step:
            return self.record
        if run_step <= 0:  # nothing trained yet
            return replace(self.record, status="running", step=0, train_loss=None, train_acc=None, test_acc=None,
                           best_test_acc=None)
        tests = [accuracy for step, accuracy in self.test if step <= run_step]
        return replace(
            self.record,
            status="running",
            step=max(run_step, 0),
            train_loss=self.loss.value_at(run_step),
            train_acc=self.accuracy.value_at(run_step),
            test_acc=tests[-1] if tests else None,
            best_test_acc=max(tests) if tests else None,
        )


@dataclass
class FoldedRun:
    """A run and its lives, oldest first; the last is the one training now."""

    id: int
    lives: list[RunLife]

    @property
    def life(self) -> RunLife:
        return self.lives[-1]

    @property
    def record(self) -> RunRecord:
        return self.life.record

    def life_at(self, step: int) -> RunLife | None:
        """The life that was training at experiment ``step``; None before the first (or a dropped) one."""
        starts = [life.started_at for life in self.lives]
        position = bisect.bisect_right(starts, step) - 1
        return self.lives[position] if position >= 0 else None

    def life_evaluated_at(self, step: int) -> RunLife | None:
        """The life whose weights an evaluation at experiment ``step`` measured: the one that trained that
        step. A life begun at ``step`` has trained nothing yet, so it is the one before: R at an epoch's end
        comes after that epoch's evaluation, whichever of the two a log tells first."""
        position = bisect.bisect_left([life.started_at for life in self.lives], step) - 1
        if position < 0:
            return self.lives[0] if step == 0 else None  # at step 0 the first life is untrained and measured
        return self.lives[position]


@dataclass
class Experiment:
    """The experiment as a whole, as the header shows it."""

    config: dict[str, Any] = field(default_factory=dict)
    preset: str = ""
    device: str = ""
    device_name: str = ""
    dataset: str = ""
    # starting (nothing yet), running, paused, done, stopped, error, probe
    state: str = "starting"
    step: int = 0
    epoch: float = 0.0
    total_steps: int = 0
    steps_per_epoch: int = 1
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0
    device_memory_mb: float | None = None
    finished: ExperimentFinished | None = None
    # the latest Jacobian spectrum's step, and how many steps after the one before it came (its own cadence)
    spectrum_step: int | None = None
    spectrum_interval: int | None = None


class RunFold:
    """Folds events, in order, into :attr:`experiment` and :attr:`runs` (by id, in the producer's order).

    :meth:`apply` returns the parts of a screen the event made stale. An event whose fields are not what its
    type says raises (TypeError, ValueError, …) before changing anything it has not already read: the run log's
    reader rejects such lines, so from a log it does not happen.

    With ``curves=False`` the loss and accuracy curves stay empty and everything else is folded as ever:
    ``inittui runs`` needs a log's status and numbers, not its curves, which are most of the folding's cost.
    """

    def __init__(self, *, curves: bool = True) -> None:
        self.experiment = Experiment()
        self.runs: dict[int, FoldedRun] = {}
        self.curves = curves

    def apply(self, event: Event) -> set[str]:
        match event:
            case ExperimentStarted():
                return self._started(event)
            case RunsChanged():
                self._sync(event.runs, event.step)
                return {TABLE, CURVES, LAYERS}
            case TrainProgress():
                return self._progress(event)
            case LayerStats():
                return self._layers(event)
            case JacobianSpectra():
                return self._spectra(event)
            case Evaluation():
                return self._evaluation(event)
            case StateChanged():
                self.experiment.state = event.state
                return {HEADER, TABLE}
            case DeviceChanged():
                self.experiment.device, self.experiment.device_name = event.device, event.device_name
                return {HEADER}
            case ExperimentFinished():
                return self._finished(event)
            case Notice():
                return set()
        raise TypeError(f"not an event: {event!r}")

    # ------------------------------------------------------------------ the runs
    def _started(self, event: ExperimentStarted) -> set[str]:
        self.__init__(curves=self.curves)
        experiment = self.experiment
        experiment.config = event.config
        experiment.preset = str(event.config.get("preset", ""))
        experiment.device, experiment.device_name = event.device, event.device_name
        experiment.dataset = event.dataset
        experiment.total_steps, experiment.steps_per_epoch = int(event.total_steps), max(int(event.steps_per_epoch), 1)
        experiment.state = "probe" if experiment.preset == "probe" else "running"
        self._sync(event.runs, 0)
        return set(EVERYTHING)

    def _sync(self, records: list[RunRecord], step: int) -> None:
        """The producer's table of runs: a new run, or a run whose spec or draw changed, or whose step went
        back, begins a life; a run left out was removed."""
        runs: dict[int, FoldedRun] = {}
        for record in records:
            run = self.runs.get(record.id)
            started_at = max(int(step) - record.step, 0)
            if run is None:
                run = FoldedRun(record.id, [RunLife.begin(replace(record), started_at)])
            elif record.spec != run.record.spec or record.draw != run.record.draw or record.step < run.record.step:
                self._begin_life(run, replace(record), started_at)
            else:
                run.life.record = _merged(run.record, record)
            runs[record.id] = run
        self.runs = runs

    def _begin_life(self, run: FoldedRun, record: RunRecord, started_at: int) -> None:
        run.life.retire()
        run.lives.append(RunLife.begin(record, started_at))
        del run.lives[:-LIVES_KEPT]

    def _progress(self, event: TrainProgress) -> set[str]:
        experiment = self.experiment
        rows = list(zip(event.run_ids, event.run_steps, event.losses, event.accuracies, strict=True))
        # every progress line of every log read comes here: each run's life and record looked up once
        runs, curves = self.runs, self.curves
        for run_id, run_step, losses, accuracies in rows:
            run = runs.get(run_id)
            if run is None:
                continue
            life = run.lives[-1]
            record = life.record
            if run_step < record.step:  # restarted without a word (a log from before restarts were told)
                fresh = RunRecord(run.id, record.spec, record.status, draw=record.draw, seed=record.seed)
                self._begin_life(run, fresh, max(int(event.step) - int(run_step), 0))
                life = run.lives[-1]
                record = life.record
            if curves:
                first = int(run_step) - len(losses) + 1
                life.loss.extend(first, losses)
                life.accuracy.extend(first, accuracies)
            record.step = int(run_step)
            last = _last_value(losses)
            if last is not None:
                record.train_loss = float(last)
            accuracy = _mean(accuracies)
            if accuracy is not None:
                record.train_acc = accuracy
        experiment.step, experiment.epoch = int(event.step), float(event.epoch)
        experiment.samples_per_s, experiment.elapsed_s = float(event.samples_per_s), float(event.elapsed_s)
        experiment.device_memory_mb = event.device_memory_mb
        if experiment.state == "starting":
            experiment.state = "running"
        return {HEADER, TABLE, CURVES}

    def _layers(self, event: LayerStats) -> set[str]:
        predicted = event.predicted_std
        for index, (run_id, layers) in enumerate(zip(event.run_ids, event.layers, strict=True)):
            run = self.runs.get(run_id)
            if run is None:
                continue
            life = run.life
            life.layers = layers
            life.predicted = list(predicted[index]) if index < len(predicted) else []
            life.layers_step = int(event.step)
            life.record.dead, life.record.saturated = unit_shares(layers)
        return {TABLE, LAYERS}

    def _spectra(self, event: JacobianSpectra) -> set[str]:
        experiment, step = self.experiment, int(event.step)
        if experiment.spectrum_step is not None and step > experiment.spectrum_step:
            experiment.spectrum_interval = step - experiment.spectrum_step
        experiment.spectrum_step = step
        for run_id, spectrum in zip(event.run_ids, event.spectra, strict=True):
            run = self.runs.get(run_id)
            if run is not None:
                run.life.spectra.append((int(event.step), spectrum))
                del run.life.spectra[:-SPECTRA_KEPT]
        return {LAYERS, HEADER}

    def _evaluation(self, event: Evaluation) -> set[str]:
        for run_id, accuracy in zip(event.run_ids, event.test_acc, strict=True):
            run = self.runs.get(run_id)
            if run is None or accuracy is None or not math.isfinite(accuracy):
                continue
            life = run.life_evaluated_at(int(event.step))
            if life is None:
                continue
            record = life.record
            life.test.append((record.step, float(accuracy)))
            record.test_acc = float(accuracy)
            record.best_test_acc = max(float(accuracy), record.best_test_acc or float(accuracy))
        return {TABLE, CURVES}

    def _finished(self, event: ExperimentFinished) -> set[str]:
        experiment = self.experiment
        experiment.finished, experiment.state, experiment.step = event, event.status, int(event.step)
        for result in event.results:
            run = self.runs.get(result.id)
            if run is not None and result.spec == run.record.spec and result.draw == run.record.draw:
                run.life.record = _merged(run.record, result)
        return {HEADER, TABLE}


def _last_value(values: list[float | None]) -> float | None:
    """The last value that is not None, None without one."""
    if values and values[-1] is not None:  # the usual case: the run trained its last step
        return values[-1]
    return next((v for v in reversed(values) if v is not None), None)


def _mean(values: list[float | None]) -> float | None:
    """The mean of the finite values, None without one."""
    try:
        total = math.fsum(values)  # the usual case, at C speed: every value a finite number
        if math.isfinite(total) and values:
            return total / len(values)
    except (TypeError, ValueError, OverflowError):
        pass
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _merged(known: RunRecord, told: RunRecord) -> RunRecord:
    """``told`` (the producer's latest word on a run in the same life: its status and step), with the numbers
    the fold measured from the events themselves, ``told``'s filling only what the events did not say."""
    values = {
        name: getattr(told, name) if getattr(known, name) is None else getattr(known, name)
        for name in ("train_loss", "train_acc", "test_acc", "best_test_acc", "dead", "saturated")
    }
    return replace(told, step=max(told.step, known.step), **values)
