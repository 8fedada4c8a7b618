"""A notes build cut short (quit or kill -9 mid-index, mid-rebuild) is finished by the next start.

The indexer marks the collection unfinished until its last write; the real retriever reads the
mark back, and the app, finding it at start, indexes that folder again (incrementally).
"""

from __future__ import annotations

import sys
from pathlib import Path

from probllms_tui.app.app import ProbLLMsApp
from probllms_tui.app.config import AppConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "tui"))
from fakes import FakeEngine, engine_factory  # noqa: E402
from tui_support import until_model_ready  # noqa: E402


def test_the_index_says_when_a_build_was_cut_short(tmp_path, embedder):
    from probllms_tui.rag import indexer, store
    from probllms_tui.rag.retrieve import open_retriever

    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(3):
        (notes / f"n{i}.md").write_text(f"# Note {i}\n\nTopic item{i} explained.\n")

    def stop_after_first(done, total, path):
        if done == 1:
            raise KeyboardInterrupt  # as a quit or a kill would, part-way

    try:
        indexer.build_index(notes, tmp_path / "home", progress=stop_after_first, embedder=embedder)
    except KeyboardInterrupt:
        pass
    store.wipe_cache()
    assert open_retriever(tmp_path / "home", embedder=embedder).unfinished_notes_dir() == notes.resolve()
    indexer.build_index(notes, tmp_path / "home", embedder=embedder)
    store.wipe_cache()
    assert open_retriever(tmp_path / "home", embedder=embedder).unfinished_notes_dir() is None


class _Unfinished:
    """The retriever of an index whose build was cut short (its own mark, read back above)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def unfinished_notes_dir(self) -> Path:
        return self.folder

    def search(self, query: str, k: int):
        return []


async def test_the_app_finishes_a_build_cut_short_at_start(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    calls = []

    def indexer(notes_dir, data_dir, progress=None, **kw):
        calls.append(notes_dir)
        return {"indexed": 1, "removed": 0, "skipped": []}

    config = AppConfig(data_dir=tmp_path / "home", use_builtin_bank=False, notes_dir=None,
                       engine_factory=engine_factory(FakeEngine()),
                       retriever_factory=lambda d: _Unfinished(folder), notes_indexer=indexer)
    app = ProbLLMsApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_model_ready(app, pilot)
        assert calls == [folder]
