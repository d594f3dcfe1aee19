"""Training in a child process, driven from the parent by the same commands (inittui.core.commands) as an Engine.

The dashboard trains here rather than in a thread of its own process: drawing then never holds the GIL the
training loop needs, and torch keeps every core (in a thread beside the UI, torch's OpenMP threads and the UI
thread fought over 2 cores and training ran at half speed). The child loads the data, writes the run log and
sends every event back through a queue; it stops when told, when its parent dies, or on SIGHUP/SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inittui.core.commands import Command, Stop
from inittui.core.config import ExperimentConfig
from inittui.core.reports import DataUnavailable, Failed, LogStarted, LogWriteFailed, Report

if TYPE_CHECKING:  # torch is imported where training starts, never by the dashboard's process
    from inittui.training.data import MNISTData
    from inittui.training.engine import Engine

PARENT_POLL_S = 0.5
KILL_AFTER_S = 0.15
FLUSH_TIMEOUT_S = 5.0
TRAINING_NICENESS = 10
_FINISHED = "finished"


def train_for_dashboard(
    config: ExperimentConfig,
    data: MNISTData,
    log_dir: Path | None,
    send: Callable[[Report], None],
    on_engine: Callable[[Engine], None] = lambda engine: None,
    signals: Sequence[signal.Signals] = (),
) -> None:
    """The dashboard's training: the run log started (and said where), every event handed to ``send``, a log
    that cannot be written reported, and the engine lingering when done, for the keys that restart runs."""
    from inittui.runlog.writer import RunLog
    from inittui.training.logged import train_logged

    log = RunLog.create(log_dir, config, {"dataset": data.description}) if log_dir else None
    if log is not None:
        send(LogStarted(log.run_dir))
    train_logged(config, data, log, send, on_log_failure=lambda failure: send(LogWriteFailed(failure)),
                 on_engine=on_engine, linger=True, signals=signals)


def _serve(
    config: ExperimentConfig,
    data_dir: str | None,
    log_dir: Path | None,
    threads: int,
    events: Any,
    commands: Any,
) -> None:
    """The child's main: train ``config`` and stream its events to ``events`` until stopped."""
    import torch

    from inittui.core.errors import DataError
    from inittui.training.data import load_mnist

    # the terminal's Ctrl-C belongs to the dashboard, which stops us through ``commands``
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a key press should not wait for a training step: the dashboard gets the CPU first when it wants it
    os.nice(TRAINING_NICENESS)
    torch.set_num_threads(threads)
    try:
        try:
            data = load_mnist(data_dir)
        except DataError as error:
            events.put(DataUnavailable(str(error)))
            return

        def serve(engine: Engine) -> None:
            threading.Thread(target=_listen, args=(engine, commands, os.getppid()), daemon=True).start()

        train_for_dashboard(config, data, log_dir, events.put, serve, signals=(signal.SIGHUP, signal.SIGTERM))
    except Exception as error:  # reported to the dashboard rather than lost in a child's stderr
        events.put(Failed(f"{type(error).__name__}: {error}"))
    finally:
        events.put(_FINISHED)
        events.close()
        # if the parent is gone nobody reads the queue, and flushing it would wait for ever
        deadline = threading.Timer(FLUSH_TIMEOUT_S, os._exit, args=(0,))
        deadline.daemon = True
        deadline.start()
        events.join_thread()
        # the log is closed and everything sent: leave now. The interpreter's own teardown (torch's
        # modules alone) takes seconds, and the dashboard is waiting for us to quit.
        os._exit(0)


def _listen(engine: Any, commands: Any, parent: int) -> None:
    """Apply the parent's commands; stop training if the parent goes away without saying so."""
    while not engine.stopped:
        try:
            command = commands.get(timeout=PARENT_POLL_S)
        except queue.Empty:
            if os.getppid() != parent:
                engine.stop()
            continue
        engine.send(command)


class EngineProcess:
    """The parent's handle on an Engine in a child process: :meth:`send` takes the same commands."""

    def __init__(
        self, config: ExperimentConfig, *, data_dir: str | None, log_dir: Path | None, threads: int
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._events = context.Queue()
        self._commands = context.Queue()
        self._process = context.Process(
            target=_serve,
            args=(config, data_dir, log_dir, threads, self._events, self._commands),
            name="inittui-training",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    def events(self, poll_s: float = 0.1) -> Iterator[Any]:
        """Everything the child sends, until it finishes (or dies, reported as Failed)."""
        while True:
            try:
                item = self._events.get(timeout=poll_s)
            except queue.Empty:
                if not self._process.is_alive():
                    yield Failed(f"the training process ended unexpectedly (exit code {self._process.exitcode})")
                    return
                continue
            if item == _FINISHED:
                return
            yield item

    def join(self, timeout: float) -> bool:
        """Wait for the child to end; past ``timeout``, end it (SIGTERM, then SIGKILL). True if it ended alone."""
        self._process.join(timeout)
        if not self._process.is_alive():
            return True
        self._process.terminate()
        self._process.join(KILL_AFTER_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(KILL_AFTER_S)
        return False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def send(self, command: Command) -> None:
        """Forward ``command`` to the engine in the child (nothing, once the child has ended)."""
        if self._process.is_alive():
            self._commands.put(command)

    def stop(self) -> None:
        self.send(Stop())
