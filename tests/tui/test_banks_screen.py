"""The banks dialog (ctrl+o): open a bank by path with completion, per-bank statistics, and the
choice remembered for the next start."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from textual.widgets import DataTable, Input

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_support import settle  # noqa: E402

from probllms_tui.app.screens.banks import BanksScreen, complete_path  # noqa: E402
from probllms_tui.store import Store  # noqa: E402

BANKS = Path(__file__).resolve().parents[1] / "core" / "fixtures" / "banks"


def test_path_completion_offers_folders_and_bank_files(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course.gift").write_text("x")
    (tmp_path / "cours_notes.pdf").write_text("x")
    assert complete_path(str(tmp_path / "cou")) == str(tmp_path / "course") + "/"  # folders first
    assert complete_path(str(tmp_path / "course.")) == str(tmp_path / "course.gift")
    assert complete_path(str(tmp_path / "cours_")) is None  # a PDF is not a bank
    assert complete_path(str(tmp_path / "missing" / "x")) is None


async def test_open_banks_by_path_see_statistics_and_they_are_remembered(make_app, tmp_path):
    gift, xml = tmp_path / "course.gift", tmp_path / "course.xml"
    shutil.copy(BANKS / "course.gift", gift)
    shutil.copy(BANKS / "course.xml", xml)
    home = tmp_path / "home"
    app = make_app(data_dir=home)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        before = len(app.bank.questions)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert isinstance(app.screen, BanksScreen)
        box = app.screen.query_one(Input)
        for path, complete in ((gift, "tab"), (xml, "right")):
            # Most of the path pasted, one more letter typed, the rest completed with Tab or →
            # (the title promises both, as a shell's Tab does).
            box.value = str(path)[:-3]
            box.cursor_position = len(box.value)
            await pilot.press(str(path)[-3])
            await settle(app, pilot, 0.2)
            await pilot.press(complete)
            assert box.value == str(path) and box.has_focus
            await pilot.press("enter")
            await settle(app, pilot, 0.5)
            await app.workers.wait_for_complete()
            await settle(app, pilot)
        assert len(app.bank.questions) == before + 6 + 5
        table = app.screen.query_one(DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert rows[-2:] == [["course.gift", "6", "0", "-", "6"], ["course.xml", "5", "0", "-", "5"]]
        # Answer one question of the GIFT bank: its row counts it.
        q = next(q for q in app.bank.questions if q.source == "course.gift:15")
        app.store.record_answer(q.id, q.subject, q.answer, True)
        app.screen.refresh_table()
        assert table.get_row_at(table.row_count - 2)[2:4] == ["1", "1 (100%)"]
        # ctrl+d closes the highlighted bank now (focus still in the path box): its row and
        # questions go, and it can be opened again in the same session.
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("ctrl+d")
        assert [table.get_row_at(i)[0] for i in range(table.row_count)][-1] == "course.gift"
        assert len(app.bank.questions) == before + 6
        box.value = str(xml)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert len(app.bank.questions) == before + 6 + 5
        await pilot.press("escape")
        assert not isinstance(app.screen, BanksScreen)
    store = Store.open(home)
    assert store.load_bank_paths() == [str(gift.resolve()), str(xml.resolve())]
    store.close()
    # The next start opens them again without being asked.
    again = make_app(data_dir=home)
    assert {f.path.name for f in again.bank.files} >= {"course.gift", "course.xml"}
    again.store.close()


async def test_a_broken_bank_is_reported_and_not_remembered(make_app, tmp_path):
    broken = tmp_path / "broken.gift"
    broken.write_text("::Q:: Which? {\n=a\n\n", encoding="utf-8")
    app = make_app(data_dir=tmp_path / "home")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        app.screen.query_one(Input).value = str(broken)
        await pilot.press("enter")
        await settle(app, pilot, 0.3)
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        status = str(app.screen.query_one("#bank-status").render())
        assert "Not opened" in status and "broken.gift:1" in status
        assert app.store.load_bank_paths() == []


async def test_anki_decks_open_after_the_first_frame(make_app, tmp_path, monkeypatch):
    """A deck needs the sentence embedder (seconds of imports): the app starts without waiting
    for it and adds its questions when read. The embedder is swapped at its one seam."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
    from flashcard_support import CAPITALS, TrigramEmbedder

    from probllms_tui.core.readers import flashcards

    monkeypatch.setattr(flashcards, "app_embedder", TrigramEmbedder)
    deck = tmp_path / "deck.txt"
    deck.write_text("#separator:tab\n#deck:Capitals\n" + "\n".join(f"{f}\t{b}" for f, b in CAPITALS) + "\n",
                    encoding="utf-8")
    app = make_app(banks=[BANKS / "course.gift", deck], data_dir=tmp_path / "home")
    assert app.bank.deferred == [deck] and len(app.bank.questions) == 6  # the GIFT bank only
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot, 0.2)
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert [f.path.name for f in app.bank.files] == ["course.gift", "deck.txt"]
        assert len(app.bank.questions) == 12


def test_a_bank_whose_questions_are_open_already_says_so():
    from probllms_tui.app.screens.banks import opened_count

    assert opened_count(6, 6) == "6 questions"
    assert opened_count(6, 0) == "6 questions (0 new; 6 already open from another bank)"
