"""One answer, start to finish, as the inference worker runs it (no Textual here).

retrieve notes -> score the options -> stream the explanation. Every step reports through
``emit`` (the widget turns those into messages) and checks ``should_stop`` between tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage, fit_passages
from probllms_tui.engine.base import Engine, ScoreResult
from probllms_tui.store import Settings


UI_INTERVAL_S = 0.25


@dataclass
class Scored:
    result: ScoreResult
    passages: Sequence[Passage]


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


def retrieve(retriever: Any, q: MCQ, settings: Settings, engine: Engine) -> list[Passage]:
    """The notes for this question, trimmed to half the context minus the answer budget."""
    if retriever is None or not settings.rag:
        return []
    query = q.stem + "\n" + "\n".join(q.options)
    budget = max(0, engine.n_ctx // 2 - settings.max_tokens)
    return fit_passages(retriever.search(query, k=settings.k), budget, engine.count_tokens)


def answer(engine: Engine, q: MCQ, passages: Sequence[Passage], settings: Settings, *,
           emit: Callable[[object], None], should_stop: Callable[[], bool]) -> None:
    result = engine.score(q, passages)
    emit(Scored(result, passages))
    if should_stop():
        emit(Done(0, 0.0, True))
        return
    n, t_first, tps = 0, 0.0, 0.0
    pending: list[str] = []
    last_emit = 0.0
    for text in engine.stream_explanation(q, result.answer, passages, max_tokens=settings.max_tokens,
                                          temperature=settings.temperature, should_stop=should_stop):
        n += 1
        now = time.perf_counter()
        if n == 1:
            t_first = now
        else:  # tokens after the first over the time since it: the generation rate alone
            tps = (n - 1) / max(1e-9, now - t_first)
        pending.append(text)
        # At most 4 UI updates a second: each one re-renders Markdown on the UI thread,
        # which on a 2-core laptop competes with generation for the CPU and the GIL.
        if now - last_emit >= UI_INTERVAL_S:
            emit(Piece("".join(pending), n, tps))
            pending.clear()
            last_emit = now
    if pending:
        emit(Piece("".join(pending), n, tps))
    emit(Done(n, tps, should_stop()))
