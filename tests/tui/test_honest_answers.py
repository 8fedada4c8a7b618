"""Honest answers in the app: 'not sure' for a guess, the notes before the model, no invented
citations, an uncalibrated model marked as such, and a near-chance model named once."""

from __future__ import annotations

from fakes import FakeEngine, FakeRetriever
from textual.widgets import Markdown, Static
from tui_support import settle

from probllms_tui.core.calibration import Calibration
from probllms_tui.core.prompt import Passage

NOTE = Passage("A prime number has exactly two divisors: one and itself.", "notes/primes.md:3-3",
               {"path": "notes/primes.md", "lines": "3-3"})
INVENTED = ["Seven ", "is ", "prime [", "1", "] as ", "shown [", "4", "] and ", "(notes/primes.md:3-3)", "."]


def shown(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def answer_first_question(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("c")
    await settle(app, pilot)


async def test_a_guess_says_not_sure_and_shows_the_notes_first(make_app):
    engine = FakeEngine(band="guessing", top=0.31, pieces=INVENTED)
    app = make_app(engine=engine, retriever=FakeRetriever([NOTE]))
    async with app.run_test(size=(100, 40)) as pilot:
        await answer_first_question(app, pilot)
        pick = shown(app, "#pick")
        assert pick.startswith("Not sure: the model is guessing (D at 31%; chance is 25%)")
        evidence = app.screen.query_one("#evidence", Static)
        assert evidence.display and "Your notes, notes/primes.md:3-3" in shown(app, "#evidence")
        assert evidence.region.y < app.screen.query_one("#explanation", Markdown).region.y
        explanation = app.screen.query_one("#explanation", Markdown).source
        assert "[1]" in explanation and "[4]" not in explanation and "primes.md" not in explanation
        # a guess argued fluently must not read like knowledge
        assert explanation.startswith("**Explanation of a guess (the model is near chance here: check it against your notes)")


async def test_a_guess_without_notes_is_not_sent_to_check_notes_that_were_not_found(make_app):
    app = make_app(engine=FakeEngine(band="guessing", top=0.31), retriever=FakeRetriever([]))
    async with app.run_test(size=(100, 40)) as pilot:
        await answer_first_question(app, pilot)
        explanation = app.screen.query_one("#explanation", Markdown).source
        assert explanation.startswith("**Explanation of a guess (the model is near chance here: "
                                      "check it in your course material)")


async def test_a_confident_pick_is_bold_and_needs_no_evidence_first(make_app):
    app = make_app(engine=FakeEngine(band="confident", top=0.85), retriever=FakeRetriever([NOTE]))
    async with app.run_test(size=(100, 40)) as pilot:
        await answer_first_question(app, pilot)
        assert "Model picks D (85%, confident)" in shown(app, "#pick")
        assert not app.screen.query_one("#evidence", Static).display
        assert "[1] notes/primes.md:3-3" in shown(app, "#sources")


async def test_off_topic_notes_are_neither_cited_nor_shown(make_app):
    off_topic = Passage("Mitochondria make ATP.", "notes/bio.md:1-1", {"similarity": 0.1})
    engine = FakeEngine(band="unsure", top=0.5)
    app = make_app(engine=engine, retriever=FakeRetriever([off_topic]))
    async with app.run_test(size=(100, 40)) as pilot:
        await answer_first_question(app, pilot)
        assert engine.scored[0][1] == ()  # not in the prompt
        assert shown(app, "#sources") == "No relevant notes for this question."
        assert not app.screen.query_one("#evidence", Static).display


async def test_an_uncalibrated_model_is_marked(make_app):
    app = make_app(engine=FakeEngine())
    async with app.run_test(size=(100, 40)) as pilot:
        await answer_first_question(app, pilot)
        assert "(70% uncalibrated" in shown(app, "#pick")
        assert "uncalibrated" in app.status_text


async def test_a_model_near_chance_is_named_once_with_its_number(make_app, tmp_path):
    engine = FakeEngine(band="guessing", top=0.3)
    engine.default_method = "cloze"
    engine.calibrations = {"cloze": Calibration(method="cloze", measured={"sets": {"mmlu": {
        "label": "university science", "n": 356, "accuracy": 0.27, "chance": 0.25, "ci95": [0.22, 0.32]}}})}
    data = tmp_path / "home"
    for run in range(2):
        app = make_app(engine=engine, data_dir=data)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(app, pilot)
            said = [n.message for n in app._notifications if "near chance" in n.message]
            if run == 0:
                assert said == ["fake-model is near chance on university science: 27% right (chance 25%, n=356). "
                                "Treat its picks there as guesses and read your notes; stronger models are on "
                                "the Models screen (F4)."]
            else:
                assert said == []  # once: the store remembers it was said


def test_the_near_chance_notice_reads_each_set_under_the_method_that_serves_it():
    from types import SimpleNamespace

    from probllms_tui.app.services.models import calibration_notice

    def measured(*sets):
        return {"sets": {name: {"label": name, "n": 300, "accuracy": acc, "chance": 0.25,
                                "ci95": [acc - 0.05, acc + 0.05], "option_kind": kind} for name, acc, kind in sets}}

    # Letter is at chance on numbers and cloze on text, but neither serves that kind.
    engine = SimpleNamespace(name="m", default_method="letter", method_by_kind={"text": "letter", "numeric": "cloze"},
                             calibrations={"letter": Calibration("letter", measured=measured(("science", 0.45, "text"),
                                                                                            ("gsm8k", 0.25, "numeric"))),
                                           "cloze": Calibration("cloze", measured=measured(("science", 0.2, "text"),
                                                                                          ("gsm8k", 0.6, "numeric")))})
    assert calibration_notice(engine) is None
    engine.method_by_kind = {}  # one method for all: letter's chance on gsm8k is what students get
    assert "near chance on gsm8k" in calibration_notice(engine)[1]
