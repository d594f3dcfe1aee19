"""Quitting within seconds, whatever the UI thread is doing: q, ctrl+q, a dropped SSH connection (SIGHUP) or
SIGTERM stop training, let the run log close and leave, and a stuck UI thread cannot keep the program alive.

The guard keeps a heartbeat on the UI thread. A signal, or q read by the terminal's input thread while the
heartbeat is stale, starts the quit on a thread of its own: it closes the producer, asks the app to exit,
and, if the app has not ended by the deadline, puts the terminal back as Textual found it and ends the
process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.app import App
from textual.message import Message

# how long quitting waits for training to stop and the log to close; and by when, after q or a signal, the
# program has ended, whatever the UI thread is doing
QUIT_TIMEOUT_S = 2.0
QUIT_DEADLINE_S = 2.6
# the UI thread counts as busy when its heartbeat is older than this: q is then handled off it
BUSY_AFTER_S = 1.0
HEARTBEAT_S = 0.25
# what Textual's driver switches on, switched off: kitty keyboard protocol, mouse reports, bracketed paste,
# focus events, the alternate screen; then the cursor shown and line wrapping back on
_TERMINAL_RESET = (
    b"\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?1049l\x1b[?25h\x1b[?7h"
)


class QuitGuard:
    """See the module's docstring. ``close_source(timeout)`` stops the producer and waits for its log."""

    def __init__(self, app: App, close_source: Callable[[float], bool]) -> None:
        self.app = app
        self.close_source = close_source
        self._heartbeat = time.monotonic()
        self._lock = threading.Lock()
        self._started = False
        self._previous_handlers: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ui_thread = threading.get_ident()
        # set once app.run() has returned; until then the watchdog may have to end the process itself
        self.ended = threading.Event()
        # whether the watchdog may end the process (the real program; never a test's app)
        self.last_resort_exit = False

    @property
    def quitting(self) -> bool:
        return self._started

    def install(self) -> None:
        """On mount, on the UI thread: the heartbeat, and plain signal handlers (not the event loop's: Python
        runs them between two bytecodes of the main thread, so a hangup is answered even mid-frame)."""
        self._loop = asyncio.get_running_loop()
        self._ui_thread = threading.get_ident()
        self.app.set_interval(HEARTBEAT_S, self._beat)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGHUP, signal.SIGTERM):
                self._previous_handlers[sig] = signal.signal(sig, lambda *_: self.quit_soon())

    def uninstall(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers = {}

    async def release(self) -> None:
        """The app goes away, however: the signals are given back, and the producer closed with its log."""
        self.uninstall()
        await asyncio.to_thread(self.close_source, QUIT_TIMEOUT_S)

    def _beat(self) -> None:
        self._heartbeat = time.monotonic()

    def _ui_busy(self) -> bool:
        return time.monotonic() - self._heartbeat > BUSY_AFTER_S

    def input_message(self, message: Message) -> None:
        """Every message the app is posted, on the posting thread: q from the terminal's input thread while the
        UI thread is stuck is answered here."""
        if (isinstance(message, events.Key) and message.key == "q"
                and threading.get_ident() != self._ui_thread and self._ui_busy()):
            self.quit_soon()

    def quit_soon(self) -> None:
        """Stop training, let the log close, and leave: within QUIT_DEADLINE_S, whatever the UI thread is
        doing. Safe from any thread and from a signal handler."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._quit, name="inittui-quit", daemon=True).start()

    def _quit(self) -> None:
        deadline = time.monotonic() + QUIT_DEADLINE_S
        busy = self._ui_busy()
        if busy:
            _yield_cpu()  # a UI thread spinning in a frame must not starve the training child's last steps
        self.close_source(QUIT_TIMEOUT_S)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.app.exit, 0)
        if self.ended.wait(0.0 if busy else max(0.0, deadline - time.monotonic())) or not self.last_resort_exit:
            return
        # the UI thread did not get round to leaving (stuck in a frame): put the terminal back and go
        try:
            # Textual has no public way to reach its driver from another thread; its saved terminal mode is there
            _restore_terminal(getattr(self.app, "_driver", None))
        finally:
            os._exit(0)


def _restore_terminal(driver: Any) -> None:
    """Put the terminal back as Textual found it, without its threads (the UI thread is stuck): the escape
    sequences written straight to the terminal and its saved mode restored."""
    try:
        os.write(sys.__stdout__.fileno(), _TERMINAL_RESET)
    except (OSError, AttributeError, ValueError):
        pass
    attributes = getattr(driver, "attrs_before", None)
    if attributes is not None:
        try:
            import termios

            termios.tcsetattr(driver.fileno, termios.TCSANOW, attributes)
        except (ImportError, OSError, termios.error):
            pass


def _yield_cpu() -> None:
    """Lowest priority for every thread of this process (Linux sets niceness per thread; raising it is
    always allowed), so that the training child, itself niced, gets the CPU to finish and close its log."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
        except OSError:
            pass
