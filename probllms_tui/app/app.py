"""ProbLLMsApp: the screens (one mode each), the loaded model and the store they share.

The model loads in a background thread after the first frame; screens ask for it through
``engine_session``, which waits for the load and serialises use of the one llama.cpp context
(a new question cancels the old worker, whose thread may still be inside a llama.cpp call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from probllms_tui.app.config import AppConfig
from probllms_tui.app.screens.help import HelpScreen
from probllms_tui.app.screens.practice import PracticeScreen
from probllms_tui.app.session import PracticeSession, QuestionBank, builtin_bank
from probllms_tui.core.errors import one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.engine.base import Engine
from probllms_tui.store import Settings, Store


def _ask_screen() -> Screen:
    # The other screens import on first visit: only practice is on the first-frame path.
    from probllms_tui.app.screens.ask import AskScreen

    return AskScreen()


def _models_screen() -> Screen:
    from probllms_tui.app.screens.models import ModelsScreen

    return ModelsScreen()


def _notes_screen() -> Screen:
    from probllms_tui.app.screens.notes import NotesScreen

    return NotesScreen()


class _IndexingCancelled(Exception):
    """Raised from the indexer's progress callback when the app is quitting."""


class ProbLLMsApp(App):
    TITLE = "ProbLLMs"
    SUB_TITLE = "practice MCQs with a local model and your notes"
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"  # absolute: subclasses may live anywhere
    MODES = {"practice": PracticeScreen, "ask": _ask_screen, "models": _models_screen, "notes": _notes_screen}
    DEFAULT_MODE = "practice"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (96, "-wide")]
    BINDINGS = [
        # The F-keys are on show in every screen's ModeBar, so the footer keeps to screen keys.
        Binding("f1", "help", "Help", show=False),
        Binding("f2", "switch_mode('practice')", "Practice", show=False),
        Binding("f3", "switch_mode('ask')", "Ask", show=False),
        Binding("f4", "switch_mode('models')", "Models", show=False),
        Binding("f5", "switch_mode('notes')", "Notes", show=False),
        Binding("escape", "stop_generation", "Stop", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    status_text: reactive[str] = reactive("")
    tokens_per_s: reactive[float] = reactive(0.0)
    model_state: reactive[str] = reactive("loading")  # loading | ready | failed

    def __init__(self, config: AppConfig):
        super().__init__()
        self.config = config
        self.store = Store.open(config.data_dir)
        self.settings, self._settings_problems = self.store.load_settings()
        paths = list(config.banks)
        if config.use_builtin_bank and (path := builtin_bank()) is not None:
            paths.insert(0, path)
        self.bank = QuestionBank.load(paths)
        self.session = PracticeSession(self.bank, self.store)
        self.engine: Engine | None = None
        self.engine_error = ""
        self.model_spec: str | None = config.model or self.settings.model or None
        self.model_label = self.model_spec or "default model"
        self._engine_ready = threading.Event()
        self._engine_lock = threading.Lock()
        self._retriever: Any = None
        self._retriever_tried = False
        self._retriever_lock = threading.RLock()

    # --- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        for severity, text in self.bank.messages:
            self.notify(text, severity=severity, timeout=12)
        if not self.bank.questions:
            self.notify("No questions loaded: start with --bank FILE.jsonl|.csv", severity="warning", timeout=12)
        if self.store.problem:
            self.notify(self.store.problem, severity="error", timeout=15)
        for text in self._settings_problems:
            self.notify(text, severity="warning")
        self.load_model(self.config.model or self.settings.model or None)
        self._refresh_status()

    def on_unmount(self) -> None:
        self.workers.cancel_all()
        with self._engine_lock:
            if self.engine is not None:
                self.engine.close()
                self.engine = None
        self.store.close()

    # --- the model ----------------------------------------------------------------------
    @property
    def rag_enabled(self) -> bool:
        return self.config.rag and self.settings.rag

    def load_model(self, name: str | None) -> None:
        """Open ``name`` (registry name or path; None = default) in the background."""
        self.model_spec = name  # what was asked for: a reload asks for it again
        self.model_label = name or "default model"
        self.model_state = "loading"
        self._engine_ready.clear()
        self.workers.cancel_group(self, "inference")
        self._load_worker(name)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, name: str | None) -> None:
        with self._engine_lock:  # waits for a running generation to reach its next token
            old, self.engine = self.engine, None
            if old is not None:
                old.close()
            try:
                self.engine = self.config.engine_factory(name, self.config.models_dir,
                                                         self.settings.context_length)
                self.engine_error = ""
            except Exception as exc:  # ModelLoadError and anything llama.cpp raises
                self.engine_error = one_line(exc)
            finally:
                self._engine_ready.set()
        # Outside the lock, and without waiting: quitting mid-load must not deadlock.
        self.from_thread(self._model_ready if self.engine is not None else self._model_failed)

    class RunOnUi(Message):
        def __init__(self, fn: Callable[[], object]) -> None:
            super().__init__()
            self.fn = fn

    def from_thread(self, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Run ``fn`` on the UI thread soon; unlike call_from_thread it never blocks the worker,
        so a worker holding the model lock cannot deadlock an app that is shutting down."""
        self.post_message(self.RunOnUi(partial(fn, *args, **kwargs)))

    @on(RunOnUi)
    def _run_on_ui(self, message: RunOnUi) -> None:
        message.fn()

    def _model_ready(self) -> None:
        self.model_label = self.engine.name if self.engine else self.model_label
        self.model_state = "ready"
        self.notify(f"Model ready: {self.model_label}", timeout=3)
        if self.rag_enabled and not self._retriever_tried:
            self._open_retriever_early()

    def _model_failed(self) -> None:
        self.model_state = "failed"
        self.notify(f"Model not loaded: {self.engine_error}", severity="error", timeout=15)

    def engine_problem(self) -> str:
        return f"Model not loaded: {self.engine_error or 'stopped'}. Pick one on the Models screen (F4)."

    @contextmanager
    def engine_session(self, should_stop: Callable[[], bool]) -> Iterator[Engine | None]:
        """In a worker thread: wait for the model, then hold it; yields None if unavailable."""
        while not self._engine_ready.wait(0.05):
            if should_stop():
                yield None
                return
        while not self._engine_lock.acquire(timeout=0.05):
            if should_stop():
                yield None
                return
        try:
            yield None if should_stop() else self.engine
        finally:
            self._engine_lock.release()

    def retriever(self) -> Any:
        """The notes retriever, opened on first use (inside a worker: chromadb is slow to import)."""
        with self._retriever_lock:
            if not self._retriever_tried:
                self._retriever_tried = True
                try:
                    self._retriever = self.config.retriever_factory(self.config.data_dir)
                except Exception as exc:
                    self.from_thread(self.notify, f"Notes index unavailable: {one_line(exc)}",
                                     severity="warning", timeout=10)
            return self._retriever

    @work(thread=True, exclusive=True, group="retriever", exit_on_error=False)
    def _open_retriever_early(self) -> None:
        # After the model loads, so the first answer does not wait seconds for chromadb and
        # the embedder; never before the first frame.
        existing = self.retriever()
        if self.config.notes_indexer is not None and (existing is None or self.config.notes_dir is not None):
            self._index_notes(first_time=existing is None)

    def _index_notes(self, *, first_time: bool) -> None:
        """Index the notes in the background (in the retriever worker).

        Why automatically: a new student starts the app and asks a question; sources should
        come without first finding the Notes screen. With no index yet the notes folder is
        indexed once; with ``--notes DIR`` that folder is brought up to date, which for an
        unchanged folder costs a hash per file. Answers meanwhile come without sources (the
        retriever lock is not held while indexing), then cite the notes.
        """
        notes = self.config.notes_folder()
        if not notes.is_dir():
            if self.config.notes_dir is not None:
                self.from_thread(self.notify, f"--notes {notes}: folder not found; answers use no notes",
                                 severity="warning", timeout=10)
            return
        if first_time:
            self.from_thread(self.notify, f"Indexing the notes in {notes} (first run, under a minute); "
                             "answers cite them once it is done.", timeout=10)
        worker = get_current_worker()

        def progress(done: int, total: int, path: str) -> None:
            # Quitting cancels the worker; stop between files rather than hold the exit until
            # every file is embedded. The index is incremental: the next start finishes it.
            if worker.is_cancelled:
                raise _IndexingCancelled

        try:
            report = self.config.notes_indexer(notes, self.config.data_dir, progress=progress)
        except _IndexingCancelled:
            return
        except Exception as exc:
            self.from_thread(self.notify, f"Notes not indexed: {one_line(exc)} (Notes screen F5, ctrl+r to retry)",
                             severity="warning", timeout=12)
            return
        if report["skipped"]:
            first = report["skipped"][0]
            self.from_thread(self.notify, f"{len(report['skipped'])} note file(s) skipped, e.g. {first['path']}: "
                             f"{first['reason']}", severity="warning", timeout=10)
        if first_time or report["indexed"] or report["removed"]:
            if self.reopen_retriever() is not None:
                self.from_thread(self.notify, f"Notes indexed from {notes}: answers now cite them.", timeout=5)

    def forget_retriever(self) -> None:
        """After a reindex: open the fresh index on next use."""
        with self._retriever_lock:
            self._retriever, self._retriever_tried = None, False

    def reopen_retriever(self) -> Any:
        """Open the index afresh now, in one step (no window where another opener starts)."""
        with self._retriever_lock:
            self._retriever_tried = False
            return self.retriever()  # the lock is re-entrant

    def note_model_answer(self, q: MCQ, letter: str) -> None:
        if q.answer is None:
            return
        try:
            self.store.set_model_answer(q.id, letter)
        except Exception as exc:  # a full disk must not end the session
            self.notify(f"Model's pick not saved: {one_line(exc)}", severity="warning")

    def choose_model(self, name: str) -> None:
        """Load ``name`` ("" = default) and remember it for the next start."""
        self.settings = self.settings.updated({"model": name})
        try:
            self.store.save_settings(self.settings)
        except Exception as exc:
            self.notify(f"Model choice not saved: {one_line(exc)}", severity="warning")
        self.load_model(name or None)

    def apply_settings(self, settings: Settings) -> None:
        reload = settings.context_length != self.settings.context_length
        self.settings = settings
        try:
            self.store.save_settings(settings)
        except Exception as exc:
            self.notify(f"Settings not saved: {one_line(exc)}", severity="error")
        else:
            self.notify("Settings saved" + (" (not persisted: data dir is read-only)" if self.store.problem else ""))
        if reload:
            self.load_model(self.model_spec)
        self._refresh_status()

    # --- status bar ---------------------------------------------------------------------
    def watch_tokens_per_s(self) -> None:
        self._refresh_status()

    def watch_model_state(self) -> None:
        self._refresh_status()

    def _refresh_status(self) -> None:
        if self.model_state == "loading":
            model = f"⏳ loading {self.model_label}…"
        elif self.model_state == "failed" or self.engine is None:
            model = "⚠ no model (F4)"
        else:
            model = f"{self.engine.name} · {self.engine.quantization or '?'}"
            if getattr(self.engine, "threads", None):  # the prompt threads chosen at open
                model += f" · {self.engine.threads[1]} threads"
        parts = [model, f"{self.tokens_per_s:.1f} tok/s", "RAG on" if self.rag_enabled else "RAG off"]
        parts.append("⚠ not saving" if self.store.problem else "saved")
        self.status_text = "  │  ".join(parts)

    # --- actions ------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_stop_generation(self) -> None:
        running = [w for w in self.workers if w.group == "inference" and w.is_running]
        for worker in running:
            worker.cancel()
        if running:
            self.notify("Generation stopped", timeout=2)

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Practice", "Practise questions from the bank (F2)", lambda: self.switch_mode("practice"))
        yield SystemCommand("Ask", "Paste an exam question (F3)", lambda: self.switch_mode("ask"))
        yield SystemCommand("Models", "Switch model, change settings (F4)", lambda: self.switch_mode("models"))
        yield SystemCommand("Notes", "Notes index status and reindex (F5)", lambda: self.switch_mode("notes"))
        yield SystemCommand("Help", "List the keys (F1)", self.action_help)
        yield SystemCommand("Stop generation", "Stop the model's explanation (Esc)", self.action_stop_generation)
        yield SystemCommand("Review mistakes", "Practise the questions you got wrong",
                            lambda: self._practice_mode("mistakes"))
        yield SystemCommand("Due reviews", "Practise due and new questions", lambda: self._practice_mode("due"))

    def _practice_mode(self, mode: str) -> None:
        self.switch_mode("practice")
        self.call_later(lambda: self.screen.set_queue(mode) if isinstance(self.screen, PracticeScreen) else None)
