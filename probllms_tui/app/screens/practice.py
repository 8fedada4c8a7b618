"""Practice: a question from the bank, answered with A-D or 1-4, then the model's take.

The bank's own explanation (when it has one) shows at once; the model's pick, its bars and
its streamed explanation follow from the worker. Answers are committed before anything else.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Markdown, Static

from probllms_tui.app.access import probllms_app
from probllms_tui.app.math_text import render_math
from probllms_tui.app.session import DUE, MISTAKES, PracticeSession
from probllms_tui.app.widgets.answer_panel import AnswerPanel
from probllms_tui.app.widgets.follow_scroll import FollowScroll
from probllms_tui.app.widgets.question_view import QuestionView
from probllms_tui.app.widgets.stats_table import StatsTable
from probllms_tui.app.widgets.mode_bar import ModeBar
from probllms_tui.app.widgets.status_bar import StatusBar
from probllms_tui.core.errors import one_line
from probllms_tui.core.mcq import LETTERS

HIDDEN_ANSWER_KEYS = [*"bcdef", *"123456"]  # "a" has the visible binding


class StatsScreen(ModalScreen):
    """Per-topic stats as a pop-up (narrow terminals have no room for the side panel)."""

    BINDINGS = [Binding("escape,s,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="stats-dialog", classes="dialog"):
            yield Static("Per-topic statistics  (Esc closes)", classes="title")
            yield StatsTable(topic_width=40)

    def on_mount(self) -> None:
        self.query_one(StatsTable).show(probllms_app(self).store.topic_stats())


class PracticeScreen(Screen):
    BINDINGS = [
        Binding("a", "answer('a')", "Answer", key_display="A-D/1-4"),
        *[Binding(k, f"answer('{k}')", "Answer", show=False) for k in HIDDEN_ANSWER_KEYS],
        Binding("n,enter", "next", "Next"),
        Binding("r", "toggle_queue", "Mistakes/due"),
        Binding("s", "stats", "Stats"),
        Binding("question_mark", "app.help", "Help", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield ModeBar("practice")
        with Horizontal(id="practice-body"):
            with FollowScroll(id="practice-main"):
                yield Static("", id="queue-info")
                yield QuestionView(id="question")
                yield Static("", id="feedback")
                yield Markdown("", id="key-explanation")
                yield AnswerPanel(id="answer")
            with Vertical(id="sidebar"):
                yield Static("Topics", classes="title")
                yield StatsTable(id="stats")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.chosen: str | None = None
        self.show_next()

    @property
    def session(self) -> PracticeSession:
        return probllms_app(self).session

    # --- flow ---------------------------------------------------------------------------
    def show_next(self) -> None:
        self.chosen = None
        q = self.session.next_question()
        self.call_later(self.query_one(AnswerPanel).reset)
        self.query_one("#feedback", Static).update("")
        self.query_one("#key-explanation", Markdown).update("")
        empty = ("No mistakes to review: press r for due questions." if self.session.mode == MISTAKES
                 else "No questions loaded. Start with --bank FILE (.jsonl or .csv).")
        self.query_one(QuestionView).show(q, empty=empty)
        self._show_queue_info()
        self.query_one(StatsTable).show(probllms_app(self).store.topic_stats())
        main = self.query_one("#practice-main", FollowScroll)
        main.follow(False)  # a new question starts at its top, not following the last answer
        main.scroll_home(animate=False)

    def _show_queue_info(self) -> None:
        app = probllms_app(self)
        store, bank = app.store, app.bank
        index = bank.by_id()
        due = len([i for i in store.due_ids() if i in index])
        if self.session.mode == MISTAKES:
            left = len([i for i in store.mistake_ids() if i in index])
            queue = f"Review mistakes · {left} to review"  # not the bank's size: what this queue holds
        else:
            queue = "Due + new"
        # "answers": every attempt counts (the banks dialog counts questions, by their latest answer).
        answers = store.answer_count()
        info = f"{queue} · {len(bank.questions)} questions · {due} due · {answers} answer{'' if answers == 1 else 's'}"
        self.query_one("#queue-info", Static).update(Text(info, style="dim"))

    async def action_answer(self, key: str) -> None:
        q = self.session.current
        if q is None or self.chosen is not None:
            return
        letter = LETTERS[int(key) - 1] if key.isdigit() else key.upper()
        if letter not in q.letters:
            self.notify(f"This question has options {q.letters[0]}-{q.letters[-1]}", severity="warning", timeout=3)
            return
        if q.answer is None:
            self.notify("This question has no answer key", severity="warning")
            return
        try:
            correct = self.session.answer(letter)
        except Exception as exc:  # e.g. the disk filled up: say so, keep practising
            self.notify(f"Answer not saved: {one_line(exc)}", severity="error", timeout=10)
            correct = letter == q.answer
        self.chosen = letter
        self.query_one(QuestionView).show(q, chosen=letter)
        verdict = (Text("✓ Correct!", style="bold green") if correct else
                   Text(f"✗ Wrong: the answer is {q.answer}. {render_math(q.option(q.answer))}", style="bold red"))
        card = probllms_app(self).store.card(q.id)
        if card is not None:
            verdict.append(f"   next review {card.due:%d %b %H:%M}", style="dim")
        self.query_one("#feedback", Static).update(verdict)
        if q.explanation:
            await self.query_one("#key-explanation", Markdown).update(render_math(q.explanation))
        self.query_one(StatsTable).show(probllms_app(self).store.topic_stats())
        self._show_queue_info()
        self._verdict_to_top()
        await self.query_one(AnswerPanel).start(q, correct=q.answer)

    def _verdict_to_top(self) -> None:
        # Short terminals: bring the verdict to the top, the model's answer follows below it.
        main = self.query_one("#practice-main", FollowScroll)
        feedback = self.query_one("#feedback", Static)
        self.call_after_refresh(lambda: main.scroll_to_widget(feedback, top=True, animate=False)
                                if main.max_scroll_y > 0 else None)

    def on_answer_panel_streaming(self, message: AnswerPanel.Streaming) -> None:
        # The explanation starts below the fold of a 24-30 row terminal: follow it as it
        # grows, as chat apps do, until the student scrolls up or moves on (FollowScroll).
        self.query_one("#practice-main", FollowScroll).follow()

    def action_next(self) -> None:
        # An unanswered question can be skipped, as the help promises ("next question"): it is
        # not recorded, stays new, and comes back later in the queue.
        if self.session.current is not None and self.chosen is None:
            self.notify("Skipped: not recorded, it comes back later", timeout=2)
        self.show_next()

    def action_toggle_queue(self) -> None:
        self.set_queue(DUE if self.session.mode == MISTAKES else MISTAKES)

    def set_queue(self, mode: str) -> None:
        if mode == MISTAKES and not probllms_app(self).store.mistake_ids():
            self.notify("No mistakes to review yet", timeout=3)
            return
        self.session.mode = mode
        self.session.current = None
        self.show_next()

    def action_stats(self) -> None:
        self.app.push_screen(StatsScreen())
