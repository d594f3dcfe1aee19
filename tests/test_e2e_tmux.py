"""End to end: the installed ``inittui`` console script in a real terminal (tmux) on real MNIST.

Needs tmux and ``INITTUI_DATA_DIR`` naming the MNIST files; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from inittui.runlog import read_events

DATA_DIR = os.environ.get("INITTUI_DATA_DIR")
pytestmark = [
    pytest.mark.mnist,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not DATA_DIR, reason="INITTUI_DATA_DIR is not set"),
    pytest.mark.skipif(shutil.which("inittui") is None, reason="the inittui console script is not installed"),
]


class Tmux:
    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.socket = f"inittui-test-{uuid.uuid4().hex[:8]}"
        self.size = (width, height)

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return result.stdout

    def start(self, command: str) -> None:
        env = f"TERM=xterm-256color COLORTERM= INITTUI_DATA_DIR={DATA_DIR}"
        self("new-session", "-d", "-x", str(self.size[0]), "-y", str(self.size[1]), f"env {env} {command}")

    def screen(self) -> str:
        return self("capture-pane", "-p")

    def wait_for(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never matched; last screen:\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux():
    session = Tmux()
    yield session
    session.close()


def _row(screen: str, run_id: int) -> str:
    return next(line for line in screen.splitlines() if line.startswith(f"● {run_id} "))


def test_dashboard_in_a_real_terminal(tmux, tmp_path):
    logs = tmp_path / "runs"
    marker = "INITTUI-EXITED"
    tmux.start(f"sh -c 'inittui --steps 2000 --stats-every 10 --log-dir {logs}; echo {marker}:$?; sleep 30'")
    screen = tmux.wait_for(lambda s: "● 5" in s and "L5" in s and "σ" in s and "step 1" in s.replace(",", ""), 60)
    assert "train loss" in screen and "accuracy" in screen  # the curves
    assert "xavier" in _row(screen, 1) and "running" in screen
    tmux("send-keys", "j")
    tmux("send-keys", "i")
    screen = tmux.wait_for(lambda s: "glorot" in _row(s, 1), 5)
    assert "xavier" not in _row(screen, 1)
    began = time.monotonic()
    tmux("send-keys", "q")
    screen = tmux.wait_for(lambda s: marker in s, 5)
    assert time.monotonic() - began < 2.0
    assert f"{marker}:0" in screen
    events = read_events(next(logs.iterdir()))
    kinds = {event.type for event in events}
    assert {"started", "progress", "layers", "runs", "finished"} <= kinds
    assert events[-1].type == "finished" and events[-1].status == "stopped"
    assert any(event.type == "runs" and any(r.init == "glorot" for r in event.runs) for event in events)


def test_sighup_flushes_the_log_and_exits(tmux, tmp_path):
    logs = tmp_path / "runs"
    pid_file = tmp_path / "pid"
    tmux.start(f"sh -c 'echo $$ > {pid_file}; exec inittui --steps 2000 --stats-every 10 --log-dir {logs}'")
    tmux.wait_for(lambda s: "● 5" in s and "L5" in s, 60)
    pid = int(Path(pid_file).read_text())
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("inittui did not exit after SIGHUP")
    events = read_events(next(logs.iterdir()))
    assert events[-1].type == "finished" and events[-1].status == "stopped"
