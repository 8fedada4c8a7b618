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
from probllms_tui.app.lifecycle import InstanceLock, trace
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


STORE_CLOSE_WAIT_S = 0.3


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
        Binding("ctrl+o", "open_banks", "Banks", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    status_text: reactive[str] = reactive("")
    tokens_per_s: reactive[float] = reactive(0.0)
    model_state: reactive[str] = reactive("loading")  # loading | ready | failed

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
        if config.use_builtin_bank and (path := builtin_bank()) is not None:
            paths.insert(0, path)
        self.bank = QuestionBank.load(paths, defer_slow=True)  # Anki decks open after the first frame
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
        self._index_jobs: list[Any] = []  # indexing child processes, stopped on exit
        self._released = False
        # Set by lifecycle.run_then_exit for the real process: quit ends it at once instead of
        # tearing down every widget first (tests under run_test keep Textual's normal exit).
        self.exit_at_once = False

    # --- start-up -----------------------------------------------------------------------
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
        for job in self._index_jobs:
            job.stop()
        trace("workers told")
        if not ending and self._engine_lock.acquire(timeout=0.05):
            try:
                if self.engine is not None:
                    self.engine.close()
                    self.engine = None
            finally:
                self._engine_lock.release()
        if ending:
            closer = threading.Thread(target=self.store.close, name="store-close", daemon=True)
            closer.start()
            closer.join(STORE_CLOSE_WAIT_S)
        else:
            self.store.close()
        trace("store closed")
        self.instance.release()

    def track_index_job(self, job: Any) -> None:
        """Keep an indexing child to stop on exit (called from the worker that started it)."""
        self._index_jobs.append(job)

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
        self._warn_once_about_model()
        if self.rag_enabled and not self._retriever_tried:
            self._open_retriever_early()

    def _warn_once_about_model(self) -> None:
        """Say once per model what its calibration measured: near chance on some set, or not
        calibrated at all. Once: a student who read it does not need it on every start."""
        engine = self.engine
        calibration = (getattr(engine, "calibrations", None) or {}).get(getattr(engine, "default_method", ""))
        if calibration is None:
            key, text = f"uncalibrated:{engine.name}", (
                f"{engine.name} is not calibrated: its percentages are not measured. "
                f"Calibrate it with: probllms-train bench calibrate --model {engine.name} --data BANK.jsonl")
        else:
            weak = calibration.near_chance()
            if not weak:
                return
            w = weak[0]
            key, text = f"near-chance:{engine.name}", (
                f"{engine.name} is near chance on {w.get('label') or w['set']}: {w['accuracy']:.0%} right "
                f"(chance {w['chance']:.0%}, n={w['n']}). Treat its picks there as guesses and read "
                "your notes; stronger models are on the Models screen (F4).")
        try:
            if self.store.notice_seen(key):
                return
            self.store.mark_notice_seen(key)
        except Exception:  # a read-only store: better to say it again than never
            pass
        self.notify(text, severity="warning", timeout=20)

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
        # A build cut short (quit or kill mid-index, mid-rebuild) is finished now, or answers
        # would cite part of the notes until the student thought of rebuilding.
        unfinished = getattr(existing, "unfinished_notes_dir", lambda: None)()
        if self.config.notes_indexer is not None and (
                existing is None or self.config.notes_dir is not None or unfinished is not None):
            if not self.instance.owner:  # the other instance indexes; Chroma takes one writer
                return
            self._index_notes(first_time=existing is None, folder=unfinished)

    def _index_notes(self, *, first_time: bool, folder: Path | None = None) -> None:
        """Index the notes in the background (in the retriever worker).

        Why automatically: a new student starts the app and asks a question; sources should
        come without first finding the Notes screen. With no index yet the notes folder is
        indexed once; with ``--notes DIR`` that folder is brought up to date, which for an
        unchanged folder costs a hash per file. Answers meanwhile come without sources (the
        retriever lock is not held while indexing), then cite the notes.
        """
        notes = self.config.notes_dir or folder or self.config.notes_folder()
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
            if worker.is_cancelled:
                raise _IndexingCancelled

        try:
            # Quitting cancels the worker; the indexer (a child process) is told to stop at its
            # next safe point and not waited for. The index is incremental: the next start finishes it.
            report = self.config.notes_indexer(notes, self.config.data_dir, progress=progress,
                                               should_stop=lambda: worker.is_cancelled,
                                               started=self.track_index_job)
        except Exception as exc:
            if worker.is_cancelled:
                return
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
            if not getattr(self.engine, "calibrations", None):
                model += " · uncalibrated"
        parts = [model, f"{self.tokens_per_s:.1f} tok/s", "RAG on" if self.rag_enabled else "RAG off"]
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
