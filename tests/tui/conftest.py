"""Fixtures for the app's Pilot and snapshot tests: a fixed bank, a scripted engine, a fixed clock."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from probllms_tui.app.app import ProbLLMsApp
from probllms_tui.app.config import AppConfig

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # fakes.py beside the tests

from fakes import engine_factory  # noqa: E402
DATA = HERE / "data"
BANK = DATA / "bank.jsonl"
BAD_BANK = DATA / "bad_bank.jsonl"
FIXED_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


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
              rag=True, model=None, notes_dir=DATA / "notes") -> ProbLLMsApp:
        config = AppConfig(
            data_dir=data_dir or tmp_path / "home", models_dir=tmp_path / "models",
            banks=[Path(b) for b in banks], notes_dir=notes_dir, rag=rag, model=model,
            use_builtin_bank=False,
            engine_factory=factory or engine_factory(engine),
            retriever_factory=lambda data_dir: retriever,
        )
        return ProbLLMsApp(config)

    return build


async def settle(app, pilot, seconds: float = 0.05) -> None:
    """Let the workers finish and the UI process what they posted."""
    await pilot.pause(seconds)
    await app.workers.wait_for_complete()
    await pilot.pause(seconds)
