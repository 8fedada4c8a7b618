"""Front/back flashcards -> MCQs: the other cards of the deck supply the distractors.

A flashcard has one answer and no wrong ones. The three wrong options are the backs of the
three cards of the same deck most similar to this one (cosine similarity of the app's
sentence embedder over "front + back"): a card about the capital of France gets other
capitals, not dates. Ties break by card order and the option order is shuffled with a
random generator seeded by (seed, card id), so the same deck always gives the same
questions. A deck with fewer than 4 cards cannot give 3 distractors and is refused.

The embedder is a parameter (anything with ``encode(list[str]) -> unit vectors``) so tests
and callers can pass their own; by default the app's embedder loads on first use only.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MCQ
from probllms_tui.core.readers.common import BankLoad

N_DISTRACTORS = 3
MIN_DECK = N_DISTRACTORS + 1


class TextEmbedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Card:
    front: str
    back: str
    deck: str
    key: str  # what identifies the note across re-exports: the Anki guid, else front + back
    where: int | str  # line in a text export, "#<note id>" in an .apkg


def app_embedder() -> TextEmbedder:
    # Imported here: the embedder module is light, but its model loads torch on first encode.
    from probllms_tui.rag.embedder import default_embedder

    return default_embedder()


def card_question_id(key: str) -> str:
    """Stable across re-reads even when the deck grows and the distractors change."""
    return hashlib.sha1(f"flashcard\x00{key}".encode()).hexdigest()[:12]


def cards_to_mcqs(cards: list[Card], out: BankLoad, *, file_name: str,
                  embedder: TextEmbedder | None = None, seed: int = 0) -> None:
    decks: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        decks[card.deck].append(card)
    usable = {name: deck for name, deck in decks.items() if len(deck) >= MIN_DECK}
    for name, deck in decks.items():
        if name not in usable:
            for card in deck:
                out.skip(card.where, f"deck {name!r} has {len(deck)} card(s); {MIN_DECK} are needed to "
                         f"draw {N_DISTRACTORS} wrong options from the other cards", f"deck under {MIN_DECK} cards")
    if not usable:
        return
    embedder = embedder or app_embedder()
    for name, deck in usable.items():
        vectors = np.asarray(embedder.encode([f"{c.front}\n{c.back}" for c in deck]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        similarity = vectors @ vectors.T
        for i, card in enumerate(deck):
            # Most similar first; equal scores keep card order (a stable sort on -similarity).
            order = sorted(range(len(deck)), key=lambda j: (-round(float(similarity[i, j]), 6), j))
            distractors: list[str] = []
            seen = {card.back.casefold()}
            for j in order:
                back = deck[j].back
                if j != i and back.casefold() not in seen:
                    distractors.append(back)
                    seen.add(back.casefold())
                if len(distractors) == N_DISTRACTORS:
                    break
            if len(distractors) < N_DISTRACTORS:
                out.skip(card.where, f"deck {name!r} has fewer than {N_DISTRACTORS} other cards with a "
                         "different back", "too few different answers")
                continue
            options = [card.back, *distractors]
            random.Random(f"{seed}:{card.key}").shuffle(options)
            source = (f"{file_name}{card.where}" if isinstance(card.where, str)
                      else f"{file_name}:{card.where}")
            try:
                out.questions.append(MCQ(card.front, tuple(options), LETTERS[options.index(card.back)],
                                         name, source, "", card_question_id(card.key)))
            except InputError as exc:
                out.skip(card.where, exc.message)
