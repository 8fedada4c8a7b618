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
- One that *concludes* for another letter later ("Therefore, the correct answer is C.") is cut
  before that sentence, with a note: what came before was shown and may still help, the
  conclusion would contradict the pick on screen. Only that unambiguous phrase counts
  mid-text; "C is wrong" is an argument, not a conclusion.

The guard works on a stream: it holds back a possibly unfinished ``[...`` or ``(...`` until
it can decide, so a half-written citation is never shown and then taken back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A citation marker the prompt layout invites: [3], [1, 2], [1-3], [Source 2]; [1][2] are
# handled one by one. Small models write the ranges and the "Source" word too. A bracket
# followed by a regex or math operator ("[0-9]*", "[1-9]+") is prose, not a citation.
_BRACKET = re.compile(r"(\s?)\[\s*((?:(?:sources?|passages?|notes?|refs?)\.?\s*)?"
                      r"\d+(?:\s*(?:[,;\-\u2013\u2014]|and)\s*\d+)*)\s*\](?![*+?{\[])", re.IGNORECASE)
# A copied location marker: "(notes/x.md:12-30)", "(x.md:3)", "(slides.pdf p.4)", and paths
# with spaces ("(notes/B+ trees.md:3-7)"), which student folders are full of. Only the note
# suffixes the index reads count, so "(see Figure 2.1 p. 3)" and "(1.5:1)" are prose.
_LOCATION = re.compile(r"\s?\((?:[^()\n]{0,120}?\.(?i:md|markdown|txt|text|tex|pdf)(?::\d+(?:-\d+)?| p\.\s?\d+))\)")
# An answer letter is a capital: "the answer is a heap" names no option.
_LETTER = r"(?-i:([A-J]))"
# How an explanation opens when it names an answer: "B.", "B)", "(B)", "Answer: B",
# "The answer is B", "The correct answer is (B)", "Option B.", "B is correct".
_OPENING_ANSWER = (
    # "The correct answer is (B)", "Answer: B", "The best option is B": the words say it is the
    # answer ("Option A is wrong" does not).
    re.compile(r"^\W*(?:the\s+)?(?:(?:correct|right|best)\s+(?:answer|option|choice)|answer)\s*(?:is\b|:)?\W*"
               + _LETTER + r"\b", re.IGNORECASE),
    # "Option C.", "Choice (C):", "Option C is correct" ("Option A is wrong" is prose).
    re.compile(r"^\W*(?:option|choice)\s*\(?" + _LETTER
               + r"\)?\**\s*(?:[.):,]|$|is\s+(?:the\s+)?(?:correct|right|true|best|answer))", re.IGNORECASE),
    # "B.", "(B)", "**B** is correct": a bare letter, then answer punctuation or words that
    # call it the answer (so "A heap ..." and "C is wrong; B is right" are not read as C).
    re.compile(r"^\W*\(?([A-J])\)?\**\s*(?:[.):,]|$|(?i:is\s+(?:the\s+)?(?:correct|right|true|best|answer)))"),
)
# Later in the text, only the unambiguous phrase counts: "Therefore, the correct answer is C."
_LATER_ANSWER = re.compile(r"\b(?:(?:so|thus|hence|therefore),?\s+)?(?:the\s+)?(?:correct|right)\s+(?:answer|option|choice)"
                           r"\s+(?:is|would\s+be|must\s+be)\s*:?\s*\(?\**" + _LETTER + r"(?![\w'])", re.IGNORECASE)
# The start of that phrase, held back until its letter arrives and the character after it
# ("is D" may go on as "is Dijkstra").
_LATER_ANSWER_START = re.compile(r"\b(?:the|(?:the\s+)?(?:correct|right)(?:\s+(?:answer|option|choice)(?:\s+(?:is|would\s+be|must\s+be)"
                                 r"(?:\s*:?\s*\(?\**(?-i:[A-J])?)?)?)?)\s*$", re.IGNORECASE)
# Hold back at most this many characters waiting for a bracket to close: a real citation is
# short, and a lone "[" in prose must not swallow the rest of the explanation.
_MAX_PENDING = 96
# This many characters shown three times, verbatim, is a loop, not an explanation.
_LOOP_CHARS = 64
# Decide the opening after this many characters (or at the first sentence end).
_OPENING_CHARS = 48

CONTRADICTION_NOTE = ("*(The model's explanation argued for {other}, not for its pick {pick}; "
                      "it is not shown.)*")
LATER_CONTRADICTION_NOTE = ("*(The explanation then argued for {other}, not for the pick {pick}; "
                            "the rest is not shown.)*")


class ExplanationGuard:
    """Feed streamed text pieces; get back what may be shown. Call ``flush`` at the end."""

    def __init__(self, pick: str, n_sources: int, letters: Sequence[str] = ()):
        self.pick = pick.upper()
        self.n_sources = n_sources
        self.letters = {l.upper() for l in letters} or set("ABCDEFGHIJ")
        self.removed: list[str] = []  # what was stripped, for tests and logs
        self.contradiction: str | None = None  # the other letter the opening argued for
        self.looping = False  # the text began to repeat itself
        self._shown = ""
        self._pending = ""
        self._opening_checked = False
        self._opening = ""

    @property
    def stopped(self) -> bool:
        """True once the explanation contradicted the pick or looped: the caller stops generating."""
        return self.contradiction is not None or self.looping

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
        return self._unless_looping(self._filter(text, final=False))

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
        return self._unless_looping(out + self._filter("", final=True))

    # --- loops ----------------------------------------------------------------------------
    def _unless_looping(self, out: str) -> str:
        """A small model at low temperature can fall into a loop (the stem again, the same
        sentence again) until the token limit. Once a stretch of _LOOP_CHARS characters has
        been shown twice before, it is a loop, not a quote or a matrix written twice, and the
        text stops where this third copy began."""
        if not out or self.stopped:
            return out
        start = len(self._shown)
        self._shown += out
        # Each new end position is checked once, so a whole text fed at once (guard_text)
        # and a stream of tokens stop at the same place.
        for end in range(max(start + 1, 3 * _LOOP_CHARS), len(self._shown) + 1):
            begin = end - _LOOP_CHARS
            if self._shown.count(self._shown[begin:end], 0, begin) >= 2:
                self.looping = True
                self._shown = self._shown[:begin]
                return out[:max(0, begin - start)].rstrip() + " \u2026"
        return out

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
            if cut != -1 and ("]" if buf[cut] == "[" else ")") in buf[cut:] or len(buf) - cut > _MAX_PENDING:
                cut = -1
            # And "... the correct answer is" until its letter arrives.
            start = _LATER_ANSWER_START.search(buf)
            if start and (cut == -1 or start.start() < cut):
                cut = start.start()
            if cut != -1:
                if cut > 0 and buf[cut - 1].isspace():
                    cut -= 1  # the space goes with the marker if the marker is stripped
                buf, self._pending = buf[:cut], buf[cut:]
        later = _LATER_ANSWER.search(buf)
        if later and later.group(1).upper() in self.letters and later.group(1).upper() != self.pick:
            self.contradiction = later.group(1).upper()
            self._pending = ""
            # Drop the sentence that concludes for the other letter, from its start if it is
            # still here (what came before it was already shown).
            sentence = max(buf.rfind(". ", 0, later.start()), buf.rfind("\n", 0, later.start()))
            kept = self._checked(buf[:sentence + 1] if sentence != -1 else buf[:later.start()]).rstrip()
            note = LATER_CONTRADICTION_NOTE.format(other=self.contradiction, pick=self.pick)
            return f"{kept}\n\n{note}" if kept else f"\n\n{note}"
        return self._checked(buf)

    def _checked(self, text: str) -> str:
        """Copied location markers stripped, citations checked against the sources shown."""
        return _BRACKET.sub(self._check_bracket, _LOCATION.sub(self._strip, text))

    def _strip(self, m: re.Match) -> str:
        self.removed.append(m.group(0).strip())
        return ""

    def _check_bracket(self, m: re.Match) -> str:
        space, inner = m.group(1), m.group(2)
        numbers = _cited_numbers(inner)
        if 0 in numbers:  # sources are numbered from 1: "[0]", "[0-9]" are prose (an index, a range)
            return m.group(0)
        valid = [n for n in numbers if 1 <= n <= self.n_sources]
        if len(valid) == len(numbers):
            return m.group(0)
        self.removed.append(m.group(0).strip())
        if re.search(r"\d\s*[-\u2013\u2014]\s*\d", inner):
            return ""  # a range reaching past the sources is dropped whole, never rewritten
        return f"{space}[{', '.join(str(n) for n in valid)}]" if valid else ""


def _cited_numbers(inner: str) -> list[int]:
    """"2" -> [2]; "1, 3" -> [1, 3]; "1-3" -> [1, 2, 3]; "Source 2" -> [2]."""
    inner = re.sub(r"^[A-Za-z.\s]+", "", inner)
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", inner):
        ends = [int(x) for x in re.split(r"\s*[-\u2013\u2014]\s*", part) if x.strip()]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= 20:
            numbers.extend(range(ends[0], ends[1] + 1))
        else:
            numbers.extend(ends)
    return numbers


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
