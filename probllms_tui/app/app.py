"""ProbLLMsApp: the screens (one mode each), the workers that feed them, and what they share.

What the app hosts lives in services/: the loaded model (ModelHost) and the notes index
(NotesService), plain thread-safe classes. The app composes the screens, runs the services'
slow parts in its workers, and turns what they report into notifications and the status bar.
Screens and widgets reach it through ``probllms_app(self)`` (access.py), typed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ParamSpec

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from probllms_tui.app.config import AppConfig
from probllms_tui.app.lifecycle import InstanceLock, trace
from probllms_tui.app.screens.help import HelpScreen
from probllms_tui.app.screens.practice import PracticeScreen
from probllms_tui.app.services.models import ModelHost, calibration_notice
from probllms_tui.app.services.notes import NotesService
from probllms_tui.app.session import PracticeSession, QuestionBank, builtin_bank
from probllms_tui.core.errors import one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.engine.base import Engine
from probllms_tui.store import Settings, Store

P = ParamSpec("P")


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


STORE_CLOSE_WAIT_S = 0.3


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
        Binding("ctrl+o", "open_banks", "Banks", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    status_text: reactive[str] = reactive("")
    tokens_per_s: reactive[float] = reactive(0.0)
    model_state: reactive[str] = reactive("loading")  # loading | ready | failed
    notes_indexing: reactive[bool] = reactive(False)  # an index build runs: answers cite no notes yet

    # What workers report, posted from their threads: posting never blocks a worker, so one
    # holding the model lock cannot deadlock an app that is shutting down.
    @dataclass
    class ModelLoaded(Message):
        """The loading worker opened ``engine``."""

        engine: Engine

    @dataclass
    class ModelFailed(Message):
        """The loading worker could not open the model, for the one-line reason ``error``."""

        error: str

    @dataclass
    class NotesIndexing(Message):
        """An index build of the notes started (True) or ended (False)."""

        busy: bool

    @dataclass
    class RunOnUi(Message):
        """For the one-off UI updates of screens' workers (see from_thread)."""

        fn: Callable[[], object]

    def __init__(self, config: AppConfig):
        super().__init__()
        self.config = config
        # Before the store: the first app on a data dir owns its notes index (lifecycle.py).
        self.instance = InstanceLock(config.data_dir)
        self.store = Store.open(config.data_dir)
        self.settings, self._settings_problems = self.store.load_settings()
        paths = list(config.banks)
        # Banks opened on the banks screen (ctrl+o) last time, unless given again on the command line.
        paths += [p for p in map(Path, self.store.load_bank_paths()) if p not in paths]
        # The built-in bank is for a first start. A student who names banks with --bank came to
        # practise those: it stays out. Banks opened with ctrl+o come before it, so a new
        # question of the student's own is never queued behind 85 built-in ones.
        if config.use_builtin_bank and not config.banks and (path := builtin_bank()) is not None:
            paths.append(path)
        self.bank = QuestionBank.load(paths, defer_slow=True)  # Anki decks open after the first frame
        self.session = PracticeSession(self.bank, self.store)
        self.models = ModelHost(config)
        self.notes = NotesService(config, self.instance, notify=self.notify_from_thread,
                                  on_indexing=lambda busy: self.post_message(self.NotesIndexing(busy)))
        self._released = False
        # Set by lifecycle.run_then_exit for the real process: quit ends it at once instead of
        # tearing down every widget first (tests under run_test keep Textual's normal exit).
        self.exit_at_once = False

    # --- start-up and the end -----------------------------------------------------------
    def on_mount(self) -> None:
        if self.bank.deferred:
            from probllms_tui.app.screens.banks import open_deferred_banks

            open_deferred_banks(self)
        for severity, text in self.bank.messages:
            self.notify(text, severity=severity, timeout=12)
        if not self.bank.questions:
            self.notify("No questions loaded: start with --bank FILE.jsonl|.csv", severity="warning", timeout=12)
        if self.store.problem:
            self.notify(self.store.problem, severity="error", timeout=15)
        if self.instance.problem:
            self.notify(self.instance.problem, severity="warning", timeout=15)
        for text in self._settings_problems:
            self.notify(text, severity="warning")
        self.load_model(self.config.model or self.settings.model or None)
        self._refresh_status()

    def on_unmount(self) -> None:
        self.release()

    def release(self, *, ending: bool = False) -> None:
        """Let go of everything that must be let go of before the process ends (idempotent).

        Quitting never waits for work in flight (lifecycle.py): workers are told to stop,
        indexing children to stop (at once, or after the Chroma write in flight), and a model
        busy inside llama.cpp (loading, scoring) is left to the process exit, not waited for.
        ``ending``: the process ends next, so the kernel frees the model, and closing the store
        gets at most STORE_CLOSE_WAIT_S: closing checkpoints the WAL with fsyncs that took
        seconds on a busy disk, and every answer is already committed (a checkpoint cut short
        is safe; the next open replays the WAL).
        """
        if self._released:
            return
        self._released = True
        self.workers.cancel_all()
        self.notes.stop_index_jobs()
        trace("workers told")
        if ending:
            closer = threading.Thread(target=self.store.close, name="store-close", daemon=True)
            closer.start()
            closer.join(STORE_CLOSE_WAIT_S)
        else:
            self.models.close_if_idle(wait_s=0.05)
            self.store.close()
        trace("store closed")
        self.instance.release()

    # --- from worker threads ------------------------------------------------------------
    def from_thread(self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run ``fn`` on the UI thread soon; unlike call_from_thread it never blocks the worker,
        so a worker holding the model lock cannot deadlock an app that is shutting down."""
        self.post_message(self.RunOnUi(partial(fn, *args, **kwargs)))

    @on(RunOnUi)
    def _run_on_ui(self, message: RunOnUi) -> None:
        message.fn()

    def notify_from_thread(self, text: str, *, severity: SeverityLevel = "information",
                           timeout: float | None = None) -> None:
        """``notify`` for worker threads (the services' way to speak): posted, never waited for."""
        self.from_thread(self.notify, text, severity=severity, timeout=timeout)

    # --- the model ----------------------------------------------------------------------
    @property
    def rag_enabled(self) -> bool:
        return self.config.rag and self.settings.rag

    def load_model(self, name: str | None) -> None:
        """Open ``name`` (registry name or path; None = default) in the background."""
        self.models.begin_load(name)
        self.model_state = "loading"
        self.workers.cancel_group(self, "inference")
        self._load_worker(name)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, name: str | None) -> None:
        engine = self.models.open(name, self.settings.context_length)
        # Outside the model lock, and without waiting: quitting mid-load must not deadlock.
        self.post_message(self.ModelLoaded(engine) if engine is not None else self.ModelFailed(self.models.error))

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        # The host's engine, not the message's: a newer load may have closed this one since.
        if self.models.engine is not None:
            self.models.label = self.models.engine.name
        self.model_state = "ready"
        self.notify(f"Model ready: {self.models.label}", timeout=3)
        self._warn_once_about_model(message.engine)
        if self.rag_enabled and not self.notes.caught_up:
            self._open_notes_early()

    @on(ModelFailed)
    def _model_failed(self, message: ModelFailed) -> None:
        self.model_state = "failed"
        self.notify(f"Model not loaded: {message.error}", severity="error", timeout=15)

    def _warn_once_about_model(self, engine: Engine) -> None:
        """Say what the model's calibration measured once per model: a student who read it
        does not need it on every start."""
        notice = calibration_notice(engine)
        if notice is None:
            return
        key, text = notice
        try:
            if self.store.notice_seen(key):
                return
            self.store.mark_notice_seen(key)
        except Exception:  # a read-only store: better to say it again than never
            pass
        self.notify(text, severity="warning", timeout=20)

    def note_model_answer(self, q: MCQ, letter: str) -> None:
        if q.answer is None:
            return
        try:
            self.store.set_model_answer(q.id, letter)
        except Exception as exc:  # a full disk must not end the session
            self.notify(f"Model's pick not saved: {one_line(exc)}", severity="warning")

    # --- the notes ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="retriever", exit_on_error=False)
    def _open_notes_early(self) -> None:
        # After the model loads, so the first answer does not wait seconds for chromadb and
        # the embedder; never before the first frame.
        worker = get_current_worker()
        self.notes.open_and_catch_up(should_stop=lambda: worker.is_cancelled)

    # --- settings -----------------------------------------------------------------------
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
            self.load_model(self.models.spec)
        self._refresh_status()

    # --- status bar ---------------------------------------------------------------------
    def watch_tokens_per_s(self) -> None:
        self._refresh_status()

    def watch_model_state(self) -> None:
        self._refresh_status()

    def watch_notes_indexing(self) -> None:
        self._refresh_status()

    @on(NotesIndexing)
    def _notes_indexing(self, message: NotesIndexing) -> None:
        self.notes_indexing = message.busy

    def _refresh_status(self) -> None:
        engine = self.models.engine
        if self.model_state == "loading":
            model = f"⏳ loading {self.models.label}…"
        elif self.model_state == "failed" or engine is None:
            model = "⚠ no model (F4)"
        else:
            model = f"{engine.name} · {engine.quantization or '?'}"
            if getattr(engine, "threads", None):  # the prompt threads chosen at open
                n = engine.threads[1]
                model += f" · {n} thread{'' if n == 1 else 's'}"
            if not getattr(engine, "calibrations", None):
                model += " · uncalibrated"
        rag = ("RAG: indexing notes…" if self.notes_indexing else "RAG on") if self.rag_enabled else "RAG off"
        parts = [model, f"{self.tokens_per_s:.1f} tok/s", rag]
        parts.append("⚠ not saving" if self.store.problem else "saved")
        self.status_text = "  │  ".join(parts)

    # --- actions ------------------------------------------------------------------------
    async def action_quit(self) -> None:
        if self.exit_at_once:
            from probllms_tui.app.lifecycle import leave_now

            leave_now(self)  # does not return
        await super().action_quit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_banks(self) -> None:
        from probllms_tui.app.screens.banks import BanksScreen

        if not isinstance(self.screen, BanksScreen):
            self.push_screen(BanksScreen())

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
        yield SystemCommand("Question banks", "Open Moodle, GIFT, Aiken, Anki banks (ctrl+o)", self.action_open_banks)
        yield SystemCommand("Stop generation", "Stop the model's explanation (Esc)", self.action_stop_generation)
        yield SystemCommand("Review mistakes", "Practise the questions you got wrong",
                            lambda: self._practice_mode("mistakes"))
        yield SystemCommand("Due reviews", "Practise due and new questions", lambda: self._practice_mode("due"))

    def _practice_mode(self, mode: str) -> None:
        self.switch_mode("practice")
        self.call_later(lambda: self.screen.set_queue(mode) if isinstance(self.screen, PracticeScreen) else None)
