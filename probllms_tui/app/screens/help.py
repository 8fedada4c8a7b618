"""The help screen: every key the app answers to (a test checks it against the bindings)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# ProbLLMs keys

| Where | Key | Does |
|---|---|---|
| everywhere | F1 / ? | this help |
| everywhere | F2 F3 F4 F5 | practice, ask, models, notes |
| everywhere | Esc | stop the model's explanation |
| everywhere | ctrl+p | command palette (all commands, searchable) |
| everywhere | ctrl+q | quit |
| practice | A-D or 1-4 | answer |
| practice | n / Enter | next question |
| practice | r | switch between *review mistakes* and *due + new* |
| practice | s | per-topic statistics |
| ask | ctrl+s | answer the pasted question |
| ask | ctrl+l | clear the editor |
| models | Enter | load the highlighted model |
| models | ctrl+s | save settings |
| notes | ctrl+r | rebuild the notes index |

Answers, the review schedule and settings are saved as you go.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Markdown(INTRO)
