"""Moodle XML question banks (``<quiz><question type="...">``), as Moodle exports them.

Read: ``multichoice`` with one right answer (``<single>true</single>``) and ``truefalse``.
Left out and counted: multi-answer multichoice and every other type (shortanswer, essay,
matching, numerical, cloze, description...). A ``category`` question sets the topic of the
questions after it (``$course$/top/Physics/Optics`` -> ``Physics/Optics``);
``generalfeedback`` becomes the explanation.

Parser: the stdlib expat parser directly, for two reasons. It reports the line of every
element, so a skipped question is named by file:line. And it lets us refuse DTDs outright,
which is what ``defusedxml`` does against entity bombs and external entities: Moodle never
writes a DTD, so refusing one costs nothing and needs no extra dependency (expat >= 2.4 also
limits entity amplification by itself).
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MAX_OPTIONS, MCQ
from probllms_tui.core.readers.common import BankLoad
from probllms_tui.core.readers.html_text import html_to_text

MAX_BYTES = 200_000_000  # embedded base64 images make real exports large; beyond this is not a bank


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["_Node"] = field(default_factory=list)
    text: str = ""

    def child(self, tag: str) -> "_Node | None":
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list["_Node"]:
        return [c for c in self.children if c.tag == tag]

    def text_of(self, tag: str) -> str:
        """The ``<text>`` inside ``<tag>`` (Moodle wraps every text that way)."""
        node = self.child(tag)
        if node is None:
            return ""
        inner = node.child("text")
        return (inner.text if inner is not None else node.text).strip()


class _DtdRefused(Exception):
    pass


def parse_tree(data: bytes, where: str) -> _Node:
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True  # one callback per text run, not one per line or entity
    root = _Node("#document", {}, 1)
    stack = [root]

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = _Node(tag, attrs, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        stack[-1].text += text

    def refuse_dtd(*_args) -> None:
        raise _DtdRefused

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    try:
        parser.Parse(data, True)
    except _DtdRefused:
        raise InputError("the XML declares a DTD or entities; Moodle banks have none, so it is "
                         "refused (entity bombs)", where=f"{where}:{parser.CurrentLineNumber}") from None
    except xml.parsers.expat.ExpatError as exc:
        reason = xml.parsers.expat.ErrorString(exc.code)
        raise InputError(f"malformed XML ({reason})", where=f"{where}:{exc.lineno}") from None
    return root


def topic_from_category(path: str) -> str:
    """``$course$/top/Default for X/Optics`` -> ``Default for X/Optics``.

    Moodle writes a "/" inside a category name as "//"; that one stays a "/" of the name.
    """
    parts = [p.replace("\x00", "/") for p in path.replace("//", "\x00").split("/")]
    parts = [p.strip() for p in parts if p.strip()]
    if parts and parts[0].startswith("$") and parts[0].endswith("$"):
        parts = parts[1:]  # $course$, $system$, $module$, $cat1$...: where it lived, not what it is
    if parts and parts[0].lower() == "top":  # Moodle writes "top" or "Top" by version
        parts = parts[1:]
    return "/".join(parts)


def _rich_text(node: _Node | None) -> str:
    """A Moodle text (html, moodle_auto_format, plain_text or markdown) -> plain text."""
    if node is None:
        return ""
    inner = node.child("text")
    raw = inner.text if inner is not None else node.text
    fmt = node.attrs.get("format", "html")
    if fmt in ("plain_text", "markdown"):
        return raw.strip()
    if fmt == "moodle_auto_format":  # HTML allowed, and a typed line break is a line break
        raw = raw.replace("\r\n", "\n").replace("\n", "<br>")
    return html_to_text(raw)


def _fraction(answer: _Node) -> float:
    try:
        return float(answer.attrs.get("fraction", "0"))
    except ValueError:
        raise InputError(f"answer fraction {answer.attrs.get('fraction')!r} is not a number") from None


def _question(node: _Node, topic: str, source: str) -> MCQ:
    qtype = node.attrs.get("type", "")
    stem = _rich_text(node.child("questiontext"))
    explanation = _rich_text(node.child("generalfeedback"))
    answers = node.all("answer")
    if qtype == "truefalse":
        right = [a for a in answers if _fraction(a) > 0]
        if len(right) != 1:
            raise InputError("true/false question without exactly one right answer")
        value = _rich_text(right[0]).strip().lower()
        if value not in ("true", "false"):
            raise InputError(f"true/false answer is {value!r}, expected true or false")
        return MCQ(stem, ("True", "False"), "A" if value == "true" else "B", topic, source, explanation)
    options = tuple(_rich_text(a) for a in answers)
    if len(options) > MAX_OPTIONS:
        raise InputError(f"{len(options)} answers; at most {MAX_OPTIONS} are supported")
    fractions = [_fraction(a) for a in answers]
    best = max(fractions, default=0)
    if best <= 0:
        raise InputError("no answer has a positive fraction (no right answer)")
    if fractions.count(best) > 1:
        raise InputError(f"{fractions.count(best)} answers share the top fraction {best:g}")
    return MCQ(stem, options, LETTERS[fractions.index(best)], topic, source, explanation)


def read_moodle_xml(path: Path, strict: bool = False) -> BankLoad:
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"file is over {MAX_BYTES // 1_000_000} MB; not a question bank", where=str(path))
    root = parse_tree(path.read_bytes(), str(path))
    quiz = root.child("quiz")
    if quiz is None:
        first = root.children[0].tag if root.children else "nothing"
        raise InputError(f"not a Moodle XML bank: the root element is <{first}>, expected <quiz>",
                         where=f"{path}:{root.children[0].line if root.children else 1}")
    out = BankLoad()
    topic = ""
    for node in quiz.all("question"):
        qtype = node.attrs.get("type", "")
        if qtype == "category":
            topic = topic_from_category(node.text_of("category"))
            continue
        # Moodle reads a missing <single> as true; "false" or "0" allows several right answers.
        if qtype == "multichoice" and (node.text_of("single") or "true").lower() not in ("true", "1"):
            out.skip(node.line, "multichoice with several right answers (<single>false</single>)",
                     "multi-answer multichoice")
            continue
        if qtype not in ("multichoice", "truefalse"):
            out.skip(node.line, f"{qtype or 'untyped'} question: only single-answer multiple choice "
                     "and true/false are practised", f"{qtype or 'untyped'} question")
            continue
        try:
            out.questions.append(_question(node, topic, f"{path.name}:{node.line}"))
        except InputError as exc:
            if strict:
                raise InputError(exc.message, where=f"{path}:{node.line}") from None
            out.skip(node.line, exc.message)
    return out
