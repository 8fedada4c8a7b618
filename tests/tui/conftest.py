"""Fixtures for the app's Pilot and snapshot tests: a fixed bank, a scripted engine, a fixed clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from probllms_tui.app.app import ProbLLMsApp
from probllms_tui.app.config import AppConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fakes.py and tui_support.py

from fakes import engine_factory  # noqa: E402
from tui_support import BANK, DATA, FIXED_NOW  # noqa: E402


@pytest.fixture(autouse=True)
def no_model_discovery(monkeypatch):
    """The Models screen also lists other tools' models (Ollama, LM Studio...): none of the
    machine's own may show up in these pictures and tables."""
    monkeypatch.setenv("PROBLLMS_DISCOVER", "off")


@pytest.fixture
def fixed_clock(monkeypatch):
    """Due dates shown on screen depend on 'now': pin it so snapshots are stable."""
    from probllms_tui.store import srs

    monkeypatch.setattr(srs, "now", lambda: FIXED_NOW)
    return FIXED_NOW


@pytest.fixture
def make_app(tmp_path):
    """Build (not run) an app on a fresh data dir with the test bank and a scripted engine."""
    def build(*, engine=None, factory=None, banks=(BANK,), retriever=None, data_dir=None,
              rag=True, model=None, notes_dir=DATA / "notes", retriever_factory=None,
              notes_indexer=None) -> ProbLLMsApp:
        config = AppConfig(
            data_dir=data_dir or tmp_path / "home", models_dir=tmp_path / "models",
            banks=[Path(b) for b in banks], notes_dir=notes_dir, rag=rag, model=model,
            use_builtin_bank=False,
            engine_factory=factory or engine_factory(engine),
            retriever_factory=retriever_factory or (lambda data_dir: retriever),
            notes_indexer=notes_indexer,
        )
        return ProbLLMsApp(config)

    return build
