"""Driving the real dashboard in tests, through Textual's public API: keys posted as a terminal sends them,
waits on conditions (never on times), and the screen read back as text."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events

from inittui.core.events import RunRecord
from inittui.core.presets import get_preset
from inittui.training.engine import Engine
from inittui.ui.app import InitApp, make_app
from inittui.ui.runs_table import RunsTable
from inittui.ui.status_bar import StatusBar

from support.data import noise_mnist

SIZE = (120, 40)
# the keys typed as characters, by the names Textual gives them
CHARACTERS = {"space": " ", "plus": "+", "minus": "-", "question_mark": "?", "slash": "/", "full_stop": "."}
NAMES = {character: name for name, character in CHARACTERS.items()}


def dashboard_config(preset: str = "compare", **overrides: Any):
    values: dict[str, Any] = dict(width=16, depth=3, steps=1_000_000, stats_every=5, batch_size=64, device="cpu")
    values.update(overrides)
    return get_preset(preset).config(**values)


def live_app(tmp_path: Path, **overrides: Any) -> InitApp:
    """The dashboard training ``compare`` (3 layers of 16) in a thread, notes recorded in ``app.notes``."""
    app = make_app(dashboard_config(**overrides), data=noise_mnist(), log_dir=tmp_path / "runs", fps=20,
                   screenshot_dir=tmp_path / "shots")
    record_notes(app)
    return app


def record_notes(app: InitApp) -> list[str]:
    """Every message the app shows as a toast, from now on, in ``app.notes``."""
    app.notes = []  # type: ignore[attr-defined]
    original = app.notify

    def notify(message, *args, **kwargs):
        app.notes.append(str(message))  # type: ignore[attr-defined]
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return app.notes  # type: ignore[attr-defined]


async def press(pilot, *keys: str) -> None:
    """Keys as the terminal delivers them, posted to the app one by one, each handled before the next.

    Pilot's own ``press`` also waits for the CPU to be idle, which it never is while training runs in the
    test's process (two seconds a key): this waits for the key's message to be processed instead."""
    app = pilot.app
    for key in keys:
        name = NAMES.get(key, key)
        character = key if len(key) == 1 else CHARACTERS.get(key)
        app.post_message(events.Key(name, character))
        await pilot.pause(0)
        await pilot.pause(0.01)


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def started(pilot, app: InitApp, steps: int = 8) -> Engine:
    """Wait until the engine has trained ``steps`` and the table shows every run; returns the engine."""
    await wait_for(pilot, lambda: app.source.target is not None and app.source.target.step >= steps)
    engine = app.source.target
    await wait_for(pilot, lambda: app.query_one(RunsTable).row_count == len(engine.runs))
    return engine


def cell(app: InitApp, run_id: int, column: str) -> str:
    return str(app.query_one(RunsTable).get_cell(str(run_id), column))


def engine_run(engine: Engine, run_id: int) -> RunRecord:
    return next(run for run in engine.runs if run.id == run_id)


def status_text(app: InitApp) -> str:
    return str(app.query_one(StatusBar).render())


def screen_text(app: InitApp) -> str:
    """The screen as the terminal shows it, as plain text: read back from the SVG the app exports."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in re.findall(r'<text class="[^"]*-r\d+" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    widths = [float(width) / len(html.unescape(text)) for width, text in
              re.findall(r'textLength="([\d.]+)"[^>]*>(.*?)</text>', svg) if html.unescape(text)]
    # the width of a cell: what most runs of text take per character (a few wide glyphs take more)
    cell_width = max(set(widths), key=widths.count) if widths else 1.0
    lines = []
    for y in sorted(rows):
        line: list[str] = []
        for x, text in sorted(rows[y]):
            column = round(x / cell_width)
            line.extend(" " * (column - len(line)))
            line[column : column + len(text)] = list(text)
        lines.append("".join(line).rstrip())
    return "\n".join(lines)
