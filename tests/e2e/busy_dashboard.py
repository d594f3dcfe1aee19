"""The real dashboard (``inittui`` with its arguments), except that once the file named by ``INITTUI_BUSY_FLAG``
exists its next frame never ends: the UI thread is stuck in Python code, as it would be in a pathological
frame. The end-to-end tests use it to check that q, SIGHUP and SIGTERM still end the program.

    python tests/busy_dashboard.py [inittui arguments]
"""

from __future__ import annotations

import os
from pathlib import Path

from inittui.cli import run
from inittui.ui.app import InitApp

_drain = InitApp.drain


def _stuck_drain(self: InitApp) -> None:
    if Path(os.environ["INITTUI_BUSY_FLAG"]).exists():
        while True:  # a frame that never ends, in bytecode, so that signal handlers still get their turn
            pass
    _drain(self)


InitApp.drain = _stuck_drain  # type: ignore[method-assign]

if __name__ == "__main__":
    run()
