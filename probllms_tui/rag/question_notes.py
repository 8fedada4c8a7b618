"""The notes for one question: the one retrieval rule of the app, `ask`, `notes search`-free
callers and every benchmark (``bench mcqa --rag``, ``bench judge``, benchmarks/rag_*.py).

One rule, so a benchmark measures what students get:
- the query is the stem and the options (a stem alone misses what the options name);
- the passages must fit half the context minus the explanation's token budget, counted with
  the serving model's tokenizer (``fit_passages``);
- a passage whose cosine to the query is below ``RELEVANCE_FLOOR`` is neither put in the
  prompt nor cited: off-topic passages lengthen every prompt and invite invented citations.

This module imports nothing heavy (no chromadb, no numpy): the app's answer path uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage, fit_passages

# Cosine (all-MiniLM-L6-v2, stem + options vs chunk) below which a passage is not about the
# question. Chosen by benchmarks/rag_relevance.py; the figures behind it are in
# docs/measurements.md ("Relevance floor").
RELEVANCE_FLOOR = 0.32
# The explanation budget every caller reserves, unless it generates a different length: the
# app's default ``Settings.max_tokens``. Kept here (not imported from the store) so the
# benchmark and `ask` use the same number without importing the app's settings.
EXPLANATION_TOKENS = 192


def question_query(q: MCQ) -> str:
    """The retrieval query for a question: its stem, then each option on its own line."""
    return q.stem + "\n" + "\n".join(q.options)


def notes_budget(n_ctx: int, explanation_tokens: int = EXPLANATION_TOKENS) -> int:
    """Tokens the notes block may take: half the context minus the explanation's budget."""
    return max(0, n_ctx // 2 - explanation_tokens)


@dataclass
class QuestionNotes:
    passages: list[Passage] = field(default_factory=list)  # relevant, fitted: prompt and citations
    query: str = ""
    budget_tokens: int = 0
    below_floor: int = 0  # retrieved but judged off-topic
    no_room: int = 0  # relevant, but the context left no room for them
    searched: bool = False  # False: no index, or notes switched off

    @property
    def evidence(self) -> Passage | None:
        """The best relevant passage: shown first when the model is unsure."""
        return self.passages[0] if self.passages else None

    @property
    def note(self) -> str:
        """What to tell the student when there is nothing to cite."""
        if self.passages or not self.searched:
            return ""
        if self.no_room:
            return ("Relevant notes found, but the context has no room for them: lower Max tokens "
                    "or raise Context length (Models screen).")
        return "No relevant notes for this question."


EVIDENCE_CHARS = 400  # enough for the sentence that answers; the citation says where the rest is


def excerpt(text: str, limit: int = EVIDENCE_CHARS) -> str:
    """The passage on a few lines, as plain text: whitespace folded, Markdown emphasis
    markers dropped (the evidence box is not a Markdown widget)."""
    flat = " ".join(re.sub(r"(\*\*|__|`)", "", text).split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def shows_evidence(band: str | None, notes: QuestionNotes) -> bool:
    """Evidence first: when the model is unsure or guessing (or uncalibrated, which tells no
    better) and a relevant passage exists, the student reads the notes before the model."""
    return notes.evidence is not None and band != "confident"


def similarity(p: Passage) -> float:
    return float(p.meta.get("similarity", 0.0))


def relevant(passages: Sequence[Passage], floor: float = RELEVANCE_FLOOR) -> list[Passage]:
    return [p for p in passages if similarity(p) >= floor]


def notes_for_question(retriever: Any | None, q: MCQ, **rule) -> QuestionNotes:
    """The notes for an MCQ (its stem and options are the query); ``rule``: see notes_for_query."""
    return notes_for_query(retriever, question_query(q), **rule)


def notes_for_query(
    retriever: Any | None,
    query: str,
    *,
    k: int,
    n_ctx: int,
    count_tokens: Callable[[str], int],
    explanation_tokens: int = EXPLANATION_TOKENS,
    floor: float = RELEVANCE_FLOOR,
) -> QuestionNotes:
    """Search, drop what is off-topic, keep what fits. ``retriever`` None: no notes. An open
    question (no options) is its own query."""
    budget = notes_budget(n_ctx, explanation_tokens)
    if retriever is None or k <= 0:
        return QuestionNotes(query=query, budget_tokens=budget)
    found = retriever.search(query, k=k)
    kept = relevant(found, floor)
    fitted = fit_passages(kept, budget, count_tokens)
    return QuestionNotes(passages=fitted, query=query, budget_tokens=budget, below_floor=len(found) - len(kept),
                         no_room=len(kept) - len(fitted), searched=True)
