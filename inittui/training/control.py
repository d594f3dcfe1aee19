"""The engine's commands, applied by its loop between two steps: pause and resume, and the changes to its runs,
each answered once, by a RunsChanged or by a Notice that says why it was refused."""

from __future__ import annotations

import queue
from dataclasses import replace
from typing import TYPE_CHECKING

from inittui.core.commands import (
    AddRun,
    Command,
    Pause,
    RemoveRun,
    Restart,
    RestartAll,
    Resume,
    SetDevice,
    SetRun,
    Stop,
    TogglePause,
)
from inittui.core.config import RunSpec
from inittui.core.errors import ConfigError
from inittui.core.events import DeviceChanged, Notice, RunRecord, RunsChanged, StateChanged
from inittui.science.initializers import is_user_initializer
from inittui.training.devices import describe_device, resolve_device
from inittui.training.model import initial_weights, run_seed

if TYPE_CHECKING:
    from inittui.training.engine import Engine


def _fresh_life(run: RunRecord, spec: RunSpec, draw: int) -> None:
    """``run`` starts again: ``spec``'s weights of ``draw``, step 0, nothing measured yet."""
    run.spec, run.draw, run.status, run.step = spec, draw, "running", 0
    run.train_loss = run.train_acc = run.test_acc = run.best_test_acc = run.dead = run.saturated = None


class Control:
    """The commands sent to ``engine`` from any thread, queued until its loop applies them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.paused = False
        # whether the finished (lingering) experiment has said so since its runs last changed
        self.announced_done = False

    def apply_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            self._apply(command)

    def _apply(self, command: Command) -> None:
        match command:
            case Pause():
                self._pause()
            case Resume():
                self._resume()
            case TogglePause():
                self._resume() if self.paused else self._pause()
            case Stop():
                pass  # send() has stopped the loop already
            case Restart():
                self._restart(list(command.run_ids), command.request)
            case RestartAll(request):
                self._restart([run.id for run in self._engine.records], request)
            case SetRun(init=init, activation=activation, request=request):
                self._set_runs(list(command.run_ids), init, activation, request)
            case AddRun(spec, request):
                self._add_run(spec, request)
            case RemoveRun():
                self._remove_runs(list(command.run_ids), command.request)
            case SetDevice(device):
                self._set_device(device)

    def _pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._engine.delivery.flush(wait=True)
            self._engine.emit(StateChanged("paused", self._engine.step))

    def _resume(self) -> None:
        if self.paused:
            self.paused = False
            self._engine.measurements.cadence.resume(self._engine.step)
            self._engine.emit(StateChanged("running", self._engine.step))

    # ------------------------------------------------------------------ the runs: each command answered once
    def _refuse(self, message: str, level: str, request: int | None) -> None:
        self._engine.emit(Notice(message, level, request))

    def _run(self, run_id: int) -> RunRecord | None:
        return next((run for run in self._engine.records if run.id == run_id), None)

    def _existing(self, run_ids: list[int], request: int | None) -> list[RunRecord]:
        """The runs of these ids there are, each once; none: the request is refused (and answered)."""
        runs = [run for run in map(self._run, dict.fromkeys(run_ids)) if run is not None]
        if not runs:
            self._refuse(f"no run with id {', '.join(map(str, run_ids))}", "warning", request)
        return runs

    def _spec_problem(self, spec: RunSpec) -> str | None:
        config = self._engine.config
        try:
            spec.validate(config.initializer_names)
            if is_user_initializer(spec.init):  # the user's code may fail on a new activation: refused, run kept
                initial_weights(spec, config.layer_sizes, run_seed(config.run_seeds[0], spec, 0), None)
        except ConfigError as error:
            return str(error)
        return None

    def runs_changed(self, reason: str, request: int | None = None) -> None:
        """Tell that the runs changed (started afresh, added, removed, or stopped: ``reason``)."""
        engine = self._engine
        if reason in ("restart", "changed", "added"):
            engine.measurements.spectrum_cadence.soon()
        engine.delivery.schedule_run_end()
        self.announced_done = False
        engine.emit(RunsChanged(engine.step, reason, engine.runs, request))

    def _restart(self, run_ids: list[int], request: int | None) -> None:
        """The next draw of weights and fresh optimiser state for these runs."""
        engine = self._engine
        runs = self._existing(run_ids, request)
        if not runs:
            return
        engine.delivery.flush(wait=True)
        with engine.records_lock:
            for run in runs:
                _fresh_life(run, run.spec, run.draw + 1)
        engine.stack.reinitialise(engine.runs_with([run.id for run in runs]))
        self.runs_changed("restart", request)

    def _set_runs(self, run_ids: list[int], init: str | None, activation: str | None, request: int | None) -> None:
        """A new initialiser and/or activation for these runs (a seed group's seeds): each starts again from the
        first draw of its own seed, all between the same two steps, as they would have started together."""
        engine = self._engine
        runs = self._existing(run_ids, request)
        if not runs:
            return
        specs = [RunSpec(init or run.spec.init, activation or run.spec.activation) for run in runs]
        for spec in dict.fromkeys(specs):
            problem = self._spec_problem(spec)
            if problem is not None:
                self._refuse(problem, "error", request)
                return
        engine.delivery.flush(wait=True)
        with engine.records_lock:
            for run, spec in zip(runs, specs):
                _fresh_life(run, spec, 0)
        engine.stack.reinitialise(engine.runs_with([run.id for run in runs]))
        self.runs_changed("changed", request)

    def _add_run(self, spec: RunSpec, request: int | None) -> None:
        engine = self._engine
        problem = self._spec_problem(spec)
        if problem is not None:
            self._refuse(problem, "error", request)
            return
        engine.delivery.flush(wait=True)
        # a run added is a seed group like the others: one replica per seed
        for seed in engine.config.run_seeds:
            run = RunRecord(engine.take_run_id(), spec, seed=seed)
            engine.stack.add(replace(run))
            with engine.records_lock:
                engine.records.append(run)
        self.runs_changed("added", request)

    def _remove_runs(self, run_ids: list[int], request: int | None) -> None:
        engine = self._engine
        runs = self._existing(run_ids, request)
        if not runs:
            return
        if len(runs) == len(engine.records):
            self._refuse("the last run cannot be removed", "warning", request)
            return
        engine.delivery.flush(wait=True)
        for run in runs:
            engine.stack.remove(run.id)
        with engine.records_lock:
            for run in runs:
                engine.records.remove(run)
        self.runs_changed("removed", request)

    def _set_device(self, name: str) -> None:
        """Move training to another device, continuing from the current weights and optimiser state."""
        engine = self._engine
        try:
            device = resolve_device(name)
        except ConfigError as error:
            engine.emit(Notice(str(error), "error"))
            return
        if device == engine.device:
            return
        engine.delivery.flush(wait=True)
        engine.move_to(device)
        engine.emit(DeviceChanged(str(device), describe_device(device), engine.step))
