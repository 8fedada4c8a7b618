"""GIFT question banks (Moodle's text format), as teachers write them and Moodle exports them.

Read: multiple choice (``{=right ~wrong ~wrong}``) and true/false (``{T}``, ``{FALSE}``), with
``::title::``, ``// comment`` lines, the escapes ``\\~ \\= \\# \\{ \\} \\: \\\\ \\n``, the
``[html]``/``[markdown]``/``[plain]``/``[moodle]`` text formats, ``#feedback`` per answer
(dropped: the model explains instead), ``####general feedback`` (the explanation) and ``%50%``
weights when exactly one answer is fully right. A missing-word question
(``The sky is {=blue ~red} today.``) keeps a blank "_____" where the answer block was.
``$CATEGORY: $course$/A/B`` sets the topic of the questions after it.

Left out and counted: short answer, numerical, matching, essay, description and multiple
choice with several right answers. An answer block opened with ``{`` and not closed before
the blank line that ends its question makes the file ambiguous (Moodle rejects it too), so
it stops the read with the line of the ``{``.

Our own exports add ``// id: <question id>`` before a question, so a bank written back as
GIFT keeps the ids the answer history is keyed by; Moodle ignores comments.
"""

from __future__ import annotations

import re
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MAX_OPTIONS, MCQ
from probllms_tui.core.readers.common import BankLoad
from probllms_tui.core.readers.html_text import html_to_text, looks_like_html
from probllms_tui.core.readers.moodle_xml import topic_from_category

