"""Checked citations: what a streamed explanation may say about its sources and its answer.

The prompt numbers the retrieved passages ``[1]``..``[n]`` and shows where each came from
(``[1] (notes/probability.md:12-30) ...``). A small model copies that layout: it cites
``[4]`` when three passages were shown, or repeats the ``(path:lines)`` marker. Neither may
reach the student: a citation is a claim that the notes say so.

What we decided, and why:
- A ``[k]`` with k outside 1..n is *stripped*: the sentence around it may still be useful,
  but a pointer to a source that does not exist is false. A valid ``[k]`` is kept.
- A copied ``(path:lines)`` / ``(file p.N)`` marker is stripped too: the real sources are
  listed under the explanation, numbered, so the marker adds nothing and can be wrong.
- An explanation that *opens* by naming another option as the answer ("B. ..." or "The
  answer is B" when the pick is C) is *stopped* and replaced by a one-line note: an
  explanation arguing against the shown pick teaches the student nothing but doubt, and the
  pick itself, with its probability, is already on screen.

The guard works on a stream: it holds back a possibly unfinished ``[...`` or ``(...`` until
it can decide, so a half-written citation is never shown and then taken back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A citation marker the prompt layout invites: [3], [1, 2], [1][2] are handled one by one.
_BRACKET = re.compile(r"(\s?)\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
# A copied location marker: "(notes/x.md:12-30)", "(x.md:3)", "(slides.pdf p.4)".
_LOCATION = re.compile(r"\s?\((?:[^()\s]+\.[A-Za-z0-9]{1,5}(?::\d+(?:-\d+)?| p\.\s?\d+))\)")
# How an explanation opens when it names an answer: "B.", "B)", "(B)", "Answer: B",
# "The answer is B", "The correct answer is (B)", "Option B".
_OPENING_ANSWER = (
    # "The correct answer is (B)", "Answer: B", "The best option is B": the words say it is the
    # answer ("Option A is wrong" does not).
    re.compile(r"^\W*(?:the\s+)?(?:(?:correct|right|best)\s+(?:answer|option|choice)|answer)\s*(?:is\b|:)?\W*([A-J])\b",
               re.IGNORECASE),
    # "B.", "(B)", "**B** is": a bare letter, then answer punctuation (so "A heap ..." is prose).
    re.compile(r"^\W*\(?([A-J])\)?\**\s*(?:[.):,]|is\b|$)"),
)
# Hold back at most this many characters waiting for a bracket to close: a real citation is
# short, and a lone "[" in prose must not swallow the rest of the explanation.
_MAX_PENDING = 40
# Decide the opening after this many characters (or at the first sentence end).
_OPENING_CHARS = 48

CONTRADICTION_NOTE = ("*(The model's explanation argued for {other}, not for its pick {pick}; "
                      "it is not shown.)*")


class ExplanationGuard:
    """Feed streamed text pieces; get back what may be shown. Call ``flush`` at the end."""

    def __init__(self, pick: str, n_sources: int, letters: Sequence[str] = ()):
        self.pick = pick.upper()
        self.n_sources = n_sources
        self.letters = {l.upper() for l in letters} or set("ABCDEFGHIJ")
        self.removed: list[str] = []  # what was stripped, for tests and logs
        self.contradiction: str | None = None  # the other letter the opening argued for
        self._pending = ""
        self._opening_checked = False
        self._opening = ""

    @property
    def stopped(self) -> bool:
        """True once the explanation contradicted the pick: the caller stops generating."""
        return self.contradiction is not None

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self._opening_checked:
            self._opening += text
            if not self._decide_opening(final=False):
                return ""
            text, self._opening = self._opening, ""
            if self.stopped:
                return CONTRADICTION_NOTE.format(other=self.contradiction, pick=self.pick)
        return self._filter(text, final=False)

    def flush(self) -> str:
        if self.stopped:
            return ""
        out = ""
        if not self._opening_checked:
            self._decide_opening(final=True)
            text, self._opening = self._opening, ""
            if self.stopped:
                return CONTRADICTION_NOTE.format(other=self.contradiction, pick=self.pick)
            out = self._filter(text, final=False)
        return out + self._filter("", final=True)

    # --- the opening ----------------------------------------------------------------------
    def _decide_opening(self, *, final: bool) -> bool:
        head = self._opening.lstrip()
        sentence_done = bool(re.search(r"[.!?:\n]\s", head)) or len(head) >= _OPENING_CHARS
        if not (final or sentence_done or _cannot_name_a_letter(head)):
            return False
        self._opening_checked = True
        m = next(filter(None, (p.match(head[:_OPENING_CHARS + 16]) for p in _OPENING_ANSWER)), None)
        if m:
            letter = m.group(1).upper()
            # "A" as an English article ("A heap is ...") is not an answer letter: only treat
            # it as one when followed by answer punctuation, which the regex requires.
            if letter in self.letters and letter != self.pick:
                self.contradiction = letter
        return True

    # --- citations ------------------------------------------------------------------------
    def _filter(self, text: str, *, final: bool) -> str:
        buf = self._pending + text
        self._pending = ""
        if not final:
            # Keep back an unfinished "[..." or "(..." at the end until it closes.
            cut = max(buf.rfind("["), buf.rfind("("))
            if cut != -1 and ("]" if buf[cut] == "[" else ")") not in buf[cut:] \
                    and len(buf) - cut <= _MAX_PENDING:
                if cut > 0 and buf[cut - 1].isspace():
                    cut -= 1  # the space goes with the marker if the marker is stripped
                buf, self._pending = buf[:cut], buf[cut:]
        buf = _LOCATION.sub(self._strip, buf)
        return _BRACKET.sub(self._check_bracket, buf)

    def _strip(self, m: re.Match) -> str:
        self.removed.append(m.group(0).strip())
        return ""

    def _check_bracket(self, m: re.Match) -> str:
        space, inner = m.group(1), m.group(2)
        numbers = [int(x) for x in re.split(r"[,;]", inner)]
        valid = [n for n in numbers if 1 <= n <= self.n_sources]
        if len(valid) == len(numbers):
            return m.group(0)
        self.removed.append(m.group(0).strip())
        return f"{space}[{', '.join(str(n) for n in valid)}]" if valid else ""


_ANSWER_WORDS = ("the", "correct", "right", "best", "answer", "option", "choice", "is")


def _cannot_name_a_letter(head: str) -> bool:
    """True once the opening words rule out "B." / "The answer is B": the text can then be
    shown at once instead of held back until the first sentence ends."""
    words = re.findall(r"[A-Za-z]+|[^A-Za-z\s]", head)
    complete = words if head[-1:].isspace() else words[:-1]  # the last word may still grow
    for w in complete:
        if len(w) == 1 and (w.isupper() or not w.isalpha()):
            return False  # a letter or punctuation: it may be the answer, keep waiting
        if w.lower() not in _ANSWER_WORDS:
            return True
    return False


def guard_text(text: str, pick: str, n_sources: int, letters: Sequence[str] = ()) -> str:
    """The whole explanation at once, through the same guard as the stream."""
    guard = ExplanationGuard(pick, n_sources, letters)
    return guard.feed(text) + guard.flush()
