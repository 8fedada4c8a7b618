"""The notes: a retriever opened on first use, and the index kept up to date in the background.

Why in the background: a new student starts the app and asks a question; sources should come
without first finding the Notes screen. Answers meanwhile come without sources (the retriever
lock is not held while indexing), then cite the notes. The indexer runs in a child process
(rag/background.py); each one is kept here so that quitting can tell it to stop, not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from probllms_tui.app.config import AppConfig, index_real_notes
from probllms_tui.app.lifecycle import InstanceLock
from probllms_tui.core.errors import one_line


Severity = Literal["information", "warning", "error"]  # Textual's SeverityLevel, without Textual


class Notify(Protocol):
    """How the service speaks to the student: callable from any thread, never blocking it."""

    def __call__(self, text: str, *, severity: Severity = "information", timeout: float | None = None) -> None: ...


class _IndexingCancelled(Exception):
    """Raised from the indexer's progress callback when the app is quitting."""


class NotesService:
    def __init__(self, config: AppConfig, instance: InstanceLock, notify: Notify,
                 on_indexing: Callable[[bool], None] = lambda busy: None):
        self._config = config
        # Told when an index build starts and ends, from the worker's thread: until the first
        # build ends, answers cite no notes, and the status bar says so.
        self._on_indexing = on_indexing
        self._instance = instance  # only the data dir's owner writes the index (lifecycle.py)
        self._notify = notify
        self._retriever: Any = None
        self._tried = False
        self._lock = threading.RLock()
        self._index_jobs: list[Any] = []  # indexing child processes, stopped on exit
        self._caught_up = False  # open_and_catch_up has run (once per app run)

    # --- the retriever ------------------------------------------------------------------
    def retriever(self) -> Any:
        """The notes retriever (None: no index), opened on first use: call it in a worker,
        chromadb and the embedder take seconds to import. A failure is said once."""
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    self._retriever = self._config.retriever_factory(self._config.data_dir)
                except Exception as exc:
                    self._notify(f"Notes index unavailable: {one_line(exc)}", severity="warning", timeout=10)
            return self._retriever

    @property
    def open_attempted(self) -> bool:
        """Whether the retriever was opened (or tried) since the last ``forget``."""
        return self._tried

    def forget(self) -> None:
        """After a reindex: open the fresh index on next use."""
        with self._lock:
            self._retriever, self._tried = None, False

    def reopen(self) -> Any:
        """Open the index afresh now, in one step (no window where another opener starts)."""
        with self._lock:
            self._tried = False
            return self.retriever()  # the lock is re-entrant

    # --- indexing child processes -------------------------------------------------------
    def track_index_job(self, job: Any) -> None:
        """Keep an indexing child to stop on exit (called from the worker that started it)."""
        self._index_jobs.append(job)

    @property
    def index_jobs(self) -> tuple[Any, ...]:
        return tuple(self._index_jobs)

    def stop_index_jobs(self) -> None:
        """Tell every indexing child to stop at its next safe point; waits for none."""
        for job in list(self._index_jobs):
            job.stop()

    # --- indexing -----------------------------------------------------------------------
    @property
    def caught_up(self) -> bool:
        """Whether ``open_and_catch_up`` has started in this run. Not ``open_attempted``: a
        first answer given before the model-ready event opens the retriever (finding no
        index), and the first-run indexing must still happen after it."""
        return self._caught_up

    def open_and_catch_up(self, should_stop: Callable[[], bool]) -> None:
        """In a worker, once the model is loaded: open the index, and index the notes when
        there is none yet, ``--notes`` was given, or a build was cut short."""
        self._caught_up = True
        existing = self.retriever()
        # A build cut short (quit or kill mid-index, mid-rebuild) is finished now, or answers
        # would cite part of the notes until the student thought of rebuilding.
        unfinished = getattr(existing, "unfinished_notes_dir", lambda: None)()
        config = self._config
        if config.notes_indexer is not None and (
                existing is None or config.notes_dir is not None or unfinished is not None):
            if not self._instance.owner:  # the other instance indexes; Chroma takes one writer
                return
            self.index(first_time=existing is None, folder=unfinished, should_stop=should_stop)

    def index(self, *, first_time: bool, folder: Path | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> None:
        """Index the notes (in a worker). With no index yet the notes folder is indexed once;
        with ``--notes DIR`` that folder is brought up to date, which for an unchanged folder
        costs a hash per file."""
        config = self._config
        if config.notes_indexer is None:
            return
        notes = config.notes_dir or folder or config.notes_folder()
        if not notes.is_dir():
            if config.notes_dir is not None:
                self._notify(f"--notes {notes}: folder not found; answers use no notes",
                             severity="warning", timeout=10)
            return
        if first_time:
            self._notify(f"Indexing the notes in {notes} (first run, under a minute); "
                         "answers cite them once it is done.", timeout=10)

        def progress(done: int, total: int, path: str) -> None:
            if should_stop():
                raise _IndexingCancelled

        self._on_indexing(True)
        try:
            self._index(notes, first_time, progress, should_stop)
        finally:
            self._on_indexing(False)

    def _index(self, notes: Path, first_time: bool, progress, should_stop: Callable[[], bool]) -> None:
        config = self._config
        try:
            # Quitting cancels the worker; the indexer (a child process) is told to stop at its
            # next safe point and not waited for. The index is incremental: the next start finishes it.
            report = config.notes_indexer(notes, config.data_dir, progress=progress,
                                          should_stop=should_stop, started=self.track_index_job)
        except Exception as exc:
            if should_stop():
                return
            self._notify(f"Notes not indexed: {one_line(exc)} (Notes screen F5, ctrl+r to retry)",
                         severity="warning", timeout=12)
            return
        if report["skipped"]:
            first = report["skipped"][0]
            self._notify(f"{len(report['skipped'])} note file(s) skipped, e.g. {first['path']}: "
                         f"{first['reason']}", severity="warning", timeout=10)
        if first_time or report["indexed"] or report["removed"]:
            if self.reopen() is not None:
                self._notify(f"Notes indexed from {notes}: answers now cite them.", timeout=5)

    def rebuild(self, folder: Path, *, progress: Callable[[int, int, str], None],
                should_stop: Callable[[], bool]) -> None:
        """Rebuild the index from ``folder`` (in a worker); raises what the indexer raised."""
        # The retriever reads a collection the rebuild drops: answers go without notes until
        # the fresh index is opened.
        self.forget()
        # A child process: quitting mid-rebuild stops it at its next safe point, without waiting.
        (self._config.notes_indexer or index_real_notes)(
            folder, self._config.data_dir, rebuild=True, progress=progress,
            should_stop=should_stop, started=self.track_index_job)
        self.forget()
