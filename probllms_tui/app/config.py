"""What the app is started with, and the two seams tests swap: the engine and the retriever."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probllms_tui.engine.base import Engine


def open_real_engine(model: str | None, models_dir: Path | None, n_ctx: int) -> Engine:
    # Imported here, in the loading worker: llama_cpp must stay off the first-frame path.
    from probllms_tui.engine.load import open_engine

    return open_engine(model or None, models_dir=models_dir, n_ctx=n_ctx)


def open_real_retriever(data_dir: Path) -> Any | None:
    # chromadb and sentence-transformers take seconds to import: only ever in a worker.
    from probllms_tui.rag.retrieve import open_retriever

    return open_retriever(data_dir)


def index_real_notes(notes_dir: Path, data_dir: Path, progress=None, *, rebuild: bool = False,
                     should_stop: Callable[[], bool] = lambda: False,
                     started: Callable[[Any], None] | None = None) -> dict:
    # Incremental: unchanged files are not re-embedded (rag/indexer.py). Skipped files come
    # back in the report's "skipped" list, which the app shows. In a child process that the
    # app stops without waiting when the student quits (rag/background.py).
    from probllms_tui.rag.background import index_in_child

    report = index_in_child(notes_dir, data_dir, rebuild=rebuild, progress=progress,
                            should_stop=should_stop, started=started)
    forget_chroma_clients()
    return report


def forget_chroma_clients() -> None:
    """After another process wrote the index, drop this process's cached Chroma clients so
    the retriever reopens what is on disk, not its stale in-memory copy."""
    import sys

    if "chromadb" in sys.modules:  # never import chromadb just to clear it
        from probllms_tui.rag.store import wipe_cache

        wipe_cache()


@dataclass
class AppConfig:
    data_dir: Path
    models_dir: Path | None = None
    model: str | None = None  # overrides the saved setting for this run
    banks: list[Path] = field(default_factory=list)
    notes_dir: Path | None = None
    rag: bool = True  # False: --no-rag for this run, whatever the setting says
    use_builtin_bank: bool = True
    engine_factory: Callable[[str | None, Path | None, int], Engine] = open_real_engine
    retriever_factory: Callable[[Path], Any | None] = open_real_retriever
    # Indexes the notes in the background on first run (or for --notes); None: never.
    # Off by default so tests with a scripted retriever never build a real index.
    notes_indexer: Callable[..., dict] | None = None

    def notes_folder(self) -> Path:
        """``--notes`` when given, else the sample notes the project ships."""
        from probllms_tui.core.paths import default_notes_dir

        return self.notes_dir or default_notes_dir()
