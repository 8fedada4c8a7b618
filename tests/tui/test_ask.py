"""Ask mode: live preview of the parse (or why it fails), then the answer with sources."""

from __future__ import annotations

from tui_support import settle
from fakes import FakeEngine, FakeRetriever
from textual import events
from textual.widgets import Button, Markdown, Static, TextArea

from probllms_tui.core.prompt import Passage

QUESTION = "Which is prime?\nA) 4\nB) 6\nC) 7\nD) 9"


def preview(app) -> str:
    return str(app.screen.query_one("#preview", Static).render())


async def paste(app, pilot, text: str) -> None:
    """Paste as a terminal does: the driver hands the app a Paste event for the focused widget."""
    area = app.screen.query_one("#paste", TextArea)
    area.text = ""
    area.focus()
    await pilot.pause(0.05)
    app.post_message(events.Paste(text))
    await pilot.pause(0.05)


async def test_a_paste_lands_once_even_with_terminal_line_endings(make_app):
    """Terminals send pasted newlines as CR; the editor must hold the question once."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        await paste(app, pilot, QUESTION.replace("\n", "\r"))
        assert app.screen.query_one("#paste", TextArea).text.count("Which is prime?") == 1
        text = preview(app)
        assert "Detected 4 options" in text and "Stem: Which is prime?\n" in text and "D. 9" in text


async def test_paste_previews_then_answers_with_sources(make_app):
    passage = Passage("A prime has exactly two divisors.", "notes/primes.md:3-3",
                      {"path": "notes/primes.md", "lines": "3-3"})
    retriever = FakeRetriever([passage])
    engine = FakeEngine()
    app = make_app(engine=engine, retriever=retriever)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        assert app.current_mode == "ask"
        assert app.screen.query_one("#ask-button", Button).disabled
        await paste(app, pilot, QUESTION)
        text = preview(app)
        assert "Detected 4 options" in text and "Stem: Which is prime?" in text and "C. 7" in text
        assert not app.screen.query_one("#ask-button", Button).disabled
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "Model picks D" in str(app.screen.query_one("#pick", Static).render())
        assert "notes/primes.md:3-3" in str(app.screen.query_one("#sources", Static).render())
        assert "Because" in app.screen.query_one("#explanation", Markdown).source
        assert retriever.queries and retriever.queries[0][1] == app.settings.k
        assert engine.scored[0][1] == (passage,)  # the passages reached the engine's prompt
        assert app.store.answer_count() == 0  # asking is not practising


async def test_no_rag_means_no_sources(make_app):
    retriever = FakeRetriever([Passage("x", "notes/x.md:1-1")])
    app = make_app(retriever=retriever, rag=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await paste(app, pilot, QUESTION)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert retriever.queries == []
        assert str(app.screen.query_one("#sources", Static).render()) == ""
        assert "RAG off" in app.status_text


BAD_PASTES = [
    ("   ", "waiting for a question"),
    ("Is this a question?\nA) only one option", "only one option found"),
    ("\x00\x01\x02garbage\x03\x04" * 50, "binary"),
    ("Just some words without options", "no options"),
    ("Which?\nA) x\nB) y\n" + "z" * 70_000, "a question is at most"),
]


async def test_bad_pastes_say_why_inline(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        for text, why in BAD_PASTES:
            await paste(app, pilot, text)
            assert why in preview(app), text[:40]
            assert app.screen.query_one("#ask-button", Button).disabled
            await pilot.press("ctrl+s")  # refused with a hint, nothing runs
            await settle(app, pilot)
            assert str(app.screen.query_one("#pick", Static).render()) == ""


async def test_a_1mb_paste_is_refused_without_freezing(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        area = app.screen.query_one("#paste", TextArea)
        area.text = "Which is prime?\nA) 4\nB) 7"
        area.post_message(events.Paste("x" * 1_000_000))
        await pilot.pause(0.1)
        assert "pasted 1,000,000 characters" in preview(app)
        assert area.text == "Which is prime?\nA) 4\nB) 7"  # what was there is kept


async def test_typing_into_the_editor_updates_the_preview(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await pilot.press(*"2?", "enter", *"A) y", "enter", *"B) n")
        await pilot.pause(0.05)
        assert "Detected 2 options" in preview(app)
        await pilot.press("ctrl+l")
        await pilot.pause(0.05)
        assert app.screen.query_one("#paste", TextArea).text == ""


async def test_the_preview_shows_every_option_of_a_long_question(make_app):
    """With a 4-line stem and 6 options the preview was cut at 10 rows: option F was missing
    and the student thought it was not detected."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        stem = "Consider a Markov chain.\nIt has 3 states.\nIt is irreducible.\nIt is aperiodic.\nWhich holds?"
        await paste(app, pilot, stem + "\n" + "\n".join(f"{l}) option {l}" for l in "ABCDEF"))
        widget = app.screen.query_one("#preview", Static)
        assert "F. option F" in preview(app)
        assert widget.region.height >= len(str(widget.render()).splitlines())


async def test_no_empty_evidence_bar_before_the_first_answer(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        assert not app.screen.query_one("#evidence", Static).display
