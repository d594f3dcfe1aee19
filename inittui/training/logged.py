"""Training an experiment into its run log: the one function through which the dashboard's child process,
headless training and ``inittui reproduce`` all train.

Every event goes to the log first, then to the caller. A log that cannot be written (a full disk) is reported
once through ``on_log_failure`` and training goes on; the log keeps every line before the failure.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from inittui.core.config import ExperimentConfig
from inittui.core.events import Event, ExperimentFinished
from inittui.runlog.writer import RunLog
from inittui.training.data import MNISTData
from inittui.training.engine import Engine

# what ends training cleanly from outside: Ctrl-C, a kill, and an SSH connection that drops
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stop_on_signals(engine: Engine, signals: Sequence[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """While inside, each of ``signals`` stops ``engine`` (its log stays whole); only in the main thread,
    the one Python delivers signals to."""
    if not signals or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: engine.stop()) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train_logged(
    config: ExperimentConfig,
    data: MNISTData,
    log: RunLog | None,
    emit: Callable[[Event], None],
    *,
    on_log_failure: Callable[[str], None],
    on_engine: Callable[[Engine], None] = lambda engine: None,
    linger: bool = False,
    signals: Sequence[signal.Signals] = STOP_SIGNALS,
) -> tuple[ExperimentFinished, Engine]:
    """Train ``config`` on ``data`` until it finishes or is stopped, every event written to ``log`` (None:
    no log) and handed to ``emit``; returns the final event and the engine (its weights, for inspection).

    ``on_engine`` receives the engine before it runs, so that commands can reach it; with ``linger`` a finished
    experiment waits for more commands until stopped (the dashboard). ``signals`` stop training cleanly.
    """
    reported = False

    def report(failure: str | None) -> None:
        nonlocal reported
        if failure is not None and not reported:
            reported = True
            on_log_failure(failure)

    def record(event: Event) -> None:
        if log is not None and not log.write(event):
            report(log.failure)
        emit(event)

    engine = Engine(config, data, record, linger=linger)
    on_engine(engine)
    with stop_on_signals(engine, signals):
        try:
            finished = engine.run()
        finally:
            if log is not None:
                log.close()
                report(log.failure)
    return finished, engine
