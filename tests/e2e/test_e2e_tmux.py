"""End to end: the ``inittui`` program (``python -m inittui``, what the console script runs) in a real terminal
(tmux) on real MNIST.

Needs tmux and ``INITTUI_DATA_DIR`` naming the MNIST files; skipped otherwise (``.ci/run`` installs tmux and
fails if it cannot).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from inittui.runlog.reader import read_events, read_log

DATA_DIR = os.environ.get("INITTUI_DATA_DIR")
pytestmark = [
    pytest.mark.mnist,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not DATA_DIR, reason="INITTUI_DATA_DIR is not set"),
]
INITTUI = f"{sys.executable} -m inittui"
BUSY_DASHBOARD = f"{sys.executable} {Path(__file__).with_name('busy_dashboard.py')}"


class Tmux:
    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.socket = f"inittui-test-{uuid.uuid4().hex[:8]}"
        self.size = (width, height)

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return result.stdout

    def start(self, command: str, **env: str) -> None:
        settings = " ".join(f"{key}={value}" for key, value in env.items())
        # without COLUMNS and LINES: something in the test process puts them (80, 24) in the C environment,
        # and a program that finds them believes them rather than the terminal
        env_line = f"-u COLUMNS -u LINES TERM=xterm-256color COLORTERM= INITTUI_DATA_DIR={DATA_DIR} {settings}"
        self("new-session", "-d", "-x", str(self.size[0]), "-y", str(self.size[1]), f"env {env_line} {command}")

    def resize(self, width: int, height: int) -> None:
        self("resize-window", "-x", str(width), "-y", str(height))

    def screen(self) -> str:
        return self("capture-pane", "-p")

    def wait_for(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                size = self("display", "-p", "#{window_width}x#{window_height}").strip()
                raise AssertionError(f"screen never matched; last screen ({size}):\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux():
    session = Tmux()
    yield session
    session.close()


def _row(screen: str, run_id: int) -> str:
    """The runs table's row of ``run_id`` ("" while not on the screen)."""
    return next((line for line in screen.splitlines() if line.startswith(f"● {run_id} ")), "")


def _step(row: str) -> int:
    fields = row.split()
    return int(fields[6].replace(",", "")) if len(fields) > 6 and fields[6].replace(",", "").isdigit() else -1


def test_dashboard_in_a_real_terminal(tmux, tmp_path):
    logs = tmp_path / "runs"
    marker = "INITTUI-EXITED"
    tmux.start(f"sh -c '{INITTUI} --steps 2000 --stats-every 10 --log-dir {logs}; echo {marker}:$?; sleep 30'")
    screen = tmux.wait_for(lambda s: "● 5" in s and "L5" in s and "σ" in s and "step 1" in s.replace(",", ""), 60)
    assert "train loss" in screen and "accuracy" in screen  # the curves
    assert "xavier" in _row(screen, 1) and "running" in screen
    tmux("send-keys", "j")
    tmux("send-keys", "i")
    screen = tmux.wait_for(lambda s: "glorot" in _row(s, 1), 5)
    assert "xavier" not in _row(screen, 1)
    (dashboard,) = _children(int(tmux("display", "-p", "#{pane_pid}")))
    training = _children(dashboard)
    assert training, "the dashboard trains in a child process"
    began = time.monotonic()
    tmux("send-keys", "q")
    screen = tmux.wait_for(lambda s: marker in s, 5)
    assert time.monotonic() - began < 3.0  # the bound the dashboard promises, busy or not
    assert f"{marker}:0" in screen
    # quitting prints nothing (no warning of leaked semaphores) and leaves no process behind
    after = screen[screen.index("≋") if "≋" in screen else 0 :]
    assert "Warning" not in after and "leaked" not in after and "Traceback" not in after, after
    _wait_gone([dashboard, *training], max(0.0, 3.0 - (time.monotonic() - began)) + 0.5)
    events = read_events(next(logs.iterdir()))
    kinds = {event.type for event in events}
    assert {"started", "progress", "layers", "runs", "finished"} <= kinds
    assert events[-1].type == "finished" and events[-1].status == "stopped"
    assert any(event.type == "runs" and any(r.spec.init == "glorot" for r in event.runs) for event in events)


def test_sighup_flushes_the_log_and_exits(tmux, tmp_path):
    logs = tmp_path / "runs"
    pid_file = tmp_path / "pid"
    tmux.start(f"sh -c 'echo $$ > {pid_file}; exec {INITTUI} --steps 2000 --stats-every 10 --log-dir {logs}'")
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


