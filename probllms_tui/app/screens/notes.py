"""Notes: the state of the notes index and a rebuild with a progress bar.

The RAG service is another package's (probllms_tui.rag.service); when it is missing or fails
to import, this screen says "index not available" and the rest of the app carries on.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Button, Footer, ProgressBar, Static
from textual.worker import get_current_worker

from probllms_tui.app.access import probllms_app
from probllms_tui.app.widgets.mode_bar import ModeBar
from probllms_tui.app.widgets.status_bar import StatusBar
from probllms_tui.core.errors import one_line


def rag_service():
    """The RAG service module, or None when this build has none."""
    try:
        from probllms_tui.rag import service
    except Exception:  # ImportError, or a dependency (chromadb) that fails to import
        return None
    if not all(hasattr(service, f) for f in ("index_status", "build_index")):
        return None
    return service


def describe_status(status: dict) -> Text:
    if not status.get("exists"):
        return Text("No index yet: press ctrl+r to build it from the notes folder.", style="yellow")
    if status.get("problem"):
        text = Text("⚠ Index not usable as it is\n", style="yellow")
    elif not status.get("chunks"):
        text = Text("Index empty: no passage to cite (ctrl+r builds it from the notes folder)\n", style="yellow")
    else:
        text = Text("✓ Index ready\n", style="green")
    rows = [("files", status.get("files")), ("chunks", status.get("chunks")),
            ("embedder", status.get("embedder")), ("indexed from", status.get("notes_dir")),
            ("last indexed", status.get("last_indexed")), ("location", status.get("location"))]
    for label, value in rows:
        if value not in (None, ""):
            text.append(f"{label:>13}: {value}\n")
    if status.get("problem"):
        text.append(f"⚠ {status['problem']}", style="yellow")
    return text


class NotesScreen(Screen):
    BINDINGS = [Binding("ctrl+r", "reindex", "Rebuild index", priority=True)]

    def compose(self) -> ComposeResult:
        yield ModeBar("notes")
        with VerticalScroll(id="notes-main"):
            yield Static("Notes index", classes="title")
            yield Static("", id="notes-dir")
            yield Static("Checking the index…", id="index-status")
            yield ProgressBar(id="index-progress", show_eta=False)
            yield Static("", id="index-file")
            yield Button("Rebuild index (ctrl+r)", id="reindex", variant="primary", compact=True)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#index-progress").display = False
        self.query_one("#notes-dir", Static).update(Text(f"Notes folder: {self.notes_dir()}"))
        # The status is read again whenever it can have changed: a background build ending,
        # and every return to this screen (it once showed "0 files" for the whole session).
        self.watch(self.app, "notes_indexing", self._indexing_changed, init=False)

    def on_screen_resume(self) -> None:
        self._show_status()  # also the first time the screen shows: on_mount need not read it

    def _indexing_changed(self, busy: bool) -> None:
        self._show_status()

    def _show_status(self) -> None:
        if probllms_app(self).notes_indexing:
            # Not read while the indexer child writes it: a half-created Chroma store reads as
            # "damaged" though nothing is wrong.
            self.query_one("#index-status", Static).update(
                Text("Indexing your notes in the background… (the status shows when it is done)", style="yellow"))
            return
        self._status_worker()

    def notes_dir(self) -> Path:
        return probllms_app(self).config.notes_folder()

    @work(thread=True, exclusive=True, group="notes", exit_on_error=False)
    def _status_worker(self) -> None:
        app = probllms_app(self)
        service = rag_service()
        if service is None:
            text = Text("Index not available in this build (no RAG service): answers use no notes.",
                        style="yellow")
        else:
            try:
                text = describe_status(service.index_status(app.config.data_dir))
            except Exception as exc:
                text = Text(f"Index not available: {one_line(exc)}", style="yellow")
        app.from_thread(self.query_one("#index-status", Static).update, text)

    def action_reindex(self) -> None:
        if rag_service() is None:
            self.notify("Index not available in this build", severity="warning")
            return
        instance = probllms_app(self).instance
        if not instance.owner:  # Chroma is not safe for two writing processes
            self.notify(f"Not rebuilt: {instance.problem}", severity="warning", timeout=10)
            return
        self.query_one("#reindex", Button).disabled = True
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._reindex_worker()

    @work(thread=True, exclusive=True, group="notes", exit_on_error=False)
    def _reindex_worker(self) -> None:
        app = probllms_app(self)
        worker = get_current_worker()

        def progress(done: int, total: int, path: str) -> None:
            app.from_thread(self._progress, done, total, str(path))

        try:
            app.notes.rebuild(self.notes_dir(), progress=progress, should_stop=lambda: worker.is_cancelled)
        except Exception as exc:
            if not worker.is_cancelled:
                app.from_thread(self._finished, f"Reindex failed: {one_line(exc)}", "error")
        else:
            app.from_thread(self._finished, "Notes index rebuilt", "information")

    def _progress(self, done: int, total: int, path: str) -> None:
        self.query_one("#index-progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#index-file", Static).update(Text(f"{done}/{total}  {path}", style="dim"))

    def _finished(self, message: str, severity: SeverityLevel) -> None:
        self.notify(message, severity=severity)
        self.query_one("#reindex", Button).disabled = False
        self.query_one("#index-progress").display = False
        self.query_one("#index-file", Static).update("")
        self._show_status()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reindex":
            self.action_reindex()
