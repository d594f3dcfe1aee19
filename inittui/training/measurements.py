"""The engine's measurements of its runs: the layer statistics and the Jacobian spectrum, each at a cadence that
keeps its cost within a share of training time, beside what the mean field predicts for them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from inittui.core.config import RunSpec
from inittui.core.events import Event, JacobianSpectra, LayerStats, unit_shares
from inittui.science.activations import Activation, get_activation
from inittui.science.initializers import get_initializer, is_user_initializer
from inittui.science.spectrum import jacobian_spectra
from inittui.science.statistics import finite_or_none, layer_statistics
from inittui.science.theory import (
    depth_scale,
    predicted_activation_std,
    predicted_correlations,
    predicted_from_weights,
)
from inittui.training.devices import synchronize
from inittui.training.model import ForwardRecord, forward, initial_weights, run_seed

if TYPE_CHECKING:
    from inittui.training.engine import Engine

# the statistics may take this share of training time when --stats-every is not given
STATS_TIME_BUDGET = 0.025
AUTO_STATS_FIRST_INTERVAL = 20
AUTO_STATS_MIN_INTERVAL = 10
AUTO_STATS_MAX_INTERVAL = 1000
# the Jacobian spectrum, on the first SPECTRUM_IMAGES training images, takes at most this share of training
# time: its SVDs (one per image, layer and run) cost far more than the statistics, about 0.25 s at `compare` on
# a 2-core CPU, so it has a cadence of its own, and with the statistics' 2.5 % the two stay within 3 %
SPECTRUM_TIME_BUDGET = 0.005
SPECTRUM_IMAGES = 32


class StatsCadence:
    """When to compute layer statistics: every ``fixed`` steps, or, without one, as often as keeps their cost
    within STATS_TIME_BUDGET of training time, measured as training goes (it differs by device and model)."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.next_step = 0
        # (wall time, step) when the last statistics were done; None after a pause
        self._mark: tuple[float, int] | None = None
        # training time per step, measured between the last two statistics steps
        self.seconds_per_step: float | None = None

    def due(self, step: int) -> bool:
        return step >= self.next_step

    def record(self, step: int, started: float, finished: float) -> None:
        """Statistics of ``step`` took from ``started`` to ``finished``; schedule the next ones."""
        if self.fixed is not None:
            interval = self.fixed
        elif self._mark is None or step <= self._mark[1]:
            interval = AUTO_STATS_FIRST_INTERVAL
        else:
            self.seconds_per_step = seconds_per_step = max(started - self._mark[0], 1e-9) / (step - self._mark[1])
            wanted = math.ceil((finished - started) / (STATS_TIME_BUDGET * seconds_per_step))
            interval = min(max(wanted, AUTO_STATS_MIN_INTERVAL), AUTO_STATS_MAX_INTERVAL)
        self.next_step = step + interval
        self._mark = (finished, step)

    def exclude(self, seconds: float) -> None:
        """``seconds`` just spent (on the spectrum) were neither training nor these statistics."""
        if self._mark is not None:
            self._mark = (self._mark[0] + seconds, self._mark[1])

    def resume(self, step: int) -> None:
        """Time paused is not training time."""
        self._mark = (time.perf_counter(), step)


class SpectrumCadence:
    """When to measure the Jacobian spectrum: at the first statistics step, at the first one after a run starts
    afresh, and otherwise as often as keeps its cost within SPECTRUM_TIME_BUDGET of training time. It is
    measured only at statistics steps, whose cadence says how long a training step takes."""

    def __init__(self) -> None:
        self._next_step: int | None = 0
        # (step, seconds) of the last spectrum, until the statistics' cadence has timed a training step after it
        self._last: tuple[int, float] | None = None

    def due(self, step: int, seconds_per_step: float | None) -> bool:
        if self._next_step is None and self._last is not None and seconds_per_step is not None:
            last_step, seconds = self._last
            self._next_step = last_step + max(math.ceil(seconds / (SPECTRUM_TIME_BUDGET * seconds_per_step)), 1)
        return self._next_step is not None and step >= self._next_step

    def record(self, step: int, seconds: float) -> None:
        self._next_step, self._last = None, (step, seconds)

    def soon(self) -> None:
        """A run starts afresh: its spectrum at initialisation is the one that matters most."""
        self._next_step = 0


