"""The line under the header: device, dataset, progress, speed, elapsed time, running or paused."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from inittui.ui.state import DashboardState

STATE_STYLES = {"running": "bold green", "paused": "bold yellow", "done": "bold cyan", "stopped": "bold red",
                "error": "bold red", "probe": "bold magenta", "starting": "dim"}


def format_elapsed(seconds: float) -> str:
    if not 0 <= seconds < 1e9:  # NaN, negative, absurd: nothing to say
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class StatusBar(Static):
    """Device, dataset, preset, epoch/step, samples/s, elapsed time and state, all from events."""

    def show(self, state: DashboardState, device_label: str, extra: str = "", problems: Sequence[str] = ()) -> None:
        self.update(status_text(state, device_label, extra, problems))


def status_text(state: DashboardState, device_label: str, extra: str = "", problems: Sequence[str] = ()) -> Text:
    """``problems`` are lasting warnings (a log that stopped being written, a training process that died),
    shown first, in red, for as long as the dashboard is open."""
    text = Text(no_wrap=False, overflow="fold")
    sep = (" │ ", "dim")
    text.append(state.state, STATE_STYLES.get(state.state, "bold"))
    for problem in problems:
        text.append(*sep)
        text.append(f"⚠ {problem}", "bold red")
    text.append(*sep)
    text.append(device_label or "device …")
    text.append(*sep)
    text.append(state.dataset or "dataset …")
    text.append(*sep)
    text.append(state.preset or "…")
    if not state.probe:
        text.append(*sep)
        cursor = state.cursor_label()
        if cursor:
            text.append(cursor, "bold yellow")
        else:
            text.append(f"epoch {state.epoch:.2f} step {state.step:,}/{state.total_steps:,}")
        text.append(*sep)
        text.append(f"{state.samples_per_s:,.0f} samples/s")
        text.append(*sep)
        text.append(format_elapsed(state.elapsed_s))
    if extra:
        text.append(*sep)
        text.append(extra, "italic")
    return text