ESCAPABLE = "~=#{}:\\"
BLANK = "_____"
_ID_COMMENT = re.compile(r"^\s*//\s*id:\s*(\S+)\s*$")
_CATEGORY = re.compile(r"^\s*\$CATEGORY:\s*(.*?)\s*$")
FORMAT_TAG = re.compile(r"^\s*\[(html|markdown|plain|moodle)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_TRUE_FALSE = {"t": True, "true": True, "f": False, "false": False}


class _Skipped(Exception):
    """A well-formed question of a type we do not practise."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


_TOKEN_CACHE: dict[str, re.Pattern] = {}
_UNESCAPE = re.compile(r"\\([~=#{}:\\n])")
_BRACES = re.compile(r"\\.|[{}]", re.S)
_MARKS = re.compile(r"\\.|[~=]", re.S)


def _tokens(target: str) -> re.Pattern:
    """A backslash pair or ``target``: scanning with it skips escaped characters (C speed)."""
    pattern = _TOKEN_CACHE.get(target)
    if pattern is None:
        pattern = _TOKEN_CACHE[target] = re.compile(r"\\.|" + re.escape(target), re.S)
    return pattern


def find_unescaped(text: str, target: str, start: int = 0) -> int:
    for m in _tokens(target).finditer(text, start):
        if m.group(0) == target:
            return m.start()
    return -1


def split_unescaped(text: str, target: str) -> list[str]:
    parts, start = [], 0
    while (i := find_unescaped(text, target, start)) >= 0:
        parts.append(text[start:i])
        start = i + len(target)
    parts.append(text[start:])
    return parts


def unescape(text: str) -> str:
    # "\alpha" in LaTeX is not an escape: only the GIFT characters and "\n" are.
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def formatted(raw: str) -> str:
    """Raw GIFT text (escaped, maybe with a [format] prefix) -> plain text."""
    m = FORMAT_TAG.match(raw)
    fmt = m.group(1).lower() if m else ""
    body = unescape(raw[m.end():] if m else raw).strip()
    if fmt == "html" or (not fmt and looks_like_html(body)):
        return html_to_text(body)
    return body


def _blocks(lines: list[str], where: str):
    """Yield (start line, raw text, id from a ``// id:`` comment, category or None).

    A question ends at a blank line (Moodle's rule). An answer block still open there, or
    at a second ``{``, or at the end of the file stops the read: the line of its ``{`` is
    where the teacher has to look.
    """
    buf: list[str] = []
    start = open_line = 0
    depth = 0
    pending_id = ""
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            m = _ID_COMMENT.match(line)
            if m and not buf:
                pending_id = m.group(1)
            continue
        if not buf and depth == 0:
            if not stripped:
                continue
            m = _CATEGORY.match(line)
            if m:
                yield lineno, "", "", topic_from_category(m.group(1))
                continue
        if not stripped:
            if depth:  # Moodle ends a question at a blank line whatever its braces say
                raise InputError("'{' opens an answer block that is not closed with '}' before the "
                                 "blank line that ends the question", where=f"{where}:{open_line}")
            if buf:
                yield start, "\n".join(buf), pending_id, None
            buf, pending_id = [], ""
            continue
        if not buf:
            start = lineno
        buf.append(line)
        for m in _BRACES.finditer(line):
            ch = m.group(0)
            if ch == "{" and depth:
                raise InputError("'{' opens an answer block that is not closed with '}' before the "
                                 f"next '{{' (line {lineno})", where=f"{where}:{open_line}")
            if ch == "{":
                depth, open_line = 1, lineno
            elif ch == "}" and depth == 1:
                depth = 0
    if depth:
        raise InputError("'{' opens an answer block that is never closed with '}'", where=f"{where}:{open_line}")
    if buf:
        yield start, "\n".join(buf), pending_id, None


def _answer_items(block: str) -> list[tuple[str, float | None, str]]:
    """``=a ~%50%b #fb`` -> [(mark, weight, raw text)], feedback cut off."""
    marks = [m for m in _MARKS.finditer(block) if m.group(0) in "~="]
    if not marks:
        return []
    if block[:marks[0].start()].strip():
        raise InputError(f"text {block[:marks[0].start()].strip()[:20]!r} before the first '=' or '~' in the answers")
    items = [(m.group(0), None, block[m.end():(nxt.start() if nxt else len(block))])
             for m, nxt in zip(marks, marks[1:] + [None])]
    out = []
    for mark, _, raw in items:
        raw = raw.strip()
        weight = None
        # As Moodle reads multiple choice: a weight follows "~" only; "=%5% of it" is the
        # right answer's text.
        if mark == "~" and (m := _WEIGHT.match(raw)):
            weight, raw = float(m.group(1)), raw[m.end():].lstrip()
        feedback_at = find_unescaped(raw, "#")
        out.append((mark, weight, raw if feedback_at < 0 else raw[:feedback_at]))
    return out


def _question(raw: str, topic: str, qid: str, source: str) -> MCQ:
    text = raw.strip()
    if text.startswith("::"):
        end = find_unescaped(text, "::", 2)
        if end < 0:
            raise InputError("'::' opens a title that is never closed")
        text = text[end + 2:].strip()
    open_at = find_unescaped(text, "{")
    if open_at < 0:
        raise _Skipped("description", "description (no answer block)")
    close_at = find_unescaped(text, "}", open_at)
    before, block, after = text[:open_at], text[open_at + 1:close_at], text[close_at + 1:]
    if find_unescaped(after, "{") >= 0:
        raise _Skipped("cloze question", "several answer blocks in one question")
    after = after.strip()
    stem_raw = before.rstrip()
    if after:  # missing word: "... {=peas ~mice} in his garden." -> "... _____ in his garden."
        stem_raw += f" {BLANK}" + ("" if after[0] in ".,;:!?)\"'" else " ") + after
    general = split_unescaped(block, "####")
    block, explanation = general[0], formatted("####".join(general[1:])) if len(general) > 1 else ""
    body = block.strip()
    stem = formatted(stem_raw)
    if not body:
        raise _Skipped("essay question", "essay (empty answer block)")
    if body.startswith("#"):
        raise _Skipped("numerical question", "numerical answer")
    tf = _TRUE_FALSE.get(unescape(split_unescaped(body, "#")[0]).strip().lower())
    if tf is not None:
        if after and not any(ch.isalnum() for ch in after):
            stem = formatted(before)  # a stray "." after {T} is no missing word
        return MCQ(stem, ("True", "False"), "A" if tf else "B", topic, source, explanation, qid)
    items = _answer_items(body)
    if not items:
        raise InputError("answer block has no '=' or '~' answers")
    if any(mark == "=" and find_unescaped(t, "->") >= 0 for mark, _, t in items):
        raise _Skipped("matching question", "matching")
    if all(mark == "=" for mark, _, _ in items):
        raise _Skipped("short answer question", "short answer (every answer is right)")
    right = [i for i, (mark, weight, _) in enumerate(items) if (mark == "=" and weight in (None, 100)) or weight == 100]
    partial = [i for i, (_, weight, _) in enumerate(items) if weight is not None and 0 < weight < 100]
    if len(right) != 1:
        if len(right) > 1 or partial:
            raise _Skipped("multi-answer multichoice", "several right answers")
        raise InputError("no right answer ('=' or '%100%')")
    if len(items) > MAX_OPTIONS:
        raise InputError(f"{len(items)} answers; at most {MAX_OPTIONS} are supported")
    options = tuple(formatted(t) for _, _, t in items)
    return MCQ(stem, options, LETTERS[right[0]], topic, source, explanation, qid)


def read_gift(path: Path, strict: bool = False) -> BankLoad:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(path)) from None
    out = BankLoad()
    topic = ""
    for line, raw, qid, category in _blocks(text.replace("\r\n", "\n").split("\n"), str(path)):
        if category is not None:
            topic = category
            continue
        try:
            out.questions.append(_question(raw, topic, qid, f"{path.name}:{line}"))
        except _Skipped as skip:
            out.skip(line, skip.reason, skip.kind)
        except InputError as exc:
            if strict:
                raise InputError(exc.message, where=f"{path}:{line}") from None
            out.skip(line, exc.message)
    return out


def looks_like_gift(text: str) -> int:
    """How many GIFT markers the text has (answer blocks, titles, $CATEGORY lines)."""
    blocks = re.findall(r"(?<!\\)\{\s*(?:[=~#}]|(?:T|F|TRUE|FALSE)\s*[}#])", text, re.IGNORECASE)
    titles = re.findall(r"^\s*::.+?::", text, re.MULTILINE)
    categories = re.findall(r"^\s*\$CATEGORY:", text, re.MULTILINE)
    return len(blocks) + len(titles) + len(categories)
