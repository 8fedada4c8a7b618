"""Spaced repetition with the FSRS scheduler (the `fsrs` package, v6).

A right answer is rated Good and a wrong one Again: an MCQ gives no finer signal than that,
and asking the student to grade themselves after every question slows practice down.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from fsrs import Card, Rating, Scheduler

# Fuzzing spreads due dates randomly; off, so a schedule can be reproduced and tested.
_SCHEDULER = Scheduler(enable_fuzzing=False)


def now() -> datetime:
    return datetime.now(timezone.utc)


def card_id_for(question_id: str) -> int:
    """A stable integer id: fsrs otherwise derives one from the clock (and sleeps 1 ms)."""
    try:
        return int(question_id[:12], 16)
    except ValueError:
        return abs(hash(question_id)) % (1 << 48)


def new_card(question_id: str) -> Card:
    return Card(card_id=card_id_for(question_id))


def review(card: Card, correct: bool, when: datetime | None = None) -> Card:
    rating = Rating.Good if correct else Rating.Again
    updated, _log = _SCHEDULER.review_card(card, rating, review_datetime=when or now())
    return updated


def load_card(card_json: str) -> Card:
    return Card.from_json(card_json)


def replay(rows: Iterable[tuple[str, str, int, str]]) -> Iterator[tuple[str, str, Card]]:
    """(question_id, subject, correct, answered_at) in answer order -> each question's card."""
    cards: dict[str, tuple[str, Card]] = {}
    for question_id, subject, correct, answered_at in rows:
        when = datetime.fromisoformat(answered_at)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        _, card = cards.get(question_id, (subject, new_card(question_id)))
        cards[question_id] = (subject, review(card, bool(correct), when))
    for question_id, (subject, card) in cards.items():
        yield question_id, subject, card
