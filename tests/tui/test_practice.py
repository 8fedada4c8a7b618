"""Practice mode through Textual's Pilot: answering, feedback, the model's take, queues, Esc."""

from __future__ import annotations

import threading

from tui_support import BAD_BANK, BANK, settle
from fakes import FakeEngine, engine_factory
from textual.widgets import Markdown, Static

from probllms_tui.app.widgets.answer_panel import AnswerPanel


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def markdown_of(app, selector: str) -> str:
    return app.screen.query_one(selector, Markdown).source


async def test_starts_on_the_first_bank_question(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "practice"
        assert "Which of these numbers is prime?" in text_of(app, "#question")
        assert "4 questions" in text_of(app, "#queue-info")
        assert "fake-model · Q4_K_M" in app.status_text


async def test_right_answer_is_saved_and_the_model_explains(make_app):
    engine = FakeEngine()
    app = make_app(engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert "Correct" in text_of(app, "#feedback")
        assert app.store.answer_count() == 1
        assert app.store.mistake_ids() == []
        # the bank's own explanation at once, then the model's pick and streamed explanation
        assert "no divisors" in markdown_of(app, "#key-explanation")
        assert "Model picks D (70%" in text_of(app, "#pick")
        explanation = markdown_of(app, "#explanation")
        assert "Because the option fits best" in explanation
        assert "α" in explanation and "$" not in explanation  # LaTeX rendered for the terminal
        assert engine.scored[0][0].id == "q-prime"
        row = app.store.con.execute("SELECT chosen, correct, model_answer FROM answers").fetchone()
        assert row == ("C", 1, "D")
        assert "tok/s" in app.status_text and "0.0 tok/s" not in app.status_text


async def test_number_keys_answer_and_mistakes_come_back(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")  # A: wrong
        await settle(app, pilot)
        assert "Wrong: the answer is C" in text_of(app, "#feedback")
        await pilot.press("n")
        await settle(app, pilot)
        assert "derivative" in text_of(app, "#question")
        await pilot.press("2")  # B: right
        await settle(app, pilot)
        await pilot.press("r")  # review mistakes: only the prime question
        await settle(app, pilot)
        assert "Review mistakes · 1 to review" in text_of(app, "#queue-info")  # the queue, not the bank
        assert "prime" in text_of(app, "#question")
        stats = {s.subject: s for s in app.store.topic_stats()}
        assert stats["algorithms"].accuracy == 0 and stats["analysis"].streak == 1


async def test_letters_outside_the_options_and_double_answers_are_ignored(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")  # only A-D here
        await settle(app, pilot)
        assert app.store.answer_count() == 0
        first = app.session.current.id
        await pilot.press("c", "a")
        await settle(app, pilot)
        assert app.store.answer_count() == 1
        await pilot.press("n", "n")  # the second question is skipped unanswered: nothing stored
        await settle(app, pilot)
        assert app.store.answer_count() == 1 and app.session.current.id != first


async def test_escape_stops_the_explanation_between_tokens(make_app):
    gate = threading.Event()  # never set: the fake holds its first token until stopped
    engine = FakeEngine(gate=gate)
    app = make_app(engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        panel = app.screen.query_one(AnswerPanel)
        for _ in range(100):
            await pilot.pause(0.02)
            if "Model picks" in text_of(app, "#pick"):
                break
        assert panel.running
        await pilot.press("escape")
        await settle(app, pilot)
        assert not panel.running
        assert engine.streamed_pieces == 0
        assert any("Generation stopped" in n.message for n in app._notifications)
        assert app.store.answer_count() == 1  # stopping the model never loses the answer


async def test_bad_bank_lines_are_reported_and_good_ones_load(make_app, tmp_path):
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    huge_field = tmp_path / "huge.csv"
    huge_field.write_text('question,answer,choices\n"' + "x" * 200_000 + '",A,a || b\n')
    app = make_app(banks=(BANK, BAD_BANK, tmp_path / "missing.jsonl", binary, huge_field))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("skipped 2 malformed lines (2, 4)" in m for m in messages)
        assert any("missing.jsonl: file not found" in m for m in messages)
        assert any("binary.jsonl: not a UTF-8 text file" in m for m in messages)
        assert any("huge.csv" in m and "field limit" in m for m in messages)
        assert len(app.bank.questions) == 6


async def test_a_model_that_fails_to_load_is_explained_not_fatal(make_app):
    app = make_app(factory=engine_factory(fail="*"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "no model" in app.status_text
        await pilot.press("c")
        await settle(app, pilot)
        assert "Correct" in text_of(app, "#feedback")
        assert "Model not loaded: cannot load default: not a GGUF file" in text_of(app, "#pick")


async def test_no_questions_says_how_to_add_some(make_app, tmp_path):
    app = make_app(banks=())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert "--bank" in text_of(app, "#question")
        await pilot.press("a", "n")  # nothing to answer: no crash, nothing stored
        assert app.store.answer_count() == 0


async def test_the_streamed_explanation_is_in_view_on_a_short_terminal(make_app):
    """At 80x24 the question, verdict, key explanation and bars fill the screen: once the
    model starts explaining, the view scrolls so the explanation is visible."""
    app = make_app(engine=FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot, 0.2)
        main = app.screen.query_one("#practice-main")
        explanation = app.screen.query_one("#explanation", Markdown)
        assert main.max_scroll_y > 0  # the content really is taller than the screen
        assert explanation.region.height > 0
        assert main.region.contains_region(explanation.region), (main.region, explanation.region)


class SlowScoringEngine(FakeEngine):
    """Scoring waits for ``release``: the student moves on while the model still thinks."""

    def __init__(self, release: threading.Event, **kwargs):
        super().__init__(**kwargs)
        self.release = release

    def score(self, q, passages=(), method=None):
        self.release.wait(5)
        return super().score(q, passages, method)


async def test_a_late_answer_of_the_previous_question_never_shows_under_the_next(make_app):
    """'a' then 'n' at once: the old question's pick, bars and key ("✗ (key: A)") turned up
    under the next, unanswered question, whose key was another letter."""
    release = threading.Event()
    app = make_app(engine=SlowScoringEngine(release))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause(0.2)
        await pilot.press("n")
        await pilot.pause(0.1)
        release.set()  # the first question's scores arrive now, after the move
        await settle(app, pilot, 0.3)
        assert "Model" not in text_of(app, "#pick") and "key" not in text_of(app, "#pick")
        assert markdown_of(app, "#explanation") == ""
        assert not app.screen.query_one(AnswerPanel).running


async def test_a_short_answer_leaves_no_blank_rows_above_the_question(make_app):
    """Following the stream on a tall terminal scrolled the view above its top (Textual's
    anchor with content shorter than the view): blank rows pushed the question down."""
    app = make_app(engine=FakeEngine())
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        main = app.screen.query_one("#practice-main")
        top = app.screen.query_one("#question").region.y
        await pilot.press("c")
        await settle(app, pilot, 0.2)
        assert main.scroll_y >= 0 and app.screen.query_one("#question").region.y == top
        await pilot.press("n")
        await settle(app, pilot, 0.2)
        assert main.scroll_y >= 0 and app.screen.query_one("#question").region.y == top


async def test_an_explanation_cut_by_the_length_limit_says_so(make_app):
    long = [f"w{i} " for i in range(2000)]  # never-repeating text longer than any limit
    app = make_app(engine=FakeEngine(pieces=long))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot, 0.2)
        assert markdown_of(app, "#explanation").rstrip().endswith("*(length limit: Models screen, max tokens)*")
    short = make_app(engine=FakeEngine())
    async with short.run_test(size=(100, 30)) as pilot:
        await settle(short, pilot)
        await pilot.press("c")
        await settle(short, pilot, 0.2)
        assert "length limit" not in markdown_of(short, "#explanation")


def test_named_banks_are_practised_without_the_built_in_one(tmp_path):
    """`--bank course.xml` queued the course after the 85 built-in questions."""
    from probllms_tui.app.app import ProbLLMsApp
    from probllms_tui.app.config import AppConfig
    from probllms_tui.app.session import builtin_bank

    def questions(banks):
        app = ProbLLMsApp(AppConfig(data_dir=tmp_path / "home", models_dir=tmp_path / "models",
                                    banks=banks, rag=False))
        try:
            return [q.source.split(":")[0] for q in app.bank.questions]
        finally:
            app.store.close()
            app.instance.release()

    assert set(questions([BANK])) == {BANK.name}
    assert set(questions([])) == {builtin_bank().name}


def test_a_topic_name_cut_for_the_side_panel_says_it_is_cut():
    from probllms_tui.app.widgets.stats_table import fit_topic

    assert fit_topic("machine-learning", 12) == "machine-lea\u2026" and fit_topic("algorithms", 12) == "algorithms"
