"""A bar per option: how sure the model is of each, the pick and the right answer marked."""

from __future__ import annotations

from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from probllms_tui.core.mcq import MCQ


class ProbabilityBars(Static):
    DEFAULT_CSS = "ProbabilityBars { height: auto; }"

    def show(self, q: MCQ, probabilities: dict[str, float], pick: str, correct: str | None = None,
             *, bold_pick: bool = True) -> None:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=3, no_wrap=True)
        table.add_column(width=12, no_wrap=True)
        table.add_column(width=4, justify="right", no_wrap=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for letter, option in zip(q.letters, q.options):
            p = probabilities.get(letter, 0.0)
            mark = "▶" if letter == pick else " "
            style = "bold" if letter == pick and bold_pick else ""
            label = Text(f"{mark}{letter}", style=style)
            if correct is not None and letter == correct:
                label.stylize("green")
            table.add_row(label, ProgressBar(total=1.0, completed=p, width=12,
                                             complete_style="cyan" if letter == pick else "grey50"),
                          Text(f"{p:.0%}"), Text(option.splitlines()[0], style=style))
        self.update(table)

    def clear(self) -> None:
        self.update("")
