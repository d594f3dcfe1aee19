"""The dashboard's `s` key: an SVG picture of the screen as it is, Footer keys included."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.app import App
from textual.widgets import Footer

SCREENSHOT_WAIT_S = 3.0  # how long `s` waits for the Footer to have its keys


async def save_screenshot_when_ready(app: App, directory: Path) -> None:
    """Save the screen to ``directory`` once the Footer shows its keys, and say where."""
    # the Footer lays out its keys on an idle after the bindings change: a picture taken before has a blank
    # Footer, so wait (3 s at most) until they are laid out and the screen has been refreshed with them
    footer = app.query_one(Footer)
    deadline = time.monotonic() + SCREENSHOT_WAIT_S
    while not (footer.children and footer.children[0].region.width) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)

    def save() -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = app.save_screenshot(filename=f"inittui-{time.strftime('%Y%m%d-%H%M%S')}.svg", path=str(directory))
        app.notify(f"screenshot saved to {path}")

    app.call_after_refresh(save)
