"""Ask: paste an exam question, see what the parser found, then the model's answer.

The preview re-parses on every edit (parsing is a few regexes on at most 64k characters), so
a student sees the detected stem and options, or why the text is not a question, before
spending a second of model time.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Static, TextArea

from probllms_tui.app.math_text import render_math
from probllms_tui.app.widgets.answer_panel import AnswerPanel
from probllms_tui.app.widgets.follow_scroll import FollowScroll
from probllms_tui.app.widgets.paste_area import PasteArea
from probllms_tui.app.widgets.mode_bar import ModeBar
from probllms_tui.app.widgets.status_bar import StatusBar
from probllms_tui.core.errors import ProbLLMsError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.paste import parse_pasted

PLACEHOLDER = "Paste a question with its options, e.g.\nWhich is prime?\nA) 4\nB) 6\nC) 7\nD) 9"


class AskScreen(Screen):
    BINDINGS = [
        Binding("ctrl+s", "ask", "Answer", priority=True),
        Binding("ctrl+l", "clear", "Clear", priority=True),
    ]

    def compose(self) -> ComposeResult:
        yield ModeBar("ask")
        with FollowScroll(id="ask-main"):
            yield PasteArea(id="paste", soft_wrap=True, show_line_numbers=False, placeholder=PLACEHOLDER)
            yield Static("", id="preview")
            with Horizontal(id="ask-buttons"):
                yield Button("Answer (ctrl+s)", id="ask-button", variant="primary", disabled=True, compact=True)
                yield Button("Clear (ctrl+l)", id="clear-button", compact=True)
            yield AnswerPanel(id="ask-answer")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.question: MCQ | None = None
        self._show_preview("")
        self.query_one("#paste", TextArea).focus()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._show_preview(event.text_area.text)

    def on_paste_area_refused(self, event: PasteArea.Refused) -> None:
        self.query_one("#preview", Static).update(Text(f"✗ {event.reason}", style="red"))
        self.notify(event.reason, severity="warning", timeout=5)

    def _show_preview(self, text: str) -> None:
        preview = self.query_one("#preview", Static)
        self.question = None
        if not text.strip():
            preview.update(Text("Preview: waiting for a question.", style="dim"))
        else:
            try:
                self.question = parse_pasted(text)
            except ProbLLMsError as exc:
                preview.update(Text(f"✗ Not a question yet: {exc}", style="red"))
            else:
                q = self.question
                out = Text("Detected ", style="green")
                out.append(f"{len(q.options)} options", style="bold green")
                # Every option always shows (a missing one reads as "not detected"): the stem
                # is cut to 3 lines and each option to its first line instead.
                stem_lines = render_math(q.stem).split("\n")
                stem = "\n      ".join(line[:200] for line in stem_lines[:3])
                out.append(f"\nStem: {stem}{' …' if len(stem_lines) > 3 else ''}\n")
                for letter, option in zip(q.letters, q.options):
                    first, *more = render_math(option).split("\n")
                    out.append(f"  {letter}. {first[:120]}{' …' if more or len(first) > 120 else ''}\n")
                preview.update(out)
        self.query_one("#ask-button", Button).disabled = self.question is None

    async def action_ask(self) -> None:
        if self.question is None:
            self.notify("Nothing to answer yet: the preview says what is missing", severity="warning", timeout=4)
            return
        panel = self.query_one(AnswerPanel)
        await panel.start(self.question, correct=self.question.answer)
        self.query_one("#ask-main", FollowScroll).follow()  # follow the streamed explanation

    async def action_clear(self) -> None:
        self.query_one("#paste", TextArea).clear()
        await self.query_one(AnswerPanel).reset()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ask-button":
            await self.action_ask()
        elif event.button.id == "clear-button":
            await self.action_clear()
