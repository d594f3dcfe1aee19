"""Training in a child process, driven from the parent by the same commands (inittui.core.commands) as an Engine.

The dashboard trains here rather than in a thread of its own process: drawing then never holds the GIL the
training loop needs, and torch keeps every core (in a thread beside the UI, torch's OpenMP threads and the UI
thread fought over 2 cores and training ran at half speed). The child loads the data, writes the run log and
sends every report back; it stops when told, when its parent goes away, or on SIGHUP/SIGTERM.

The child is a plain ``python -m inittui.training.process`` speaking pickled messages over a socket pair
(:class:`multiprocessing.connection.Connection`), not a multiprocessing.Process: that needs no semaphores and
no resource-tracker process, so quitting leaves nothing behind and prints nothing.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

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
# what the child sends last, once everything before it is sent
_FINISHED = "finished"
# the last line of the child's stderr said on its unexpected death, at most this long
STDERR_SHOWN = 200


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


# ---------------------------------------------------------------------------------------------- the child
def _child_main(fd: int) -> None:
    """The child's main: its orders come first on the connection, then commands; reports go back on it."""
    connection = Connection(fd)
    config, data_dir, log_dir, threads = connection.recv()
    # the terminal's Ctrl-C belongs to the dashboard, which stops us through the connection
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a key press should not wait for a training step: the dashboard gets the CPU first when it wants it
    os.nice(TRAINING_NICENESS)
    outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(outbox, connection), daemon=True)
    sender.start()
    try:
        _train(config, data_dir, log_dir, threads, connection, outbox.put)
    except Exception as error:  # reported to the dashboard rather than lost in a child's stderr
        outbox.put(Failed(f"{type(error).__name__}: {error}"))
    finally:
        outbox.put(_FINISHED)
        sender.join(FLUSH_TIMEOUT_S)  # the parent may be gone, nobody reading: do not wait for ever
        # the log is closed and everything sent: leave now. The interpreter's own teardown (torch's modules
        # alone) takes seconds, and the dashboard is waiting for us to quit.
        os._exit(0)


def _train(config: ExperimentConfig, data_dir: str | None, log_dir: Path | None, threads: int | None,
           connection: Connection, send: Callable[[object], None]) -> None:
    import torch

    from inittui.core.errors import ConfigError, DataError
    from inittui.science.user_init import install_init_files
    from inittui.training.data import load_mnist

    if threads:
        torch.set_num_threads(threads)
    try:  # the user's --init-file runs here, where it trains, and only here: the dashboard read it with ast
        install_init_files(config)
    except ConfigError as error:
        send(Failed(str(error)))
        return
    try:
        data = load_mnist(data_dir)
    except DataError as error:
        send(DataUnavailable(str(error)))
        return

    def serve(engine: Engine) -> None:
        threading.Thread(target=_listen, args=(engine, connection, os.getppid()), daemon=True).start()

    train_for_dashboard(config, data, log_dir, send, serve, signals=(signal.SIGHUP, signal.SIGTERM))


def _send_all(outbox: queue.SimpleQueue[object], connection: Connection) -> None:
    """Send what training reports, in order, off the training thread (a slow reader never stalls a step)."""
    while True:
        item = outbox.get()
        try:
            connection.send(item)
        except OSError:  # the parent is gone: nobody to tell
            return
        if item == _FINISHED:
            return


def _listen(engine: Engine, connection: Connection, parent: int) -> None:
    """Apply the parent's commands; stop training when the parent goes away without saying so."""
    while not engine.stopped:
        try:
            if not connection.poll(PARENT_POLL_S):
                if os.getppid() != parent:
                    engine.stop()
                continue
            engine.send(connection.recv())
        except (EOFError, OSError):
            engine.stop()
            return


# ---------------------------------------------------------------------------------------------- the parent
class EngineProcess:
    """The parent's handle on an Engine in a child process: :meth:`send` takes the same commands."""

    def __init__(self, config: ExperimentConfig, *, data_dir: str | None, log_dir: Path | None,
                 threads: int | None) -> None:
        self._orders = (config, data_dir, log_dir, threads)
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._send_lock = threading.Lock()
        # the child's stderr: nothing of it reaches the dashboard's terminal, its last line says why it died
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from inittui.training.process import _child_main; _child_main({theirs.fileno()})"],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self._connection.send(self._orders)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def events(self, poll_s: float = 0.1) -> Iterator[Report]:
        """Everything the child sends, until it finishes (or dies, reported as Failed)."""
        assert self._connection is not None and self._process is not None, "start() first"
        while True:
            try:
                if not self._connection.poll(poll_s):
                    if self._process.poll() is not None:
                        yield self._died()
                        return
                    continue
                item = self._connection.recv()
            except (EOFError, OSError):
                self._process.wait()
                yield self._died()
                return
            if item == _FINISHED:
                return
            yield item

    def _died(self) -> Failed:
        message = f"the training process ended unexpectedly (exit code {self._process.returncode})"
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return Failed(f"{message}: {lines[-1][:STDERR_SHOWN]}" if lines else message)

    def join(self, timeout: float) -> bool:
        """Wait for the child to end; past ``timeout``, end it (SIGTERM, then SIGKILL). True if it ended alone."""
        process = self._process
        if process is None:
            return True
        try:
            process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            pass
        process.terminate()
        try:
            process.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return False

    def send(self, command: Command) -> None:
        """Forward ``command`` to the engine in the child (nothing, once the child has ended)."""
        if self._connection is None or self._process is None or self._process.poll() is not None:
            return
        try:
            with self._send_lock:
                self._connection.send(command)
        except OSError:
            pass  # it ended in between

    def stop(self) -> None:
        self.send(Stop())
