"""The top line: the app's name and the F-keys of the four screens, the current one lit.

It replaces Textual's Header so the screen keys are always on show, even at 80 columns where
the footer has room only for the current screen's own keys.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MODES = (("F2", "practice", "Practice"), ("F3", "ask", "Ask"), ("F4", "models", "Models"),
         ("F5", "notes", "Notes"))


class ModeBar(Static):
    DEFAULT_CSS = "ModeBar { dock: top; height: 1; background: $primary-background; padding: 0 1; }"

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        text = Text("ProbLLMs", style="bold")
        text.append("  │ ")
        for key, mode, label in MODES:
            style = "bold reverse" if mode == self.current else ""
            text.append(f" {key} ", style="dim" if mode != self.current else "bold")
            text.append(label, style=style)
            text.append(" ")
        text.append("│  F1 Help", style="dim")
        self.update(text)
