"""Anki decks: ``.apkg`` packages and Anki's "Notes in Plain Text" export.

An ``.apkg`` is a zip holding an SQLite collection: ``collection.anki2`` (legacy) or
``collection.anki21`` (Anki 2.1), both read here with the stdlib ``sqlite3``. Anki 2.1.50+
by default writes ``collection.anki21b``, zstd-compressed with a newer schema, next to a
placeholder ``collection.anki2`` that only says "please update Anki"; reading that would
need a zstd library for one export option, so it is refused with what to do instead
(export again with "Support older Anki versions").

Each note becomes one flashcard: the first field (or the one named Front) is the front, the
second (or Back) the back, and its first card's deck the topic; ``flashcards.py`` turns the
cards into MCQs. Cloze notes and notes with one field are left out and counted. Notes of
this app's own export ("ProbLLMs MCQ") are read back as the questions they were.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from probllms_tui.core.errors import InputError, one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers.common import BankLoad
from probllms_tui.core.readers.flashcards import Card, TextEmbedder, cards_to_mcqs
from probllms_tui.core.readers.html_text import html_to_text, looks_like_html
from probllms_tui.core.writers.apkg import MODEL_NAME

COLLECTIONS = ("collection.anki21", "collection.anki2")  # newest first: the older one may be a placeholder
NEW_FORMAT = "collection.anki21b"
MAX_COLLECTION_BYTES = 2_000_000_000
_CLOZE = re.compile(r"\{\{c\d+::")
_SOUND = re.compile(r"\[sound:([^\]]+)\]")


def field_text(value: str, html: bool | None = None) -> str:
    value = _SOUND.sub(lambda m: f" [sound: {m.group(1)}] ", value)
    if html or (html is None and looks_like_html(value)):
        return html_to_text(value)
    return value.strip()


def _deck_name(name: str) -> str:
    # Anki separates sub-decks with "::" (stored as \x1f in the newest schema).
    return "/".join(p.strip() for p in re.split(r"::|\x1f", name) if p.strip())


def _front_back(fields: list[str], names: list[str]) -> tuple[str, str]:
    lowered = [n.lower() for n in names]
    if "front" in lowered and "back" in lowered and len(fields) == len(names):
        return fields[lowered.index("front")], fields[lowered.index("back")]
    return fields[0], fields[1]


_OPTION_ITEM = re.compile(r"<li(?P<right>[^>]*class=\"right\")?[^>]*>\s*(?P<letter>[A-J])\.\s(?P<text>.*?)"
                          r"(?P<tick>\s\u2713)?\s*</li>", re.DOTALL)


def _own_mcq(fields: list[str], source: str) -> MCQ:
    """A note of our own apkg export (writers/apkg.py), read back as the question it was: its
    options, answer, topic, explanation and id, so the answer history still maps onto it.
    Read as a flashcard, its back (the whole option list, tick included) became one option."""
    names = ("Question", "Options", "Explanation", "Topic", "QuestionId")
    values = dict(zip(names, fields))
    items = list(_OPTION_ITEM.finditer(values.get("Options", "")))
    if len(items) < 2:
        raise InputError("a ProbLLMs MCQ note without its option list")
    right = [m.group("letter") for m in items if m.group("right") or m.group("tick")]
    return MCQ(field_text(values["Question"], True), tuple(field_text(m.group("text"), True) for m in items),
               right[0] if len(right) == 1 else None, field_text(values.get("Topic", ""), True), source,
               field_text(values.get("Explanation", ""), True), values.get("QuestionId", "").strip())


def _cards_from_collection(db: Path, out: BankLoad, file_name: str = "") -> list[Card]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"notes", "cards"} <= tables:
            raise InputError("the collection has no notes/cards tables: not an Anki collection")
        models: dict[str, dict] = {}
        decks: dict[int, str] = {}
        if "col" in tables:
            row = con.execute("SELECT models, decks FROM col").fetchone()
            if row and row[0]:
                models = json.loads(row[0] or "{}")
            if row and row[1]:
                decks = {int(k): v.get("name", "") for k, v in json.loads(row[1] or "{}").items()}
        if "decks" in tables:  # the newer schema keeps decks in their own table
            decks.update({int(i): n for i, n in con.execute("SELECT id, name FROM decks")})
        rows = con.execute(
            "SELECT n.id, n.guid, n.mid, n.flds, "
            "(SELECT did FROM cards c WHERE c.nid = n.id ORDER BY c.ord LIMIT 1) "
            "FROM notes n ORDER BY n.id").fetchall()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"the collection inside is not a readable SQLite database ({one_line(exc)})") from None
    finally:
        con.close()
    cards = []
    for note_id, guid, mid, flds, did in rows:
        where = f"#{note_id}"
        model = models.get(str(mid), {})
        fields = flds.split("\x1f")
        if model.get("name") == MODEL_NAME:
            try:
                out.questions.append(_own_mcq(fields, f"{file_name}{where}"))
            except InputError as exc:
                out.skip(where, exc.message)
            continue
        if model.get("type") == 1 or any(_CLOZE.search(f) for f in fields):
            out.skip(where, "cloze note: no single back to use as the answer", "cloze note")
            continue
        if len(fields) < 2:
            out.skip(where, "note has a single field: no back", "one-field note")
            continue
        front, back = _front_back(fields, [f.get("name", "") for f in model.get("flds", [])])
        front, back = field_text(front), field_text(back)
        if not front or not back:
            out.skip(where, "empty front or back")
            continue
        cards.append(Card(front, back, _deck_name(decks.get(did, "") or "Default"), guid or str(note_id), where))
    return cards


def read_apkg(path: Path, strict: bool = False, *, embedder: TextEmbedder | None = None,
              seed: int = 0) -> BankLoad:
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError("not an Anki package: the file is not a zip archive", where=where) from None
    with archive:
        names = set(archive.namelist())
        member = next((n for n in COLLECTIONS if n in names), None)
        if NEW_FORMAT in names:
            raise InputError("this .apkg uses Anki's newer compressed format (collection.anki21b), "
                             "which is not read here; in Anki, export the deck again with "
                             "'Support older Anki versions' ticked", where=where)
        if member is None:
            raise InputError("a zip without collection.anki2 or collection.anki21: not an Anki package",
                             where=where)
        if archive.getinfo(member).file_size > MAX_COLLECTION_BYTES:
            raise InputError(f"{member} is over {MAX_COLLECTION_BYTES // 1_000_000_000} GB", where=where)
        out = BankLoad()
        with tempfile.TemporaryDirectory(prefix="probllms-apkg-") as tmp:
            try:
                db = Path(archive.extract(member, tmp))
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise InputError(f"cannot unpack {member} ({one_line(exc)})", where=where) from None
            try:
                cards = _cards_from_collection(db, out, path.name)
            except InputError as exc:
                raise InputError(exc.message, where=where) from None
    cards_to_mcqs(cards, out, file_name=path.name, embedder=embedder, seed=seed)
    return out


_SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|", "colon": ":"}
_HEADER = re.compile(r"^#([a-z ]+):(.*)$")


def is_anki_text(text: str) -> bool:
    return bool(re.match(r"\A(?:\ufeff)?#(?:separator|html|columns|deck|notetype|tags)[a-z ]*:", text))


def read_anki_text(path: Path, strict: bool = False, *, embedder: TextEmbedder | None = None,
                   seed: int = 0) -> BankLoad:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(path)) from None
    lines = text.replace("\r\n", "\n").split("\n")
    headers: dict[str, str] = {}
    n_headers = 0
    for line in lines:
        m = _HEADER.match(line)
        if not m:
            break
        headers[m.group(1).strip()] = m.group(2).strip()
        n_headers += 1
    sep_name = headers.get("separator", "tab")
    sep = _SEPARATORS.get(sep_name.lower(), sep_name[:1] or "\t")
    html = {"true": True, "false": False}.get(headers.get("html", "").lower())
    meta: dict[str, int] = {}
    for key in ("guid", "notetype", "deck", "tags"):
        if f"{key} column" in headers:
            try:
                meta[key] = int(headers[f"{key} column"]) - 1
            except ValueError:
                raise InputError(f"'#{key} column:' is not a number", where=f"{path}:1") from None
    names = [c.strip().lower() for c in headers.get("columns", "").split(sep)] if "columns" in headers else []
    out = BankLoad()
    cards: list[Card] = []
    body = "\n".join(lines[n_headers:])
    reader = csv.reader(io.StringIO(body), delimiter=sep, quotechar='"')
    end_of_previous = n_headers
    try:
        for row in reader:
            lineno, end_of_previous = end_of_previous + 1, n_headers + reader.line_num
            if not any(cell.strip() for cell in row) or row[0].startswith("#"):
                continue
            content = [i for i in range(len(row)) if i not in meta.values()]
            if names and "front" in names and "back" in names:
                front_i, back_i = names.index("front"), names.index("back")
            elif len(content) >= 2:
                front_i, back_i = content[0], content[1]
            else:
                if strict:
                    raise InputError("a note needs a front and a back column", where=f"{path}:{lineno}")
                out.skip(lineno, f"a note needs a front and a back column (found {len(row)} column(s); "
                         f"separator {sep_name!r})")
                continue
            if max(front_i, back_i) >= len(row):
                out.skip(lineno, f"only {len(row)} column(s)")
                continue
            notetype = row[meta["notetype"]] if "notetype" in meta and meta["notetype"] < len(row) else ""
            if "cloze" in notetype.lower() or any(_CLOZE.search(cell) for cell in row):
                out.skip(lineno, "cloze note: no single back to use as the answer", "cloze note")
                continue
            front, back = field_text(row[front_i], html), field_text(row[back_i], html)
            if not front or not back:
                out.skip(lineno, "empty front or back")
                continue
            deck = row[meta["deck"]] if "deck" in meta and meta["deck"] < len(row) else headers.get("deck", path.stem)
            guid = row[meta["guid"]] if "guid" in meta and meta["guid"] < len(row) else f"{front}\x00{back}"
            cards.append(Card(front, back, _deck_name(deck), guid, lineno))
    except csv.Error as exc:
        raise InputError(f"malformed text export ({one_line(exc)})", where=f"{path}:{end_of_previous + 1}") from None
    cards_to_mcqs(cards, out, file_name=path.name, embedder=embedder, seed=seed)
    return out
