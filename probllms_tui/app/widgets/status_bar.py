"""The one-line status bar: model, quantization, tokens/s, RAG and save state."""

from __future__ import annotations

from textual.widgets import Static

from probllms_tui.app.access import probllms_app


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(probllms_app(self), "status_text", self._show)

    def _show(self, text: str) -> None:
        self.update(text)
