"""Read question banks into MCQs, whatever format the student already has.

Which reader runs is decided by the file's extension:

- ``.jsonl`` ``.json`` ``.ndjson``: the project's seed or structured JSONL (structured.py)
- ``.csv``: CSV with question/answer columns (structured.py)
- ``.xml``: Moodle XML (moodle_xml.py)
- ``.gift``: GIFT (gift.py); ``.aiken``: Aiken (aiken.py)
- ``.apkg``: Anki package; ``.tsv``: Anki's plain-text export (anki.py)
- ``.txt``, the extension Moodle and Anki both give their text exports, by its content:
  a first line ``#separator:``/``#html:``/``#columns:`` (Anki's headers) is Anki text;
  otherwise GIFT markers (answer blocks ``{=`` ``{~`` ``{T}``, ``::title::``, ``$CATEGORY:``)
  are counted against Aiken's ``ANSWER: X`` lines and the larger count wins.

Every reader returns a BankLoad: the questions, and the items left out with their line and
why (a malformed item, or a question type that is not single-answer multiple choice). A file
that cannot be read at all raises InputError naming file:line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from probllms_tui.core.errors import InputError, one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers.aiken import looks_like_aiken, read_aiken
from probllms_tui.core.readers.anki import is_anki_text, read_anki_text, read_apkg
from probllms_tui.core.readers.common import MALFORMED, BankLoad, Skip
from probllms_tui.core.readers.flashcards import TextEmbedder
from probllms_tui.core.readers.gift import looks_like_gift, read_gift
from probllms_tui.core.readers.moodle_xml import read_moodle_xml
from probllms_tui.core.readers.structured import (
    mcq_from_record,
    mcq_to_seed_record,
    mcq_to_structured_record,
    read_csv,
    read_jsonl,
)

__all__ = ["BankLoad", "EMBEDDER_FORMATS", "MALFORMED", "Skip", "SUFFIXES", "detect_format", "mcq_from_record",
           "mcq_to_seed_record", "mcq_to_structured_record", "read_bank"]

# Formats whose reading embeds text with the sentence embedder (the distractors of flashcards).
EMBEDDER_FORMATS = ("apkg", "anki-text")

SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".xml": "moodle-xml",
            ".gift": "gift", ".aiken": "aiken", ".apkg": "apkg", ".tsv": "anki-text", ".txt": None}


def detect_format(path: Path) -> str:
    """The bank format of ``path``: by extension, and for ``.txt`` by its content."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        known = " ".join(sorted(SUFFIXES))
        raise InputError(f"unknown bank format {suffix or '(no extension)'!r}; known: {known}", where=str(path))
    if SUFFIXES[suffix]:
        return SUFFIXES[suffix]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(path)) from None
    if is_anki_text(text):
        return "anki-text"
    gift, aiken = looks_like_gift(text), looks_like_aiken(text)
    if gift > aiken:
        return "gift"
    if aiken > gift:
        return "aiken"
    raise InputError("cannot tell the format of this .txt: no GIFT answer blocks ({=... ~...}), "
                     "no Aiken 'ANSWER: X' lines and no Anki '#separator:' header", where=f"{path}:1")


def read_bank(path: str | Path, *, strict: bool = False, embedder: TextEmbedder | None = None,
              seed: int = 0, keep_duplicates: bool = False) -> BankLoad:
    """Read a question bank into MCQs (see the module docstring for the formats).

    ``embedder`` and ``seed`` only matter for Anki decks, whose wrong options are drawn from
    similar cards; by default the app's sentence embedder is loaded for them.
    ``keep_duplicates``: a benchmark scores every row of a data set and ``data check``
    reports repeats, so they keep exact duplicates; practice shows each question once.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", where=str(p))
    if p.is_dir():
        raise InputError("is a folder, expected a question bank file", where=str(p))
    try:
        fmt = detect_format(p)
        if fmt == "jsonl":
            out = read_jsonl(p, strict)
        elif fmt == "csv":
            out = read_csv(p, strict)
        elif fmt == "moodle-xml":
            out = read_moodle_xml(p, strict)
        elif fmt == "gift":
            out = read_gift(p, strict)
        elif fmt == "aiken":
            out = read_aiken(p, strict)
        elif fmt == "apkg":
            out = read_apkg(p, strict, embedder=embedder, seed=seed)
        else:
            out = read_anki_text(p, strict, embedder=embedder, seed=seed)
    except OSError as exc:
        raise InputError(f"cannot read ({one_line(exc.strerror or exc)})", where=str(p)) from None
    _settle_duplicate_ids(out, keep_duplicates)
    if not out.questions and out.skipped:
        first = out.skipped[0]
        raise InputError(f"no valid questions; first problem: {first.reason}", where=first.where(p))
    return out


def _settle_duplicate_ids(out: BankLoad, keep_duplicates: bool = False) -> None:
    """Two questions of one file with one id: the app would show one and merge their history.

    A text-hashed id is shared by two Moodle questions whose only difference is a picture
    (pasted images are all called image.png); a written id ("id" column, JSONL field) can be
    shared by mistake. The same question (stem, options, answer) is a duplicate and is left
    out, counted; any other is a question of its own and gets an id of its own, stable
    across re-reads (the shared id plus a hash of what differs)."""
    first: dict[str, MCQ] = {}
    kept: list[MCQ] = []
    for q in out.questions:
        earlier = first.get(q.id)
        if earlier is not None and not _same_question(earlier, q):
            digest = hashlib.sha1("\x00".join((q.stem, *q.options, q.answer or "")).encode()).hexdigest()[:6]
            q = replace(q, id=f"{q.id}-{digest}")
            earlier = first.get(q.id)  # this other question may have come before too
        if earlier is not None:  # the same stem, options and answer again
            if keep_duplicates:
                kept.append(q)
            else:
                out.skip(_line_of(q), f"same question as {earlier.source or earlier.id}", "duplicate question")
            continue
        first[q.id] = q
        kept.append(q)
    out.questions[:] = kept


def _same_question(a: MCQ, b: MCQ) -> bool:
    return (a.stem.strip(), a.options, a.answer) == (b.stem.strip(), b.options, b.answer)


def _line_of(q: MCQ) -> int | str:
    """Where a question came from, as a skip records it: the line its source ends in, or an
    Anki note's "#id"."""
    m = re.search(r"(?::(\d+)|(#\w+))$", q.source)
    if m is None:
        return f" ({q.id})"
    return int(m.group(1)) if m.group(1) else m.group(2)
