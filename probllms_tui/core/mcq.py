"""The MCQ type every part of ProbLLMs passes around."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field

from probllms_tui.core.errors import InputError

MIN_OPTIONS = 2
MAX_OPTIONS = 10
LETTERS = string.ascii_uppercase[:MAX_OPTIONS]


@dataclass(frozen=True)
class MCQ:
    """A multiple-choice question.

    Options are always addressed by letters A.. in the order given; readers map numeric
    labels (1..4) onto letters so the prompt format and the scorers see one convention.
    ``answer`` is a letter or None (a pasted exam question has no known answer).
    """

    stem: str
    options: tuple[str, ...]
    answer: str | None = None
    subject: str = ""
    source: str = ""
    explanation: str = ""
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.stem.strip():
            raise InputError("question has an empty stem")
        n = len(self.options)
        if n < MIN_OPTIONS:
            raise InputError(
                f"question needs at least {MIN_OPTIONS} options, found {n}"
                if n else "question has no options (expected lines like 'A. ...' or 'A) ...')"
            )
        if n > MAX_OPTIONS:
            raise InputError(f"question has {n} options; at most {MAX_OPTIONS} are supported")
        if any(not o.strip() for o in self.options):
            raise InputError("question has an empty option")
        if self.answer is not None and self.answer not in self.letters:
            raise InputError(f"answer {self.answer!r} is not one of the options {''.join(self.letters)}")
        if not self.id:
            object.__setattr__(self, "id", self.content_id())

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(LETTERS[: len(self.options)])

    def option(self, letter: str) -> str:
        return self.options[self.letters.index(letter)]

    def content_id(self) -> str:
        """Stable id from the text, so a bank re-read maps answers onto the same question."""
        h = hashlib.sha1()
        h.update(self.stem.strip().encode())
        for o in self.options:
            h.update(b"\x00" + o.strip().encode())
        return h.hexdigest()[:12]


def letter_for(label: str | int, n_options: int) -> str:
    """Map an answer label (``"B"``, ``"b"``, ``"2"``, ``2`` or ``1``-based int) to a letter."""
    if isinstance(label, bool):
        raise InputError(f"answer {label!r} is not a letter or option number")
    if isinstance(label, int):
        idx = label - 1
    else:
        s = str(label).strip().rstrip(".)").lstrip("(")
        if len(s) == 1 and s.upper() in LETTERS:
            idx = LETTERS.index(s.upper())
        elif s.isdigit():
            idx = int(s) - 1
        else:
            raise InputError(f"answer {label!r} is not a letter or option number")
    if not 0 <= idx < n_options:
        raise InputError(f"answer {label!r} is out of range for {n_options} options")
    return LETTERS[idx]
