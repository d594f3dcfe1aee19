"""Training small experiments to the end, for the engine's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.events import Event
from inittui.training.data import MNISTData
from inittui.training.engine import Engine

SPECS = [RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("normal-0.01", "sigmoid")]


def small_config(runs: list[RunSpec] = SPECS, **overrides: Any) -> ExperimentConfig:
    """``runs`` of 2×16, batch 32, 40 steps, statistics every 10."""
    values: dict[str, Any] = dict(runs=list(runs), depth=2, width=16, batch_size=32, epochs=None, steps=40,
                                  stats_every=10)
    values.update(overrides)
    return ExperimentConfig(**values)


def train(config: ExperimentConfig, data: MNISTData, on_event: Callable[[Engine, Event], None] | None = None,
          status: str = "done", **options: Any) -> tuple[Engine, list[Event]]:
    """Train to the end; the experiment must finish with ``status`` (a crash is status "error")."""
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if on_event is not None:
            on_event(engine, event)

    engine = Engine(config, data, emit, **options)
    finished = engine.run()
    assert finished.status == status, finished.message
    assert events[-1] is finished
    return engine, events
