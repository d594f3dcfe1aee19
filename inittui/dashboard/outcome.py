"""What a key changed on the dashboard, for the app to show (no Textual)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What an action changed: the parts of the screen to redraw, and a message for the user, if any."""

    dirty: set[str] = field(default_factory=set)
    message: str = ""
    severity: str = "information"
    timeout: float | None = 3.0
    # the page changed, or what a page lays out
    relayout: bool = False
