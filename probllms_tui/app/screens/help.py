"""The help screen: every key the app answers to (a test checks it against the bindings)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("everywhere", "F1", "this help (? too, on Practice)"),
    ("everywhere", "F2 F3 F4 F5", "practice, ask, models, notes"),
    ("everywhere", "Esc", "stop the model's explanation"),
    ("everywhere", "ctrl+o", "question banks: open Moodle XML, GIFT, Aiken, Anki, JSONL, CSV"),
    ("banks", "ctrl+d", "close the highlighted bank"),
    ("everywhere", "ctrl+p", "command palette (every command, searchable)"),
    ("everywhere", "ctrl+q", "quit"),
    ("practice", "A-D or 1-4", "answer"),
    ("practice", "n / Enter", "next question (skips an unanswered one, not recorded)"),
    ("practice", "r", "switch queue: review mistakes / due + new"),
    ("practice", "s", "per-topic statistics"),
    ("practice", "q", "quit"),
    ("ask", "ctrl+s", "answer the pasted question"),
    ("ask", "ctrl+l", "clear the editor"),
    ("models", "Enter", "load the highlighted model"),
    ("models", "ctrl+s", "save settings"),
    ("models", "f6", "refresh the model list"),
    ("models", "ctrl+b", "benchmark the loaded model on 100 bank questions (again: stop)"),
    ("notes", "ctrl+r", "rebuild the notes index"),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold", expand=False)
        for col in ("Where", "Key", "Does"):
            table.add_column(col)
        for where, key, does in KEYS:
            table.add_row(where, f"[b]{key}[/b]", does)
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static("ProbLLMs keys  (Esc closes)", classes="title")
            yield Static(table)
            yield Static("Answers, the review schedule and settings are saved as you go.", id="help-footer")
