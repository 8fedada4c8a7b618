"""Parse a question pasted from an exam sheet, a PDF or the seed JSONL into an MCQ.

Accepted layouts (mixed freely): ``A.``/``A)``/``(A)``/``a)``/``(a)``/``A:`` labels,
``1.``/``1)`` numeric labels, ``-``/``*``/``•`` bullets, all options on one line
(``A) x B) y C) z``), an optional ``Question:`` prefix and ``Options:`` header, a trailing
``Answer:`` line (with or without the letter), CRLF line ends. LaTeX and unicode pass
through untouched: the parser only looks at line starts and labels.

Why hand-written rather than a library: no maintained package parses free-form exam MCQ
layouts; the rules are a few regular expressions and are tested against real layouts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MAX_OPTIONS, MCQ

MAX_PASTE_CHARS = 64_000  # ~16k tokens: far beyond any exam question, far below a pasted book

_LETTER_LABEL = re.compile(r"^\s*(?:\(([A-Ja-j])\)|([A-Ja-j])[.):])\s+(\S.*)$")
_NUMBER_LABEL = re.compile(r"^\s*\(?(\d{1,2})[.)]\s+(\S.*)$")
_BULLET = re.compile(r"^\s*[-*•–]\s+(\S.*)$")
_OPTIONS_HEADER = re.compile(r"^\s*(options|choices|answers)\s*:?\s*$", re.IGNORECASE)
_QUESTION_PREFIX = re.compile(r"^\s*(?:question|q)\s*(?:\d+)?\s*[:.)]\s*", re.IGNORECASE)
_ANSWER_LINE = re.compile(
    r"^\s*(?:correct\s+answer|answer|solution)\s*:\s*\(?([A-Ja-j]|\d{1,2})?[.)]?\s*$",
    re.IGNORECASE,
)
# Inline options: "A) foo B) bar", "(a) foo (b) bar", "A. foo B. bar". A label must follow
# whitespace (or the line start) so "e.g." or "U.S.A." inside an option is not a label.
_INLINE_LABEL = re.compile(r"(?:^|(?<=\s))(?:\(([A-Ja-j])\)|([A-Ja-j])[.)])\s+")


@dataclass(frozen=True)
class ParsedQuestion:
    stem: str
    options: tuple[str, ...]
    labels: tuple[str, ...]  # as written: "A", "a", "1", "-" ...
    answer_label: str | None


def check_text(text: str) -> str:
    """Reject input that cannot be a question before parsing it; normalise line ends."""
    if text is None or not text.strip():
        raise InputError("empty input: paste a question with its options")
    if len(text) > MAX_PASTE_CHARS:
        raise InputError(
            f"input is {len(text):,} characters; a question is at most {MAX_PASTE_CHARS:,}"
        )
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if "\x00" in text or "\ufffd" in text or controls > max(2, len(text) // 100):
        raise InputError("input looks like binary data, not a question")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _option_label(line: str) -> tuple[str, str, str] | None:
    """Return (kind, label, text) if the line starts with an option label."""
    m = _LETTER_LABEL.match(line)
    if m:
        return "letter", (m.group(1) or m.group(2)), m.group(3).strip()
    m = _NUMBER_LABEL.match(line)
    if m:
        return "number", m.group(1), m.group(2).strip()
    m = _BULLET.match(line)
    if m:
        return "bullet", "-", m.group(1).strip()
    return None


def _expected(kind: str, first: str, i: int) -> str:
    if kind == "letter":
        base = LETTERS if first.isupper() else LETTERS.lower()
        return base[i] if i < len(base) else ""
    if kind == "number":
        return str(int(first) + i)
    return "-"


def _run_from(lines: list[str], start: int) -> tuple[list[str], list[str], int] | None:
    """Collect a run of consecutive option lines starting at ``start``.

    Non-label lines after an option continue it (options that wrap). Returns
    (labels, texts, end_index) or None if the run is not a valid option list.
    """
    parsed = _option_label(lines[start])
    if parsed is None:
        return None
    kind, first, text = parsed
    if kind == "letter" and first.upper() != "A":
        return None
    if kind == "number" and first not in ("0", "1"):
        return None
    labels, texts = [first], [text]
    i = start + 1
    while i < len(lines):
        line = lines[i]
        nxt = _option_label(line)
        if nxt and nxt[0] == kind and nxt[1] == _expected(kind, first, len(labels)):
            labels.append(nxt[1])
            texts.append(nxt[2])
        elif line.strip() and not nxt:
            texts[-1] = f"{texts[-1]}\n{line.strip()}"
        elif not line.strip():
            pass  # blank lines between options are common in PDFs
        else:
            break
        i += 1
    return labels, texts, i


def _split_inline(line: str) -> tuple[str, list[str], list[str]] | None:
    """Split "stem A) x B) y C) z" into stem and options when the labels run A, B, C..."""
    matches = list(_INLINE_LABEL.finditer(line))
    for k, m in enumerate(matches):
        label = m.group(1) or m.group(2)
        if label.upper() != "A":
            continue
        chosen = [m]
        for nxt in matches[k + 1:]:
            want = _expected("letter", label, len(chosen))
            if (nxt.group(1) or nxt.group(2)) == want:
                chosen.append(nxt)
        if len(chosen) < 2:
            continue
        stem = line[: chosen[0].start()].strip()
        opts = [line[a.end(): (b.start() if b else len(line))].strip()
                for a, b in zip(chosen, chosen[1:] + [None])]
        labels = [(c.group(1) or c.group(2)) for c in chosen]
        if all(opts):
            return stem, labels, opts
    return None


def parse_question_text(text: str) -> ParsedQuestion:
    """Parse pasted text into stem, options and (if given) the answer label."""
    lines = check_text(text).split("\n")
    answer_label: str | None = None
    # A trailing "Answer:" (seed format) or "Answer: B" line closes the question.
    while lines and not lines[-1].strip():
        lines.pop()
    for idx in range(len(lines) - 1, -1, -1):
        m = _ANSWER_LINE.match(lines[idx])
        if m:
            answer_label = m.group(1)
            lines = lines[:idx]
            break
        if lines[idx].strip():
            break

    best: tuple[int, list[str], list[str], int] | None = None
    for kind_pref in ("letter", "number", "bullet"):
        for start in range(len(lines)):
            parsed = _option_label(lines[start])
            if not parsed or parsed[0] != kind_pref:
                continue
            run = _run_from(lines, start)
            if run and len(run[0]) >= 2:
                best = (start, run[0], run[1], run[2])  # keep the last valid run
        if best:
            break

    if best is not None:
        start, labels, opts, _ = best
        stem_lines = lines[:start]
    else:
        # No option lines: maybe all options sit on one line (possibly after the stem).
        stem_lines, labels, opts = list(lines), [], []
        for idx, line in enumerate(lines):
            split = _split_inline(line)
            if split:
                head, labels, opts = split
                stem_lines = lines[:idx] + ([head] if head else [])
                break

    while stem_lines and (not stem_lines[-1].strip() or _OPTIONS_HEADER.match(stem_lines[-1])):
        stem_lines.pop()
    stem = "\n".join(stem_lines).strip()
    stem = _QUESTION_PREFIX.sub("", stem, count=1).strip() if _QUESTION_PREFIX.match(stem) else stem

    if not opts:
        raise InputError("no options found: put each option on its own line, e.g. 'A. ...' or 'A) ...'")
    if len(opts) == 1:
        raise InputError("only one option found: a multiple-choice question needs at least two")
    if len(opts) > MAX_OPTIONS:
        raise InputError(f"{len(opts)} options found; at most {MAX_OPTIONS} are supported")
    if not stem:
        raise InputError("no question stem found before the options")
    return ParsedQuestion(stem, tuple(opts), tuple(labels), answer_label)


def answer_letter(parsed: ParsedQuestion, label: str | None) -> str | None:
    """Map an answer label as written ("b", "2", "B") onto the option letter."""
    if label is None:
        return None
    norm = label.strip().rstrip(".)").lstrip("(")
    for i, lab in enumerate(parsed.labels):
        if lab.lower() == norm.lower():
            return LETTERS[i]
    if norm.upper() in LETTERS[: len(parsed.options)]:
        return norm.upper()
    raise InputError(f"answer {label!r} does not name one of the {len(parsed.options)} options")


def parse_pasted(text: str, *, source: str = "paste", subject: str = "") -> MCQ:
    """Pasted text -> MCQ (the answer is kept if the paste states it)."""
    parsed = parse_question_text(text)
    return MCQ(
        stem=parsed.stem,
        options=parsed.options,
        answer=answer_letter(parsed, parsed.answer_label),
        subject=subject,
        source=source,
    )
