"""A question with its lettered options; after answering, the chosen and right ones marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from probllms_tui.app.math_text import render_math
from probllms_tui.core.mcq import MCQ


class QuestionView(Static):
    DEFAULT_CSS = "QuestionView { height: auto; }"

    def show(self, q: MCQ | None, chosen: str | None = None, empty: str = "") -> None:
        if q is None:
            self.update(Text(empty))
            return
        text = Text()
        if q.subject:
            text.append(f"{q.subject}\n", style="italic dim")
        text.append(render_math(q.stem) + "\n\n", style="bold")
        for letter, option in zip(q.letters, q.options):
            style = ""
            mark = "  "
            if chosen is not None and letter == q.answer:
                style, mark = "green bold", "✓ "
            elif chosen is not None and letter == chosen:
                style, mark = "red", "✗ "
            text.append(f"{mark}{letter}. {render_math(option)}\n", style=style)
        self.update(text)
