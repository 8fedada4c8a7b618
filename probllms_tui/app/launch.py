"""Start the app from the command line (`probllms-tui`), keeping the first frame light.

Only Textual, the core and the store load before the first frame: llama_cpp, chromadb and
sentence-transformers load later, in workers.
"""

from __future__ import annotations

from pathlib import Path

from probllms_tui.app.lifecycle import run_then_exit


def launch(model: str | None = None, banks: list[Path] | None = None, notes: Path | None = None,
           data_dir: Path | None = None, models_dir: Path | None = None, rag: bool = True) -> None:
    from probllms_tui.app.app import ProbLLMsApp
    from probllms_tui.app.config import AppConfig, index_real_notes
    from probllms_tui.core.paths import data_dir as resolve_data_dir

    config = AppConfig(data_dir=resolve_data_dir(data_dir), models_dir=models_dir, model=model,
                       banks=[Path(b) for b in banks or []], notes_dir=notes, rag=rag,
                       notes_indexer=index_real_notes)
    # Never returns: the process ends as soon as the app has closed the store (lifecycle.py).
    run_then_exit(ProbLLMsApp(config))
