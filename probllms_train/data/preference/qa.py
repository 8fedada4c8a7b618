"""QA corpora -> pairs: rows that are already pairs pass through; question/answer rows go
through the corruption pipeline (the rejected answer is a corrupted copy of the good one)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from probllms_tui.core.errors import InputError

from probllms_train.data.preference.corrupt import Corruptor, CorruptionFailed, corrupt_answer
from probllms_train.data.preference.pairs import Pair, make_pair, text_field
from probllms_train.data.rows import BadRowPolicy, Row


@dataclass(frozen=True)
class QAItem:
    question: str
    answer: str          # the good answer
    rejected: str | None  # given by the row (already a pair), or None: corrupt `answer`
    where: str


def qa_items(rows: Iterator[Row], policy: BadRowPolicy) -> Iterator[QAItem]:
    """Accepts {prompt, chosen, rejected}, Camel {message_1, message_2} or {question, answer}."""
    for row in rows:
        try:
            if isinstance(row.data, dict) and "chosen" in row.data:
                yield QAItem(text_field(row.data, "prompt", "question"), text_field(row.data, "chosen"),
                             text_field(row.data, "rejected"), row.where)
            else:
                yield QAItem(text_field(row.data, "message_1", "question"),
                             text_field(row.data, "message_2", "answer"), None, row.where)
        except InputError as exc:
            policy.bad(exc.message, row.where)


def qa_pairs(items: list[QAItem], corruptor: Corruptor, *, seed: int, source: str,
             workers: int = 1) -> list[tuple[QAItem, Pair | str, list[str]]]:
    """(item, pair or drop reason, corruption ops) for each item, in input order."""

    def one(item: QAItem) -> tuple[QAItem, Pair | str, list[str]]:
        if item.rejected is not None:
            return item, make_pair(item.question, item.answer, item.rejected, source, item.where), []
        try:
            rejected, ops = corrupt_answer(corruptor, item.question, item.answer, seed)
        except CorruptionFailed as exc:
            return item, f"corruption: {exc}", []
        return item, make_pair(item.question, item.answer, rejected, source, item.where), ops

    if workers <= 1:
        return [one(it) for it in items]
    with ThreadPoolExecutor(workers) as pool:  # map keeps input order: output is deterministic
        return list(pool.map(one, items))
