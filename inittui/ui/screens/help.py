"""The ``?`` screen: every key, and every initialiser's formula."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from inittui.ui.keys import markdown_table


def help_markdown(location: str = "", user_initializers: Mapping[str, str] | None = None) -> str:
    """The help text; ``location`` (the run log's directory, in full) goes first where there is one.
    ``user_initializers``: name -> docstring of those from --init-file (the first line is the formula)."""
    # imported here: the initialisers bring torch, which ``inittui view`` does not otherwise need (seconds)
    from inittui.science.initializers import INITIALIZERS

    lines = [f"Run log: {location}", ""] if location else []
    lines += ["# inittui keys", "", markdown_table()]
    lines += ["", "# Initialisers", "", "| name | formula | note |", "|---|---|---|"]
    lines += [f"| {init.name} | `{init.formula}` | {init.note} |" for init in INITIALIZERS.values()]
    for name, docstring in (user_initializers or {}).items():
        formula, _, note = docstring.strip().partition("\n")
        row = f"| {name} | `{formula.strip()}` | {' '.join(note.split())} (--init-file; p from the drawn variance) |"
        lines.append(row)
    lines += ["", "Histograms: σ is the measured std, p the initialiser's prediction (mean-field theory).",
              "", "Press escape, q or ? to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="close_help"),
    ]

    def __init__(self, location: str = "", user_initializers: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.location = location
        self.user_initializers = dict(user_initializers or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.location, self.user_initializers))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