def _children(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


def _alive(pid: int) -> bool:
    """Running: not gone, and not a zombie (ended, its exit status not yet collected by its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pids: list[int], timeout: float) -> float:
    began = time.monotonic()
    while any(_alive(pid) for pid in pids):
        if time.monotonic() - began > timeout:
            raise AssertionError(f"still running after {timeout} s: {[pid for pid in pids if _alive(pid)]}")
        time.sleep(0.02)
    return time.monotonic() - began


@pytest.mark.parametrize("how", ["q", "SIGHUP"])  # SIGTERM takes SIGHUP's path
def test_a_busy_ui_thread_still_quits_within_3_s(tmux, tmp_path, how):
    """The UI thread stuck in a frame that never ends: q, SIGHUP and SIGTERM still end the program, the
    training child with it, and the run log is complete."""
    logs, pid_file, flag = tmp_path / "runs", tmp_path / "pid", tmp_path / "busy"
    tmux.start(f"sh -c 'echo $$ > {pid_file}; exec {BUSY_DASHBOARD} --steps 100000 --stats-every 10 "
               f"--log-dir {logs}'", INITTUI_BUSY_FLAG=str(flag))
    tmux.wait_for(lambda s: "● 5" in s and "L5" in s and "step 0/" not in s, 90)
    pid = int(pid_file.read_text())
    children = _children(pid)
    assert children, "the dashboard trains in a child process"
    flag.touch()
    time.sleep(1.5)  # the next frame (every 0.25 s) has begun and will never end
    if how == "q":
        tmux("send-keys", "q")
    else:
        os.kill(pid, getattr(signal, how))
    assert _wait_gone([pid], 3.0) < 3.0
    _wait_gone(children, 1.0)  # nothing outlives the dashboard
    # the log is closed with every line whole (on a starved machine the child may be ended before its last)
    contents = read_log(next(logs.iterdir()))
    assert contents.skipped == [] and contents.events[0].type == "started"


def test_diverging_runs_keys_small_terminals_and_a_resize_storm(tmux, tmp_path):
    logs = tmp_path / "runs"
    marker = "INITTUI-EXITED"
    runs = "normal-1:relu,he:relu,normal-1:selu,normal-1:tanh"
    tmux.start(f"sh -c '{INITTUI} --runs {runs} --stats-every 10 --log-dir {logs}; echo {marker}:$?; sleep 30'")
    screen = tmux.wait_for(lambda s: "diverged" in _row(s, 0) and "diverged" in _row(s, 2), 90)
    assert "running" in _row(screen, 1) and "▲" in screen  # the exploded loss, clipped at the chart's top
    step = _step(_row(screen, 1))
    tmux.wait_for(lambda s: _step(_row(s, 1)) > step, 30)  # he:relu trains on
    tmux("send-keys", "j")
    tmux("send-keys", "i")
    tmux.wait_for(lambda s: "he-uniform" in _row(s, 1), 5)
    tmux("send-keys", "k")
    tmux("send-keys", "i")
    tmux.wait_for(lambda s: "constant" in _row(s, 0), 5)  # the diverged run, restarted on another initialiser
    tmux.resize(79, 23)
    screen = tmux.wait_for(lambda s: "80×24" in s, 5)
    assert len([line for line in screen.splitlines() if line.strip()]) == 1
    tmux.resize(120, 40)
    tmux.wait_for(lambda s: "● 3" in s and "train loss" in s, 5)
    for index in range(50):  # a resize storm: 50 sizes between 60×20 and 220×70 in 10 s
        tmux.resize(60 + (index * 37) % 161, 20 + (index * 23) % 51)
        time.sleep(0.2)
    tmux.resize(120, 40)
    tmux("send-keys", "j")
    tmux("send-keys", "a")
    # each size is laid out in turn: on a loaded 2-core machine that can take a while after the storm
    screen = tmux.wait_for(lambda s: "● 3" in s and "leaky-relu" in _row(s, 1), 60)
    assert "Traceback" not in screen
    began = time.monotonic()
    tmux("send-keys", "q")
    screen = tmux.wait_for(lambda s: marker in s, 5)
    assert time.monotonic() - began < 3.0 and f"{marker}:0" in screen


def test_the_curves_page_at_80x24_has_ten_plot_rows_under_a_two_line_header(tmux, tmp_path):
    tmux.size = (80, 24)
    tmux.start(f"{INITTUI} --steps 2000 --stats-every 10 --log-dir {tmp_path / 'runs'}")
    tmux.wait_for(lambda s: "● 5" in s and "step 1" in s.replace(",", ""), 60)
    tmux("send-keys", "2")
    screen = tmux.wait_for(lambda s: "2 curves" in s and "train loss" in s and "└" in s, 10)
    lines = screen.splitlines()
    title = next(index for index, line in enumerate(lines) if "train loss" in line)
    axis = next(index for index, line in enumerate(lines) if "└" in line)
    assert "≋ inittui" in lines[0] and title <= 2, screen  # the header: at most two lines above the page
    plot_rows = lines[title + 1 : axis]
    assert len(plot_rows) >= 10 and all("│" in row or "┤" in row for row in plot_rows), screen
    tmux("send-keys", "q")
