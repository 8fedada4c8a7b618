"""MCQs -> an Anki package (.apkg) with genanki: one note per question.

Front: the question. Back: the options with the right one marked, then the explanation.
Re-exporting updates the student's cards instead of duplicating them: Anki matches notes by
guid, and each guid is derived from the question id; the note type and deck ids are fixed
numbers derived from their names, for the same reason.

genanki is imported inside ``write_apkg`` so the app and the other exports never load it.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable
from pathlib import Path

from probllms_tui.core.mcq import MCQ

MODEL_NAME = "ProbLLMs MCQ"
DECK_PREFIX = "ProbLLMs"
_CSS = ".card { font-family: sans-serif; font-size: 18px; text-align: left; } .right { font-weight: bold; color: #207020; }"


def stable_id(name: str) -> int:
    """A fixed id in the range Anki uses for note types and decks (from the name)."""
    return (1 << 30) + int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % (1 << 30)


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def back_html(q: MCQ) -> str:
    items = []
    for letter, option in zip(q.letters, q.options):
        mark = " class=\"right\"" if letter == q.answer else ""
        tick = " ✓" if letter == q.answer else ""
        items.append(f"<li{mark}>{letter}. {_html(option)}{tick}</li>")
    return "<ul style=\"list-style: none\">" + "".join(items) + "</ul>"


def write_apkg(questions: Iterable[MCQ], out: Path, deck_name: str) -> tuple[int, list[tuple[MCQ, str]]]:
    """Write the package; returns (notes written, [(question, why it was left out)])."""
    import genanki

    model = genanki.Model(
        stable_id(MODEL_NAME), MODEL_NAME,
        fields=[{"name": "Question"}, {"name": "Options"}, {"name": "Explanation"},
                {"name": "Topic"}, {"name": "QuestionId"}],
        templates=[{
            "name": "Card 1",
            "qfmt": "{{Question}}",
            "afmt": "{{FrontSide}}<hr id=answer>{{Options}}{{#Explanation}}<p>{{Explanation}}</p>{{/Explanation}}",
        }],
        css=_CSS,
    )
    decks: dict[str, genanki.Deck] = {}
    left_out: list[tuple[MCQ, str]] = []
    written = 0
    for q in questions:
        if q.answer is None:
            left_out.append((q, "no known answer to show on the back"))
            continue
        # One sub-deck per topic, so Anki shows the course's structure.
        name = f"{DECK_PREFIX}::{deck_name}" + (f"::{q.subject.replace('/', '::')}" if q.subject else "")
        deck = decks.setdefault(name, genanki.Deck(stable_id(name), name))
        deck.add_note(genanki.Note(
            model=model,
            fields=[_html(q.stem), back_html(q), _html(q.explanation), _html(q.subject), q.id],
            guid=genanki.guid_for(q.id),
        ))
        written += 1
    genanki.Package(list(decks.values()) or [genanki.Deck(stable_id(deck_name), deck_name)]).write_to_file(str(out))
    return written, left_out
