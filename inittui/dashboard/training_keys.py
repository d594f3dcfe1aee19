"""The keys that act on training: each sends a typed command (inittui.core.commands) to the engine and shows
its change at once, until the engine's answer to its request number confirms it (see
:meth:`DashboardModel.request`). They say why when they cannot: a run log being viewed, the probe, training not
started yet, or training that has ended.

In an experiment of seed groups a run is changed with every seed of its group, in one command: the group is
what the dashboard compares, and a seed changed alone would be a group of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from inittui.core.commands import AddRun, Command, RemoveRun, Restart, RestartAll, SetDevice, SetRun, TogglePause
from inittui.core.config import INITIALIZER_NAMES, RunSpec
from inittui.dashboard.model import NEW_TRAINING_HINT, DashboardModel
from inittui.dashboard.outcome import Outcome
from inittui.dashboard.selectors import seed_group, seed_grouped, shown_record
from inittui.dashboard.sources import CommandTarget
from inittui.runlog.fold import CURVES, HEADER, LAYERS, TABLE


def first_untrained(names: tuple[str, ...], current: str, step: int, spec_of: Callable[[str], RunSpec],
                    taken: set[str]) -> RunSpec | None:
    """The spec of the first of ``names`` after ``current`` (``step`` 1) or before it (-1), wrapping round and
    leaving ``current`` out, whose ``init:activation`` is not in ``taken``; every name where ``current`` is
    none of them. None where all are taken."""
    if current in names:
        here = names.index(current)
        order = [names[(here + step * count) % len(names)] for count in range(1, len(names))]
    else:
        order = list(names)
    return next((spec for spec in map(spec_of, order) if spec.name not in taken), None)


class TrainingKeys:
    """The keys that change training: commands to ``target()``, shown ahead in ``model``."""

    def __init__(self, model: DashboardModel, target: Callable[[], CommandTarget | None],
                 devices: Callable[[], list[str]]) -> None:
        self.model = model
        self.target = target
        self.devices = devices
        # the run a first "-" asked about: the next key, if it is "-" again, removes it
        self._remove_armed: int | None = None

    def disarm(self) -> None:
        """A key other than "-": a removal asked about is not confirmed."""
        self._remove_armed = None

    def why_not(self) -> str | None:
        """Why keys that act on training cannot now, or None."""
        model = self.model
        if model.status.read_only:
            return f"read-only: this is {'the probe view' if model.experiment.state == 'probe' else 'a run log being viewed'}"
        if model.status.ended:
            return f"training has ended ({model.status.ended}); {NEW_TRAINING_HINT}"
        if self.target() is None:
            return "training has not started yet"
        return None

    def send(self, command: Callable[[int], Command], run_ids: list[int], spec: RunSpec | None, message: str = "") -> Outcome:
        refusal = self.why_not()
        if refusal is not None:
            return Outcome(message=refusal, severity="warning")
        target = self.target()
        assert target is not None  # why_not said so
        target.send(command(self.model.request(run_ids, spec)))
        return Outcome({TABLE, CURVES, LAYERS}, message)

    def cycle(self, names: tuple[str, ...], step: int, *, init: bool) -> Outcome:
        """The next (``step`` 1) or previous initialiser or activation for the selected run and every seed of
        its group (a seed with another spec would be a group of its own), passing over a pair another group
        already trains (the two would fold into one group, each seed in it twice)."""
        run = self.model.selected
        if run is None:
            return Outcome()
        group = [other.id for other in seed_group(self.model, run)]
        shown = shown_record(self.model, run).spec
        spec = first_untrained(names, shown.init if init else shown.activation, step,
                               lambda new: RunSpec(new, shown.activation) if init else RunSpec(shown.init, new),
                               self._pairs_trained_beside(group))
        if spec is None:
            kind, kept = ("initialiser", shown.activation) if init else ("activation", shown.init)
            return Outcome(message=f"another seed group trains every {kind} with {kept}: nothing to switch to",
                           severity="warning")
        changes = {"init": spec.init} if init else {"activation": spec.activation}
        said = f"{shown.name} → {spec.name}: its {len(group)} seeds start again" if len(group) > 1 else ""
        return self.send(lambda request: SetRun(group[0], **changes, request=request, with_runs=tuple(group[1:])),
                          group, spec, said)

    def _pairs_trained_beside(self, group: list[int]) -> set[str]:
        """The ``init:activation`` pairs the other seed groups train, as shown; none without seed groups, where
        two runs of one pair are two runs."""
        if not seed_grouped(self.model):
            return set()
        return {shown_record(self.model, other).name for other in self.model.shown_runs() if other.id not in group}

    def restart_run(self) -> Outcome:
        """The selected run starts again, with every seed of its group."""
        run = self.model.selected
        if run is None:
            return Outcome()
        group = [other.id for other in seed_group(self.model, run)]
        said = (f"restarting run {run.id} {run.record.name}" if len(group) == 1
                else f"restarting {shown_record(self.model, run).name}: its {len(group)} seeds")
        return self.send(lambda request: Restart(group[0], request, with_runs=tuple(group[1:])), group, None, said)

    def restart_all(self) -> Outcome:
        ids = list(self.model.runs)
        return self.send(lambda request: RestartAll(request), ids, None, "restarting every run")

    def initializer_names(self) -> tuple[str, ...]:
        """The built-ins, then the user's from --init-file (names only: their code runs in the training process)."""
        return (*INITIALIZER_NAMES, *self.model.experiment.config.get("user_initializers", {}))

    def add_run(self) -> Outcome:
        """A run (a seed group: one per seed) of the next initialiser with the selected run's activation,
        passing over a pair a seed group already trains, as ``i`` does."""
        run = self.model.selected
        if run is None:
            return Outcome()
        spec = shown_record(self.model, run).spec
        new = first_untrained(self.initializer_names(), spec.init, 1, lambda init: RunSpec(init, spec.activation),
                              self._pairs_trained_beside([]))
        if new is None:
            return Outcome(message=f"a seed group trains every initialiser with {spec.activation}: nothing to add",
                           severity="warning")
        return self.send(lambda request: AddRun(new, request), [], None, f"adding a run {new.name}")

    def remove_run(self) -> Outcome:
        """The selected run goes, with every seed of its group, on a second ``-``."""
        run = self.model.selected
        if run is None:
            return Outcome()
        refusal = self.why_not()
        if refusal is not None:
            return Outcome(message=refusal, severity="warning")
        group = [other.id for other in seed_group(self.model, run)]
        if len(group) == len(self.model.shown_runs()):
            return Outcome(message="the last run cannot be removed", severity="warning")
        name = shown_record(self.model, run).name
        named = f"run {run.id} {run.record.name}" if len(group) == 1 else f"{name} (its {len(group)} seeds)"
        armed, self._remove_armed = self._remove_armed, None
        if armed != run.id:
            self._remove_armed = run.id
            return Outcome(message=f"remove {named}? press - again to remove it (any other key keeps it)",
                           severity="warning", timeout=5)
        target = self.target()
        assert target is not None
        target.send(RemoveRun(group[0], self.model.request_removal(group), with_runs=tuple(group[1:])))
        return Outcome({TABLE, CURVES, LAYERS}, f"{named} removed")

    def toggle_pause(self) -> Outcome:
        refusal = self.why_not()
        if refusal is not None:
            return Outcome(message=refusal, severity="warning")
        target = self.target()
        assert target is not None
        target.send(TogglePause())
        experiment = self.model.experiment
        if experiment.state in ("running", "paused"):
            # shown at once; the engine's StateChanged confirms it
            experiment.state = "paused" if experiment.state == "running" else "running"
            return Outcome({HEADER, TABLE})
        return Outcome()

    def next_device(self) -> Outcome:
        refusal = self.why_not()
        if refusal is not None:
            return Outcome(message=refusal, severity="warning")
        devices = self.devices()
        current = self.model.experiment.device or "cpu"
        if len(devices) == 1:
            return Outcome(message=f"only one device here: {devices[0]}", severity="warning")
        following = devices[(devices.index(current) + 1) % len(devices)] if current in devices else devices[0]
        target = self.target()
        assert target is not None
        target.send(SetDevice(following))
        return Outcome(message=f"moving training to {following}")
