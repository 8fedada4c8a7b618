"""Parse a question pasted from an exam sheet, a PDF or the seed JSONL into an MCQ.

Accepted layouts (mixed freely): ``A.``/``A)``/``(A)``/``a)``/``(a)``/``A:``/``[A]``/``A -``
labels (``A)4`` too), a label alone on its line above its text (Moodle's quiz page),
``1.``/``1)`` numeric labels, ``-``/``*``/``•``/``○``/``☐`` bullets, all options on one line
(``A) x B) y C) z``; the longest run of labels, the last of equal ones), unlabelled ``True``/``False``,
an optional ``Question:`` or ``Question 3 (2 points)`` heading and ``Options:`` header, the
lines a Moodle page adds ("Not yet answered", "Flag question"...), an answer key after the
options (``Answer: C``, ``Answer: 7`` by option text, Moodle's ``The correct answer is: 7``,
with ``Explanation:`` after it, or on the last option's line), CRLF line ends. LaTeX and unicode pass
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

_LETTER_LABEL = re.compile(r"^\s*(?:\(([A-Ja-j])\)\s*|\[([A-Ja-j])\]\s*|([A-Ja-j])\)\s*|([A-Ja-j])[.:]\s+"
                           r"|([A-J])\s+[-\u2013]\s+)(\S.*)$")
# A label alone on its line, its text on the next (Moodle's quiz page copies as "a.\n4").
_LONE_LABEL = re.compile(r"^\s*(?:\(([A-Ja-j])\)|([A-Ja-j])[.)])\s*$")
_NUMBER_LABEL = re.compile(r"^\s*\(?(\d{1,2})[.)]\s+(\S.*)$")
_BULLET = re.compile(r"^\s*(?:[-*\u2013]\s+|[\u2022\u25cb\u25cf\u25e6\u2610\u25a1\u25ef]\s*)(\S.*)$")
# "Options:" and the LMS prompts that stand where it would (Moodle: "Select one:").
_OPTIONS_HEADER = re.compile(
    r"^\s*(options|choices|answers|(?:select|choose|pick)\s+(?:one|an answer|the correct answer)"
    r"(?:\s+or\s+more)?)\s*:?\s*$",
    re.IGNORECASE,
)
# An exam's own question number before the stem ("7. Which ..."), dropped like "Question 7:".
_EXAM_NUMBER = re.compile(r"^\s*\d{1,3}[.)]\s+(?=\S)")
_QUESTION_PREFIX = re.compile(r"^\s*(?:question|q)\s*(?:\d+)?\s*[:.)]\s*", re.IGNORECASE)
# "Question 3 (2 points)", "Question 12", "Q3 [4 marks]" as a line or before the stem.
_QUESTION_HEADING = re.compile(r"^\s*(?:question|q)\s*\d+\s*(?:[(\[][^()\[\]\n]{0,30}(?:points?|pts|marks?)[)\]])?"
                               r"\s*(?:[:.)]\s*|$|(?=(?-i:[A-Z])))", re.IGNORECASE)
# What a Moodle quiz page adds around the question when it is copied whole.
_LMS_CHROME = re.compile(r"^\s*(?:not yet answered|answer saved|not answered|complete|incorrect|correct|"
                         r"partially correct|marked out of [\d.,]+|mark [\d.,]+ out of [\d.,]+|"
                         r"points? out of [\d.,]+|flag question|remove flag|question text|clear my choice)\s*$",
                         re.IGNORECASE)
# Where an answer key or feedback starts, after the options.
_TRAILER_START = re.compile(r"^\s*(?:(?:correct\s+answer|answer|solution|explanation|feedback|rationale)\s*:|"
                            r"your answer is\b|the correct answers? (?:is|are)\b)", re.IGNORECASE)
_CORRECT_IS = re.compile(r"^\s*the correct answer is\s*:?\s*(.*?)\s*\.?\s*$", re.IGNORECASE)
# "... D) 9 Answer: C" on the last option's line, written as a key writes it ("Answer: C",
# "Correct answer: 7"), so "C) The answer: 42" is an option's text.
_INLINE_ANSWER = re.compile(r"(?<=\S)\s+((?:Correct\s+answer|Answer|ANSWER)\s*:.*)$")
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
    # Full-width brackets (CJK input methods, some PDFs) are labels' brackets all the same.
    return text.replace("\r\n", "\n").replace("\uff09", ")").replace("\uff08", "(")


def _prepare(lines: list[str]) -> list[str]:
    """Undo what copying does to the layout: LMS chrome lines go, a label alone on its line
    is joined to the text below it, and a trailing "Answer: C" on the last option's line is
    put on a line of its own."""
    out: list[str] = []
    last_line = max((k for k, line in enumerate(lines) if line.strip()), default=-1)
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = not any(o.strip() for o in out)  # nothing of the question kept yet
        if heading and (_LMS_CHROME.match(line) or _QUESTION_HEADING.fullmatch(line.strip())):
            i += 1  # Moodle's "Question 3 / Correct / Flag question" above the question only:
            continue  # "correct" on a line of the stem itself stays
        lone = _LONE_LABEL.match(line)
        if lone:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _option_label(lines[j]) is None and not _LONE_LABEL.match(lines[j]):
                out.append(f"{line.strip()} {lines[j].strip()}")
                i = j + 1
                continue
        m = _INLINE_ANSWER.search(line) if i == last_line else None
        if m and (_option_label(line[:m.start()]) or _split_inline(line[:m.start()])):
            out.extend([line[:m.start()], m.group(1)])
        else:
            out.append(line)
        i += 1
    return out


def _split_trailer(lines: list[str]) -> tuple[list[str], str | None, bool]:
    """Cut the answer key and feedback after the options: (lines, answer text, found).

    The trailer starts at the first "Answer:" / "Explanation:" / "The correct answer is"
    line after the last option line; its answer, if it names one, is kept."""
    option_lines = [i for i, line in enumerate(lines) if _option_label(line) or _split_inline(line)]
    if not option_lines:
        return lines, None, False
    # After the last option line only: "Explanation:" among numbered statements above the
    # options is part of the stem.
    for idx in range(option_lines[-1] + 1, len(lines)):
        line = lines[idx]
        if _TRAILER_START.match(line):
            answer = None
            for t in lines[idx:]:
                m = _ANSWER_LINE.match(t) or _CORRECT_IS.match(t)
                if m:
                    answer = m.group(1)
                    break
            return lines[:idx], answer, True
    return lines, None, False


def _option_label(line: str) -> tuple[str, str, str] | None:
    """Return (kind, label, text) if the line starts with an option label."""
    m = _LETTER_LABEL.match(line)
    if m:
        # "[A]" and "A - " also start lines of a stem ("[A] = 0.1 M", "A - every tree ..."):
        # they are options only where no other kind of list is found.
        kind = "weak letter" if m.group(2) or m.group(5) else "letter"
        return kind, next(g for g in m.groups()[:5] if g), m.group(6).strip()
    m = _NUMBER_LABEL.match(line)
    if m:
        return "number", m.group(1), m.group(2).strip()
    m = _BULLET.match(line)
    if m:
        return "bullet", "-", m.group(1).strip()
    return None


def _expected(kind: str, first: str, i: int) -> str:
    if kind in ("letter", "weak letter"):
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
    if kind in ("letter", "weak letter") and first.upper() != "A":
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
    # The run with the most labels wins, and of equal runs the last: the stem comes first and
    # may itself mention "plan A) ... plan B)", while "A) Vitamin A. B) Vitamin B." holds
    # a short "A." run inside the real one.
    best: tuple[int, tuple[str, list[str], list[str]]] | None = None
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
        if all(opts) and (best is None or len(chosen) >= best[0]):
            best = (len(chosen), (stem, labels, opts))
    return best[1] if best else None


def parse_question_text(text: str) -> ParsedQuestion:
    """Parse pasted text into stem, options and (if given) the answer label."""
    lines = _prepare(check_text(text).split("\n"))
    answer_label: str | None = None
    answer_text = ""
    # A trailing "Answer:" (seed format) or "Answer: B" line closes the question; so does a
    # key with feedback after it ("Answer: C" / "Explanation: ...", Moodle's review page).
    while lines and not lines[-1].strip():
        lines.pop()
    lines, trailer_answer, found = _split_trailer(lines)
    if found:
        answer_text = trailer_answer or ""
    else:
        for idx in range(len(lines) - 1, -1, -1):
            m = _ANSWER_LINE.match(lines[idx])
            if m:
                answer_text = m.group(1)
                lines = lines[:idx]
                break
            if lines[idx].strip():
                break
    label = _ANSWER_LABEL.match(answer_text) if answer_text else None
    answer_label = label.group(1) if label else None

    best: tuple[int, list[str], list[str], int] | None = None
    single_option = False
    for kind_pref in ("letter", "number", "bullet", "weak letter"):
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
            single_option = single_option or (run is not None and kind_pref in ("letter", "weak letter"))
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

    if not opts:  # "True" / "False" under the statement, no labels (Moodle's radio buttons)
        body = [line.strip() for line in stem_lines if line.strip()]
        if len(body) >= 3 and [b.casefold() for b in body[-2:]] in (["true", "false"], ["false", "true"]):
            opts, labels = body[-2:], ["-", "-"]
            last = max(i for i, line in enumerate(stem_lines) if line.strip() == body[-2])
            stem_lines = stem_lines[:last]
    while stem_lines and (not stem_lines[-1].strip() or _OPTIONS_HEADER.match(stem_lines[-1])):
        stem_lines.pop()
    while stem_lines and (not stem_lines[0].strip() or _QUESTION_HEADING.fullmatch(stem_lines[0].strip())):
        stem_lines.pop(0)  # "Question 3 (2 points)" on its own line
    stem = "\n".join(stem_lines).strip()
    if _QUESTION_PREFIX.match(stem):
        stem = _QUESTION_PREFIX.sub("", stem, count=1).strip()
    elif _QUESTION_HEADING.match(stem) and _QUESTION_HEADING.sub("", stem, count=1).strip():
        stem = _QUESTION_HEADING.sub("", stem, count=1).strip()
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
    if answer_text and (answer_label is None or not _names_an_option(answer_label, labels, len(opts))):
        # "Answer: a cell", "Answer: 7" where 7 is no label: the option's own text.
        # A label that names nothing and matches no option stays, so answer_letter says so.
        same = [i for i, o in enumerate(opts) if o.casefold() == answer_text.strip().rstrip(".").casefold()]
        answer_label = LETTERS[same[0]] if len(same) == 1 else answer_label
    return ParsedQuestion(stem, tuple(opts), tuple(labels), answer_label)


def _names_an_option(label: str, labels: list[str], n: int) -> bool:
    norm = label.strip().rstrip(".)").lstrip("(")
    # A number names an option only where the options are numbered: Moodle's "The correct
    # answer is: 2" under options a-d gives the option's text.
    return any(lab.lower() == norm.lower() for lab in labels) or (not norm.isdigit() and norm.upper() in LETTERS[:n])


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
