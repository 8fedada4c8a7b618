"""MCQs -> GIFT that Moodle imports and our GIFT reader reads back to the same MCQs.

Text is escaped (``~ = # { } : \\`` and line breaks as ``\\n``); a text that would otherwise
be taken for HTML or start with a ``[format]`` tag is marked ``[plain]``. The topic becomes a
``$CATEGORY:`` line, the explanation the general feedback (``####``), and each question is
preceded by ``// id: <id>`` so its answer history follows it. An option with ``->`` cannot be
written (Moodle would read a matching question) and is left out with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers.gift import FORMAT_TAG, ESCAPABLE
from probllms_tui.core.readers.html_text import looks_like_html

TRUE_FALSE = ("True", "False")


def escape(text: str) -> str:
    out = "".join("\\" + ch if ch in ESCAPABLE else ch for ch in text.strip())
    return out.replace("\r\n", "\n").replace("\n", "\\n")


def gift_text(text: str) -> str:
    # "[plain]" also keeps a text that starts with "//" from being read as a comment line.
    plain = looks_like_html(text) or bool(FORMAT_TAG.match(text)) or text.strip().startswith("//")
    return ("[plain]" if plain else "") + escape(text)


def answer_text(mark: str, text: str) -> str:
    """``=text`` / ``~text``. Moodle reads a weight after "~" only, so a wrong option that
    starts like one ("%5% of the mass") gets an explicit ``%0%`` first; after "=" the text
    is taken as it is (an explicit ``~%100%`` would make Moodle import a checkbox question)."""
    body = gift_text(text)
    if mark == "~" and body.startswith("%"):
        return "~%0%" + body
    return mark + body


def question_to_gift(q: MCQ) -> str:
    lines = [f"// id: {q.id}"]
    if q.options == TRUE_FALSE:
        block = "TRUE" if q.answer == "A" else "FALSE"
        feedback = f"####{gift_text(q.explanation)}" if q.explanation else ""
        lines.append(f"{gift_text(q.stem)} {{{block}{feedback}}}")
        return "\n".join(lines)
    lines.append(f"{gift_text(q.stem)} {{")
    for letter, option in zip(q.letters, q.options):
        lines.append(f"    {answer_text('=' if letter == q.answer else '~', option)}")
    if q.explanation:
        lines.append(f"    ####{gift_text(q.explanation)}")
    lines.append("}")
    return "\n".join(lines)


def write_gift(questions: Iterable[MCQ]) -> tuple[str, list[tuple[MCQ, str]]]:
    """(GIFT text, [(question, why it was not written)])."""
    chunks: list[str] = []
    left_out: list[tuple[MCQ, str]] = []
    topic = ""
    for q in questions:
        if q.answer is None:
            left_out.append((q, "no known answer: GIFT needs the right option"))
            continue
        if q.options != TRUE_FALSE and any("->" in o for o in q.options):
            # Moodle reads any answer block holding both "=" and "->" as a matching question,
            # and GIFT has no escape for "->": export these as CSV or apkg instead.
            left_out.append((q, "an option contains '->', which GIFT reads as a matching question"))
            continue
        if q.subject != topic:
            topic = q.subject
            chunks.append(f"$CATEGORY: $course$/top/{topic}")
        chunks.append(question_to_gift(q))
    return "\n\n".join(chunks) + "\n", left_out