@dataclass(frozen=True)
class SpectrumInputs:
    """A statistics step's weights as the spectrum sees them: the spectrum images' pre-activations ``[runs,
    images, width]`` per hidden layer, the hidden weights 2…L, each run's activation (stack order), and the
    experiment's runs (ids in the records' order, their specs and stack positions)."""

    step: int
    preactivations: list[torch.Tensor]
    weights: list[torch.Tensor]
    activations: list[Activation]
    run_ids: list[int]
    specs: list[RunSpec]
    positions: list[int]
    seconds: float


class Measurements:
    """The statistics and spectrum steps of ``engine``'s loop, their cadences, the mean-field predictions
    they are shown beside, and the events they produce until the next flush takes them."""

    def __init__(self, engine: Engine, cpu_train_images: torch.Tensor, input_second_moment: float) -> None:
        self._engine = engine
        self._spectrum_images = cpu_train_images[:SPECTRUM_IMAGES]
        self._input_second_moment = input_second_moment
        self.cadence = StatsCadence(engine.config.stats_every)
        self.spectrum_cadence = SpectrumCadence()
        self._pending_stats: LayerStats | None = None
        self._pending_spectra: JacobianSpectra | None = None
        self._captured: SpectrumInputs | None = None
        self._predicted: dict[RunSpec, tuple[list[float | None], list[float | None]]] = {}
        self._correlation_predicted: dict[tuple[str, tuple[float | None, ...]],
                                          tuple[list[float | None], float | None, float | None]] = {}

    def take_pending(self) -> list[Event]:
        """The latest statistics, then the latest spectra, measured since the last call."""
        pending = [event for event in (self._pending_stats, self._pending_spectra) if event is not None]
        self._pending_stats = self._pending_spectra = None
        return pending

    def statistics_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """An eager training step that records what the layer statistics need, then the statistics."""
        engine, stack = self._engine, self._engine.stack
        # the work queued before this step is training's ...
        synchronize(engine.device)
        if self.spectrum_cadence.due(engine.step, self.cadence.seconds_per_step):
            # a measurement on fixed images with a budget of its own, not training: off the throughput's clock,
            # as the test evaluation is
            with engine.meter.stopped():
                self._capture_spectrum()  # before the step's update: at step 0, of the initial weights
        record = ForwardRecord()
        stack.train_step(x, y, record)
        started = time.perf_counter()
        # ... the wait for this eager step, there only for its records, is the statistics'
        synchronize(engine.device)
        stats = layer_statistics(
            record.preactivations,
            record.activations,
            record.activation_grads,
            record.weights,
            record.weight_grads,
            stack.weights[: len(record.weights)],
            stack.activations.per_run,
            [self.predictions(run.spec)[0] for run in stack.runs],
            engine.config.histogram_bins,
        )
        # layer_statistics ends with a copy to the host, so its work is done here
        self.cadence.record(engine.step, started, time.perf_counter())
        runs = engine.records
        layers = [stats[p] for p in stack.positions([run.id for run in runs])]
        with engine.records_lock:
            for run, run_layers in zip(runs, layers):
                run.dead, run.saturated = unit_shares(run_layers)
        self._pending_stats = LayerStats(
            engine.step,
            [run.id for run in runs],
            layers,
            [self.predictions(run.spec)[1] for run in runs],
        )

    @property
    def spectrum_captured(self) -> bool:
        """Whether a statistics step has taken what the spectrum needs, for :meth:`measure_spectra`."""
        return self._captured is not None

    def _capture_spectrum(self) -> None:
        """What the spectrum of this step's weights needs, kept past the step's update: the pre-activations of
        the spectrum images and copies of the hidden weights (a forward pass; the SVDs come later)."""
        engine, stack = self._engine, self._engine.stack
        started = time.perf_counter()
        with torch.no_grad():
            record = ForwardRecord()
            forward(engine.data.train_images[:SPECTRUM_IMAGES], stack.weights, stack.biases, stack.activations, record)
        run_ids = [run.id for run in engine.records]
        positions = stack.positions(run_ids)
        self._captured = SpectrumInputs(
            engine.step, record.preactivations, [weight.detach().clone() for weight in stack.weights[1:-1]],
            list(stack.activations.per_run), run_ids, [stack.runs[position].spec for position in positions],
            positions, time.perf_counter() - started)

    def measure_spectra(self) -> None:
        """Every run's Jacobian spectrum and correlations on the images captured at a statistics step, beside the
        mean field's. Called after the flush that sent that step's progress: at 60 runs the SVDs take as long as
        50 training steps, and the dashboard shows training under way first. Its time is left out of the
        statistics' cadence (the spectrum has its own)."""
        captured, self._captured = self._captured, None
        if captured is None:
            return
        started = time.perf_counter()
        with torch.no_grad():
            measured = jacobian_spectra(captured.preactivations, captured.weights, captured.activations)
        seconds = captured.seconds + time.perf_counter() - started
        self.spectrum_cadence.record(captured.step, seconds)
        self.cadence.exclude(seconds)
        spectra = []
        for position, spec in zip(captured.positions, captured.specs):
            correlation, c_star, chi_c = self.correlation_theory(spec)
            spectra.append(replace(measured[position], predicted_correlation=correlation, c_star=c_star, chi_c=chi_c))
        self._pending_spectra = JacobianSpectra(captured.step, captured.run_ids, spectra, seconds, SPECTRUM_IMAGES)

    def correlation_theory(self, spec: RunSpec) -> tuple[list[float | None], float | None, float | None]:
        """The mean-field correlation per hidden layer on the spectrum images, c* and chi_c of the hidden stack's
        layers (each activation and weight variances once: the prediction is of initialisation, and initialisers
        that state the same variances, such as he and he-uniform, share it)."""
        sizes = self._engine.config.layer_sizes
        variances = [None if std is None else std * std * n_in
                     for std, n_in in zip(self.predictions(spec)[0], sizes[:-2])]
        if spec.init == "constant":  # not random: the mean field does not apply (as for its std)
            variances = [None] * len(variances)
        key = (spec.activation, tuple(variances))
        if key not in self._correlation_predicted:
            correlation = [finite_or_none(c) if c is not None else None
                           for c in predicted_correlations(spec.activation, variances, self._spectrum_images)]
            c_star = chi_c = None
            if len(variances) > 1 and variances[1] is not None:
                scale = depth_scale(spec.activation, variances[1])
                c_star, chi_c = finite_or_none(scale.c_star), finite_or_none(scale.chi_c)
            self._correlation_predicted[key] = (correlation, c_star, chi_c)
        return self._correlation_predicted[key]

    def predictions(self, spec: RunSpec) -> tuple[list[float | None], list[float | None]]:
        """Per hidden layer: the initialiser's weight std and the mean-field activation std at initialisation."""
        if spec not in self._predicted and is_user_initializer(spec.init):
            self._predicted[spec] = self._drawn_predictions(spec)
        if spec not in self._predicted:
            sizes = self._engine.config.layer_sizes
            initializer, activation = get_initializer(spec.init), get_activation(spec.activation)
            weight_std = [initializer.weight_std(n_in, n_out, activation) for n_in, n_out in zip(sizes[:-2], sizes[1:-1])]
            activation_std = predicted_activation_std(spec.init, spec.activation, sizes[:-1], self._input_second_moment)
            self._predicted[spec] = (weight_std, activation_std)
        return self._predicted[spec]

    def _drawn_predictions(self, spec: RunSpec) -> tuple[list[float | None], list[float | None]]:
        """A user's initialiser states no variance: the prediction is from the variance of the weights it drew
        (the spec's first draw of the first seed; the draw is deterministic, so these are that run's own weights,
        and in a seed group the other seeds' prediction too, drawn from the same variance)."""
        config = self._engine.config
        weights, _ = initial_weights(spec, config.layer_sizes, run_seed(config.run_seeds[0], spec, 0), None)
        hidden = weights[:-1]
        weight_std: list[float | None] = [float(weight.std(correction=0)) for weight in hidden]
        return weight_std, predicted_from_weights(spec.activation, hidden, self._input_second_moment)
