"""The ``p`` screen: choose a named experiment; the current one stops and the chosen one starts."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from inittui.core.presets import PRESETS


class PresetScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="cancel_preset")]

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for preset in PRESETS.values():
            prompt = Text()
            prompt.append(f"{preset.name:<9}", "bold")
            prompt.append(f" {preset.title}\n          ")
            prompt.append(preset.expected, "dim")
            options.append(Option(prompt, id=preset.name))
        with Vertical(id="preset-body"):
            yield Label("Choose a preset (enter), escape to cancel")
            yield OptionList(*options, id="preset-list")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        if self.current in PRESETS:
            option_list.highlighted = list(PRESETS).index(self.current)
        option_list.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
