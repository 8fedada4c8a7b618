"""LaTeX math to readable unicode for the terminal (``$\\frac{1}{2}\\alpha$`` -> ``1/2α``).

pylatexenc does the conversion; this module finds the math spans, also in a stream where a
span may arrive split over several tokens (text inside an unclosed ``$`` is held back).
"""

from __future__ import annotations

import re

_SPAN = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_OPENERS = ("$", "\\(", "\\[")
_MAX_HELD = 400  # an unclosed "$" this long is a dollar sign, not math: let it through

_converter = None


def latex_to_unicode(latex: str) -> str:
    global _converter
    if _converter is None:
        from pylatexenc.latex2text import LatexNodes2Text

        _converter = LatexNodes2Text(math_mode="text")
    try:
        return _converter.latex_to_text(latex).strip()
    except Exception:  # malformed LaTeX from a small model: show it as written
        return latex


def render_math(text: str) -> str:
    """Replace every complete math span in ``text``; leave everything else untouched."""
    return _SPAN.sub(lambda m: latex_to_unicode(next(g for g in m.groups() if g is not None)), text)


class MathStream:
    """Feed streamed text; get back what can be shown now, with math spans converted."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = _open_span_start(text)
        if cut is None or len(text) - cut > _MAX_HELD:
            self._held = ""
            return render_math(text)
        self._held = text[cut:]
        return render_math(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return render_math(text)


def _open_span_start(text: str) -> int | None:
    """Index where an unclosed math span starts, if the text ends inside one."""
    last = 0
    for m in _SPAN.finditer(text):
        last = m.end()
    tail = text[last:]
    starts = [tail.find(o) for o in _OPENERS if o in tail]
    if not starts:
        return None
    return last + min(starts)
