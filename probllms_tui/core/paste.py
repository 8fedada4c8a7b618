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
# "Options:" and the LMS prompts that stand where it would (Moodle: "Select one:").
_OPTIONS_HEADER = re.compile(
    r"^\s*(options|choices|answers|(?:select|choose|pick)\s+(?:one|an answer|the correct answer)"
    r"(?:\s+or\s+more)?)\s*:?\s*$",
    re.IGNORECASE,
)
# An exam's own question number before the stem ("7. Which ..."), dropped like "Question 7:".
_EXAM_NUMBER = re.compile(r"^\s*\d{1,3}[.)]\s+(?=\S)")
_QUESTION_PREFIX = re.compile(r"^\s*(?:question|q)\s*(?:\d+)?\s*[:.)]\s*", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^\s*(?:correct\s+answer|answer|solution)\s*:\s*(.*?)\s*$", re.IGNORECASE)
# What follows "Answer:" when it names a label: "B", "(b)", "3.", "C) 7" (option text repeated).
# "Answer: a cell" is not label "a": a bare label must end the line or carry "." / ")".
_ANSWER_LABEL = re.compile(r"^\(?([A-Ja-j]|\d{1,2})(?:[.)]|$)(?:\s.*)?$")

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
    # Only CRLF is a line end: a lone CR is text (real rows hold one where a JSON-escaped
    # "\\right" lost its backslash), and LaTeX must pass through untouched.
    return text.replace("\r\n", "\n")


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


def _label_style(m: re.Match) -> str:
    """The punctuation around an inline label: "()" for "(a)", else the closing mark."""
    text = m.group(0).strip()
    return "()" if text.startswith("(") else text[-1]


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
            # Same label style as the first ("A)" then "B)"), so "vitamin A. Pick: A) x B) y"
            # or "e.g." inside an "(a) .. (b) .." list is not taken for a label.
            if (nxt.group(1) or nxt.group(2)) == want and _label_style(nxt) == _label_style(m):
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
    answer_text = ""
    # A trailing "Answer:" (seed format) or "Answer: B" line closes the question.
    while lines and not lines[-1].strip():
        lines.pop()
    for idx in range(len(lines) - 1, -1, -1):
        m = _ANSWER_LINE.match(lines[idx])
        if m:
            answer_text = m.group(1)
            label = _ANSWER_LABEL.match(answer_text)
            answer_label = label.group(1) if label else None
            lines = lines[:idx]
            break
        if lines[idx].strip():
            break

    best: tuple[int, list[str], list[str], int] | None = None
    single_option = False
    for kind_pref in ("letter", "number", "bullet"):
        start = 0
        while start < len(lines):
            parsed = _option_label(lines[start])
            run = _run_from(lines, start) if parsed and parsed[0] == kind_pref else None
            if run and len(run[0]) >= 2:
                # Keep the last run (statements listed before the options are stem), and
                # never start a run inside the previous one (bullets and numbers would).
                best = (start, run[0], run[1], run[2])
                start = run[2]
                continue
            single_option = single_option or (run is not None and kind_pref == "letter")
            start += 1
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
    numbered_stem_lines = sum(1 for line in stem.split("\n") if _NUMBER_LABEL.match(line))
    if numbered_stem_lines == 1 and _EXAM_NUMBER.match(stem) and (not labels or not labels[0].isdigit()):
        stem = _EXAM_NUMBER.sub("", stem, count=1)  # "7. Which ...": the exam's numbering

    if not opts and single_option:
        raise InputError("only one option found: a multiple-choice question needs at least two")
    if not opts:
        raise InputError("no options found: put each option on its own line, e.g. 'A. ...' or 'A) ...'")
    if len(opts) == 1:
        raise InputError("only one option found: a multiple-choice question needs at least two")
    if len(opts) > MAX_OPTIONS:
        raise InputError(f"{len(opts)} options found; at most {MAX_OPTIONS} are supported")
    if not stem:
        raise InputError("no question stem found before the options")
    if answer_label is None and answer_text:  # "Answer: a cell": the option's own text
        same = [i for i, o in enumerate(opts) if o.casefold() == answer_text.casefold()]
        answer_label = LETTERS[same[0]] if len(same) == 1 else None
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
