"""Screenshots of every screen at 100x30 (pytest-textual-snapshot): nothing cut off or overlapping.

Deterministic by construction: the fixed test bank in file order, the scripted engine, a fixed
clock for due dates, no toasts. Update after a deliberate UI change with --snapshot-update.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import settle
from fakes import FakeRetriever
from textual.widgets import TextArea

from probllms_tui.app.screens import notes as notes_screen
from probllms_tui.core.prompt import Passage

SIZE = (100, 30)


async def quiet(app, pilot) -> None:
    await settle(app, pilot)
    app.clear_notifications()
    app.tokens_per_s = 42.0  # the measured rate of the scripted engine varies run to run
    await pilot.pause(0.05)


async def just_quiet(pilot) -> None:
    await quiet(pilot.app, pilot)


@pytest.fixture
def snap_app(make_app, fixed_clock):
    return make_app


def test_practice_question(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=SIZE, run_before=just_quiet)


def test_practice_after_answering(snap_compare, snap_app):
    async def answer(pilot):
        await quiet(pilot.app, pilot)
        await pilot.press("2")  # wrong: shows the key, the bank's explanation and the model
        await quiet(pilot.app, pilot)

    assert snap_compare(snap_app(), terminal_size=SIZE, run_before=answer)


def test_ask_with_answer_and_sources(snap_compare, snap_app):
    retriever = FakeRetriever([Passage("A prime has two divisors.", "notes/primes.md:3-3")])

    async def ask(pilot):
        await pilot.press("f3")
        pilot.app.screen.query_one("#paste", TextArea).text = "Which is prime?\nA) 4\nB) 6\nC) 7\nD) 9"
        await pilot.pause(0.05)
        await pilot.press("ctrl+s")
        await quiet(pilot.app, pilot)
        pilot.app.set_focus(None)  # a blinking text cursor would make the picture flaky
        await pilot.pause(0.05)

    assert snap_compare(snap_app(retriever=retriever), terminal_size=SIZE, run_before=ask)


def test_models_screen(snap_compare, snap_app):
    async def models(pilot):
        await pilot.press("f4")
        await quiet(pilot.app, pilot)

    assert snap_compare(snap_app(), terminal_size=SIZE, run_before=models)


def test_notes_screen(snap_compare, snap_app, monkeypatch):
    class Service:
        @staticmethod
        def index_status(data_dir):
            return {"exists": True, "files": 3, "chunks": 42, "embedder": "all-MiniLM-L6-v2",
                    "notes_dir": "notes", "last_indexed": "2026-11-25T09:00:00", "location": "<data>/notes_index"}

        build_index = None

    monkeypatch.setattr(notes_screen, "rag_service", lambda: Service)

    async def notes(pilot):
        await pilot.press("f5")
        await quiet(pilot.app, pilot)

    assert snap_compare(snap_app(notes_dir=Path("notes")), terminal_size=SIZE, run_before=notes)


def test_help_screen(snap_compare, snap_app):
    async def help_(pilot):
        await quiet(pilot.app, pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)

    assert snap_compare(snap_app(), terminal_size=SIZE, run_before=help_)
