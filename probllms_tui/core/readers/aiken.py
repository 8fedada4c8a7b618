"""Aiken question banks: a question, options ``A)`` or ``A.``, then ``ANSWER: B``.

The format has nothing else (no topic, no feedback). Text is taken literally, as Moodle does:
``<b>`` in an Aiken question is the four characters, not bold. A question without its
``ANSWER:`` line, options before any question text or an answer naming no option are left
out with their line; the questions around them still load.
"""

from __future__ import annotations

import re
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MCQ, letter_for
from probllms_tui.core.readers.common import BankLoad

_OPTION = re.compile(r"^([A-Z])[.)]\s*(.*\S)\s*$")
_ANSWER = re.compile(r"^ANSWER:\s*(.*?)\s*$", re.IGNORECASE)


class _Pending:
    def __init__(self, line: int, stem: str):
        self.line = line
        self.stem_lines = [stem]
        self.options: list[str] = []


def read_aiken(path: Path, strict: bool = False) -> BankLoad:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(path)) from None
    out = BankLoad()

    def fail(line: int, reason: str) -> None:
        if strict:
            raise InputError(reason, where=f"{path}:{line}")
        out.skip(line, reason)

    current: _Pending | None = None
    discarding = False  # after options with no question: ignore lines until its ANSWER
    for lineno, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        answer = _ANSWER.match(line)
        option = _OPTION.match(line)
        if answer:
            if current is None:
                if not discarding:
                    fail(lineno, "ANSWER line without a question before it")
            else:
                try:
                    letter = letter_for(answer.group(1), len(current.options)) if current.options else None
                    out.questions.append(MCQ("\n".join(current.stem_lines), tuple(current.options), letter,
                                             source=f"{path.name}:{current.line}"))
                except InputError as exc:
                    fail(current.line, exc.message)
            current, discarding = None, False
        elif option and current is not None and option.group(1) == LETTERS[len(current.options) % len(LETTERS)]:
            current.options.append(option.group(2))
        elif option and current is None and option.group(1) == "A":
            fail(lineno, "option before any question text")
            discarding = True
        elif discarding and option:
            continue
        else:
            if current is not None and current.options:
                fail(current.line, f"no 'ANSWER:' line after the options (the next question starts at line {lineno})")
                current = None
            if current is None:
                current, discarding = _Pending(lineno, line), False
            else:
                current.stem_lines.append(line)
    if current is not None:
        fail(current.line, "no 'ANSWER:' line before the end of the file")
    return out


def looks_like_aiken(text: str) -> int:
    """How many ``ANSWER: X`` lines the text has."""
    # Any case, as the reader itself accepts ("Answer: B" in a .txt was refused as unknown).
    return len(re.findall(r"^\s*ANSWER:\s*[A-Za-z]\s*$", text, re.MULTILINE | re.IGNORECASE))
