"""The banks dialog (ctrl+o): open question banks by path, see each bank's progress.

Typing a path completes it from the folder's entries (folders and files with a bank
extension); Enter opens it in a worker, since an Anki deck loads the sentence embedder. An
opened bank joins the practice queue at once and is remembered for the next start; Delete
forgets the highlighted one. Kept apart from app.py: the app only binds the key and loads
the remembered banks at start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DataTable, Input, Static

from probllms_tui.app.access import probllms_app
from probllms_tui.core.errors import ProbLLMsError, one_line
from probllms_tui.core.readers import SUFFIXES, read_bank

if TYPE_CHECKING:
    from probllms_tui.app.app import ProbLLMsApp

MAX_ENTRIES = 2000  # a huge folder must not stall the completion


class PathSuggester(Suggester):
    """Completes the last path component from the folder's entries (folders end with "/")."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)  # folders change while the app runs

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


def complete_path(value: str) -> str | None:
    if not value:
        return None
    expanded = os.path.expanduser(value)
    folder, prefix = os.path.split(expanded)
    try:
        with os.scandir(folder or ".") as entries:
            names = []
            for i, entry in enumerate(entries):
                if i >= MAX_ENTRIES:
                    break
                if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
                    continue
                if entry.is_dir():
                    names.append(entry.name + "/")
                elif Path(entry.name).suffix.lower() in SUFFIXES:
                    names.append(entry.name)
    except OSError:
        return None
    if not names:
        return None
    # Folders first (a path is walked folder by folder), then files, each alphabetically; keep
    # what the student typed ("~/" stays "~/") and add the rest of the first match.
    first = min(names, key=lambda n: (not n.endswith("/"), n))
    return value + first[len(prefix):]


def open_deferred_banks(app: ProbLLMsApp) -> None:
    """Read the banks the app held back at start (Anki decks) in a worker, then add them."""
    paths, app.bank.deferred = list(app.bank.deferred), []

    def read_all() -> None:
        for path in paths:
            try:
                loaded = read_bank(path)
            except Exception as exc:  # InputError or a broken file: report it, keep the others
                app.notify_from_thread(f"bank not loaded: {one_line(exc)}", severity="error", timeout=12)
                continue
            app.from_thread(_deferred_bank_read, app, path, loaded)

    app.run_worker(read_all, thread=True, group="bank-open", exit_on_error=False)


def _deferred_bank_read(app: ProbLLMsApp, path: Path, loaded) -> None:
    _, opened = add_bank(app, path, loaded)
    app.notify(opened, timeout=5)


def add_bank(app: ProbLLMsApp, path: Path, loaded):
    """Add a read bank to the app's questions: (its entry, "Opened NAME: N questions…")."""
    before = len(app.bank.questions)
    entry = app.bank.add_file(path, loaded)
    return entry, f"Opened {path.name}: {opened_count(len(entry.ids), len(app.bank.questions) - before)}"


def opened_count(questions: int, new: int) -> str:
    """"6 questions", or "6 questions (2 new; 4 already open from another bank)"."""
    if new == questions:
        return f"{questions} questions"
    return f"{questions} questions ({new} new; {questions - new} already open from another bank)"


class PathInput(Input):
    """An Input where Tab completes the suggested path, as a shell does (→ does too); with
    nothing to complete, Tab moves focus as everywhere else."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        suggestion = self._suggestion  # Textual keeps the shown suggestion here
        if suggestion and len(suggestion) > len(self.value) and suggestion.startswith(self.value):
            self.value = suggestion
            self.cursor_position = len(suggestion)
        else:
            self.screen.focus_next()


class BanksScreen(ModalScreen):
    BINDINGS = [Binding("escape", "dismiss", "Close"),
                # ctrl+d, not Delete: the dialog opens in the path box, where Delete edits text.
                Binding("ctrl+d", "forget", "Close bank", priority=True)]
    DEFAULT_CSS = """
    #banks-dialog { height: auto; max-height: 80%; }
    #bank-path { margin: 1 0 0 0; }
    #bank-table { height: auto; max-height: 14; margin: 1 0 0 0; }
    #bank-status { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="banks-dialog", classes="dialog"):
            yield Static("Question banks  (Enter opens, Tab/→ completes, ctrl+d closes one, Esc)",
                         classes="title")
            yield PathInput(placeholder="path to a bank: .xml .gift .aiken .txt .apkg .tsv .jsonl .csv",
                        suggester=PathSuggester(), id="bank-path")
            yield DataTable(id="bank-table", cursor_type="row")
            yield Static("", id="bank-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Bank", "Questions", "Answered", "Right", "Left out"):
            table.add_column(label, key=label)
        self.refresh_table()
        self.query_one(Input).focus()

    def refresh_table(self) -> None:
        app = probllms_app(self)
        table = self.query_one(DataTable)
        table.clear()
        for entry in app.bank.files:
            answered, right = app.store.question_stats(entry.ids)
            accuracy = f"{right} ({right / answered:.0%})" if answered else "-"
            table.add_row(entry.path.name, str(len(entry.ids)), str(answered), accuracy,
                          str(entry.skipped), key=str(entry.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            return
        path = Path(os.path.expanduser(value)).resolve()
        if any(f.path.resolve() == path for f in probllms_app(self).bank.files):
            self.set_status(f"{path.name} is open already")
            return
        self.set_status(f"Reading {path.name}…")
        self.open_bank(path)

    @work(thread=True, exclusive=True, group="bank-open", exit_on_error=False)
    def open_bank(self, path: Path) -> None:
        app = probllms_app(self)
        try:
            loaded = read_bank(path)
        except ProbLLMsError as exc:
            app.from_thread(self.set_status, f"Not opened: {exc}", True)
            return
        except Exception as exc:  # anything a broken file throws: say so, keep the app running
            app.from_thread(self.set_status, f"Not opened: {path}: {one_line(exc)}", True)
            return
        app.from_thread(self.bank_read, path, loaded)

    def bank_read(self, path: Path, loaded) -> None:
        app = probllms_app(self)
        entry, opened = add_bank(app, path, loaded)
        remembered = app.store.load_bank_paths()
        status = opened + (f", {entry.skipped} left out" if entry.skipped else "")
        try:
            if str(path) not in remembered:
                app.store.save_bank_paths([*remembered, str(path)])
        except Exception as exc:  # a read-only data dir: the bank is open for this session only
            status += f" (not remembered: {one_line(exc)})"
        self.set_status(status)
        self.query_one(Input).value = ""
        self.refresh_table()

    def action_forget(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        store = probllms_app(self).store
        remembered = store.load_bank_paths()
        if key not in remembered:
            self.set_status("Only banks opened here can be closed (this one came with the app or --bank)")
            return
        store.save_bank_paths([p for p in remembered if p != key])
        # Closed now, not only at the next start: its row goes, its questions leave the queue
        # (their answers stay in the history), and it can be opened again.
        probllms_app(self).bank.remove_file(Path(key))
        self.refresh_table()
        self.set_status(f"Closed {Path(key).name}: its questions leave the queue; it is not opened at the next start")

    def set_status(self, text: str, error: bool = False) -> None:
        self.query_one("#bank-status", Static).update(text)
        if error:
            self.app.notify(text, severity="error", timeout=8)
