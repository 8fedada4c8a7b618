"""The model's answer: its pick with a bar per option, the streamed explanation, the sources.

The panel owns the inference worker (a thread: llama.cpp blocks). The worker never touches
widgets; it posts messages, which are thread-safe and do not block it, so the UI costs the
generation nothing. Markdown is appended through Textual's MarkdownStream, which batches
fragments when tokens arrive faster than the widget re-renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.worker import get_current_worker

from probllms_tui.app import inference
from probllms_tui.app.access import probllms_app
from probllms_tui.app.math_text import MathStream
from probllms_tui.app.widgets.probabilities import ProbabilityBars
from probllms_tui.rag.question_notes import QuestionNotes, excerpt, shows_evidence
from probllms_tui.core.calibration import explanation_heading
from probllms_tui.core.errors import ProbLLMsError, one_line
from probllms_tui.core.mcq import MCQ


# An explanation that reached the length limit ends mid-sentence (maybe inside "**bold"):
# say so rather than leave the student guessing whether something is missing.
CUT_NOTE = " \u2026 *(length limit: Models screen, max tokens)*"


def pick_line(r, n_options: int) -> str:
    """How the pick is announced: never a bold pick for a guess, never a bare number for an
    uncalibrated model (its percentages were not measured to mean anything)."""
    timing = f"{r.method} scoring, {r.latency_ms:.0f} ms"
    p = r.probabilities[r.answer]
    if not r.calibrated:
        return f"Model picks {r.answer} ({p:.0%} [i]uncalibrated[/i], {timing})"
    if r.confidence_band == "guessing":
        return (f"[b]Not sure[/b]: the model is guessing ({r.answer} at {p:.0%}; "
                f"chance is {1 / n_options:.0%}) · {timing}")
    if r.confidence_band == "unsure":
        return f"Model leans to {r.answer} ({p:.0%}, unsure) · {timing}"
    return f"Model picks [b]{r.answer}[/b] ({p:.0%}, confident) · {timing}"


class AnswerPanel(Vertical):
    DEFAULT_CSS = """
    AnswerPanel { height: auto; }
    AnswerPanel > #pick { height: auto; color: $text-muted; }
    AnswerPanel > Markdown { margin: 0; padding: 0; height: auto; }
    AnswerPanel > #evidence { height: auto; margin: 1 0 0 0; padding: 0 1; border-left: thick $success; }
    AnswerPanel > #sources { height: auto; color: $text-muted; }
    """

    # One message type per thing the worker reports, posted from its thread (thread-safe,
    # never blocking it) and handled in order on the UI thread.
    @dataclass
    class StatusChanged(Message):
        """A one-line progress or error report ("searching your notes…")."""

        text: str

    @dataclass
    class Answered(Message):
        """The options were scored: the pick, its probabilities and the notes behind them."""

        scored: inference.Scored

    @dataclass
    class ExplanationPiece(Message):
        piece: inference.Piece

    @dataclass
    class ExplanationDone(Message):
        done: inference.Done

    class Finished(Message):
        """Generation ended (done, stopped or failed): screens may re-enable input."""

    class Streaming(Message):
        """The explanation started: the panel is now tall, screens may scroll it into view."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._question: MCQ | None = None
        self._correct: str | None = None
        self._band: str | None = None  # the pick's confidence band, once scored
        self._with_notes = False  # the answer came with notes to check it against
        self._math = MathStream()
        self._stream = None
        self.running = False
        # Which run the panel shows: a cancelled run's last messages are still in the queue
        # when the next question is up, and must not land under it.
        self._run_id = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="pick")
        yield ProbabilityBars(id="bars")
        evidence = Static("", id="evidence")
        evidence.display = False  # its border would show as a stray bar before any answer
        yield evidence
        yield Markdown("", id="explanation")
        yield Static("", id="sources")

    # --- starting and stopping ----------------------------------------------------------
    async def start(self, q: MCQ, correct: str | None = None) -> None:
        await self.reset()
        self._question, self._correct, self._band = q, correct, None
        self.running = True
        self.query_one("#pick", Static).update("Model: waiting for the model…")
        self._run(q, self._run_id)

    async def reset(self) -> None:
        # This panel's own workers: ``self.workers`` is the whole app's manager, and cancelling
        # all of it stopped the first-run notes indexing (and a model load) on every answer.
        self.workers.cancel_node(self)
        self._run_id += 1  # whatever the cancelled run still posts is now someone else's
        self._question = self._correct = self._band = None
        self._with_notes = False
        await self._close_stream()
        self.running = False
        self._math = MathStream()
        self.query_one("#pick", Static).update("")
        self.query_one(ProbabilityBars).clear()
        self._show_evidence(None)
        await self.query_one("#explanation", Markdown).update("")
        self.query_one("#sources", Static).update("")

    async def _close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    # --- the worker (a thread) ----------------------------------------------------------
    @work(thread=True, exclusive=True, group="inference", exit_on_error=False)
    def _run(self, q: MCQ, run_id: int) -> None:
        worker = get_current_worker()

        def should_stop() -> bool:
            return worker.is_cancelled

        app = probllms_app(self)
        emit = lambda payload: self.post_message(self._message_for(payload, run_id))  # noqa: E731
        try:
            with app.models.session(should_stop) as engine:
                if engine is None:
                    emit(app.models.problem() if not should_stop() else inference.Done(0, 0.0, True))
                    return
                notes = QuestionNotes()
                if app.rag_enabled:
                    emit("Model: searching your notes…")
                    notes = inference.retrieve(app.notes.retriever(), q, app.settings, engine)
                emit("Model: scoring the options…")
                inference.answer(engine, q, notes, app.settings, emit=emit, should_stop=should_stop)
        except ProbLLMsError as exc:
            emit(f"Model: {exc}")
            emit(inference.Done(0, 0.0, True))
        except Exception as exc:  # a model failure must never take the app down
            emit(f"Model failed: {one_line(exc)}")
            emit(inference.Done(0, 0.0, True))

    # --- messages from the worker -------------------------------------------------------
    def _message_for(self, payload: object, run_id: int) -> Message:
        if isinstance(payload, str):
            message: Message = self.StatusChanged(payload)
        elif isinstance(payload, inference.Scored):
            message = self.Answered(payload)
        elif isinstance(payload, inference.Piece):
            message = self.ExplanationPiece(payload)
        elif isinstance(payload, inference.Done):
            message = self.ExplanationDone(payload)
        else:
            raise TypeError(f"the inference worker reported {type(payload).__name__}")
        message.run_id = run_id
        return message

    def _stale(self, message: Message) -> bool:
        """Stop ``message``; True when it comes from a run the panel no longer shows."""
        message.stop()
        return getattr(message, "run_id", None) != self._run_id

    def on_answer_panel_status_changed(self, message: StatusChanged) -> None:
        if self._stale(message):
            return
        self.query_one("#pick", Static).update(Text(message.text))

    def on_answer_panel_answered(self, message: Answered) -> None:
        q = self._question
        if self._stale(message) or q is None:
            return
        r, notes = message.scored.result, message.scored.notes
        self._band = r.confidence_band
        self._with_notes = bool(notes.passages)
        verdict = ""
        if self._correct is not None:
            verdict = " ✓ agrees with the key" if r.answer == self._correct else f" ✗ (key: {self._correct})"
        self.query_one("#pick", Static).update(f"{pick_line(r, len(q.options))}{verdict}")
        self.query_one(ProbabilityBars).show(q, r.probabilities, r.answer, self._correct,
                                             bold_pick=r.confidence_band == "confident")
        self._show_evidence(notes.evidence if shows_evidence(r.confidence_band, notes) else None)
        self._show_sources(notes.passages, notes.note)
        probllms_app(self).note_model_answer(q, r.answer)

    async def on_answer_panel_explanation_piece(self, message: ExplanationPiece) -> None:
        if self._stale(message):
            return
        piece = message.piece
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one("#explanation", Markdown))
            await self._stream.write(f"**{explanation_heading(self._band, self._with_notes)}:** ")
            self.post_message(self.Streaming())
        await self._stream.write(self._math.feed(piece.text))
        if piece.tokens > 1:
            probllms_app(self).tokens_per_s = piece.tokens_per_s

    async def on_answer_panel_explanation_done(self, message: ExplanationDone) -> None:
        if self._stale(message):
            return
        done = message.done
        if self._stream is not None:
            await self._stream.write(self._math.flush())
            if done.stopped:
                await self._stream.write(" *(stopped)*")
            elif done.cut:
                await self._stream.write(CUT_NOTE)
        await self._close_stream()
        if done.tokens > 1:
            probllms_app(self).tokens_per_s = done.tokens_per_s
        self.running = False
        self.post_message(self.Finished())

    def _show_evidence(self, passage) -> None:
        widget = self.query_one("#evidence", Static)
        widget.display = passage is not None
        if passage is not None:
            widget.update(Text.assemble(("Your notes, ", "bold"), (passage.citation, "bold"), ":\n",
                                        excerpt(passage.text)))

    def _show_sources(self, passages, note: str = "") -> None:
        if not passages:
            self.query_one("#sources", Static).update(note)
            return
        lines = [f"  [{i}] {p.citation}" for i, p in enumerate(passages, 1)]
        self.query_one("#sources", Static).update("Sources:\n" + "\n".join(lines))
