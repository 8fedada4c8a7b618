"""A manifest entry's own scoring method and threads reach the engine."""

from __future__ import annotations

from probllms_tui.core.registry import ModelEntry, Registry
from probllms_tui.engine.load import open_engine


def test_entry_threads_and_scoring_are_used(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBLLMS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    models = tmp_path / "models"
    Registry(models).register(ModelEntry(name="tiny", file=str(tiny["ok"]), scoring_method="letter",
                                         threads=[1, 1]))
    engine = open_engine("tiny", models_dir=models, n_ctx=128)
    try:
        assert engine.threads == (1, 1) and engine.default_method == "letter"
    finally:
        engine.close()
    engine = open_engine("tiny", models_dir=models, n_ctx=128, threads=(2, 2), method="cloze")
    try:  # what the caller asks for still wins (bench --threads, ask --method)
        assert engine.threads == (2, 2) and engine.default_method == "cloze"
    finally:
        engine.close()
