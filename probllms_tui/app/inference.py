"""One answer, start to finish, as the inference worker runs it (no Textual here).

retrieve notes -> score the options -> stream the explanation. Every step reports through
``emit`` (the widget turns those into messages) and checks ``should_stop`` between tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probllms_tui.core.citations import ExplanationGuard
from probllms_tui.core.mcq import MCQ
from probllms_tui.engine.base import Engine, ScoreResult, hit_length_limit
from probllms_tui.rag.question_notes import QuestionNotes, notes_for_question
from probllms_tui.store import Settings


UI_INTERVAL_S = 0.25


@dataclass
class Scored:
    result: ScoreResult
    notes: QuestionNotes


@dataclass
class Piece:
    text: str  # one or more tokens' text, batched to at most 4 updates a second
    tokens: int  # tokens so far (llama.cpp streams one token per piece)
    tokens_per_s: float


@dataclass
class Done:
    tokens: int
    tokens_per_s: float
    stopped: bool
    cut: bool = False  # ended at the length limit, mid-sentence: the panel says so


def retrieve(retriever: Any, q: MCQ, settings: Settings, engine: Engine) -> QuestionNotes:
    """The notes for this question by the one rule every caller uses (rag/question_notes.py)."""
    return notes_for_question(retriever if settings.rag else None, q, k=settings.k, n_ctx=engine.n_ctx,
                              count_tokens=engine.count_tokens, explanation_tokens=settings.max_tokens)


def answer(engine: Engine, q: MCQ, notes: QuestionNotes, settings: Settings, *,
           emit: Callable[[object], None], should_stop: Callable[[], bool]) -> None:
    passages = notes.passages
    result = engine.score(q, passages)
    emit(Scored(result, notes))
    if should_stop():
        emit(Done(0, 0.0, True))
        return
    n, t_first, tps = 0, 0.0, 0.0
    pending: list[str] = []
    last_emit = 0.0
    guard = ExplanationGuard(result.answer, len(passages), q.letters)
    stop = lambda: should_stop() or guard.stopped  # noqa: E731
    for raw in engine.stream_explanation(q, result.answer, passages, max_tokens=settings.max_tokens,
                                         temperature=settings.temperature, should_stop=stop):
        n += 1
        now = time.perf_counter()
        if n == 1:
            t_first = now
        else:  # tokens after the first over the time since it: the generation rate alone
            tps = (n - 1) / max(1e-9, now - t_first)
        text = guard.feed(raw)  # invented citations and a contradicting opening never show
        if not text:
            continue
        pending.append(text)
        # At most 4 UI updates a second: each one re-renders Markdown on the UI thread,
        # which on a 2-core laptop competes with generation for the CPU and the GIL.
        if now - last_emit >= UI_INTERVAL_S:
            emit(Piece("".join(pending), n, tps))
            pending.clear()
            last_emit = now
    pending.append(guard.flush())
    if any(pending):
        emit(Piece("".join(pending), n, tps))
    emit(Done(n, tps, should_stop(), cut=hit_length_limit(engine, n, settings.max_tokens) and not guard.stopped))
