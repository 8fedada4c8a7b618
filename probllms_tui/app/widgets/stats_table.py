"""Per-topic statistics: accuracy, current streak, questions due."""

from __future__ import annotations

from textual.widgets import DataTable

from probllms_tui.store import TopicStats


class StatsTable(DataTable):
    DEFAULT_CSS = "StatsTable { height: auto; max-height: 100%; }"

    def __init__(self, *args, topic_width: int = 12, **kwargs) -> None:
        # The side panel has room for 12 characters of topic; the pop-up shows whole names.
        super().__init__(*args, **kwargs)
        self.topic_width = topic_width

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self.add_columns("Topic", "Acc", "Strk", "Due")

    def show(self, stats: list[TopicStats]) -> None:
        self.clear()
        for s in stats:
            acc = f"{s.accuracy:.0%}" if s.answered else "-"
            self.add_row(fit_topic(s.subject, self.topic_width), acc, str(s.streak), str(s.due))
        if not stats:
            self.add_row("no answers", "", "", "")


def fit_topic(name: str, width: int) -> str:
    """A name cut to ``width`` says it is cut ("machine-lea…"); "s" shows whole names."""
    return name if len(name) <= width else name[:width - 1] + "\u2026"
