"""The ``?`` screen: every key, and every initialiser's formula."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from inittui.initializers import INITIALIZERS


def help_markdown(keys: list[tuple[str, str]]) -> str:
    lines = ["# inittui keys", "", "| key | what it does |", "|---|---|"]
    lines += [f"| `{key}` | {text} |" for key, text in keys]
    lines += ["", "# Initialisers", "", "| name | formula | note |", "|---|---|---|"]
    lines += [f"| {init.name} | `{init.formula}` | {init.note} |" for init in INITIALIZERS.values()]
    lines += ["", "Histograms: σ is the measured std, p the initialiser's prediction (mean-field theory).",
              "", "Press escape, q or ? to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="close_help"),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.keys))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
