"""Stack Exchange preferences (HuggingFaceH4/stack-exchange-preferences) -> pairs.

Row: ``{"question": html, "answers": [{"text": html, "pm_score": int, "selected": bool}],
"metadata": [question urls]}`` (a ``site`` field is used when present). The recipe's rule
(``StackExchangeRule``): chosen is the highest-scored answer, only if its score is >= 10;
rejected is an answer scored 3..5 (one picked at random, seeded); anything else is skipped and
counted. Only relevant sites are kept.

The score is read from ONE field the rule names. The hub's ``pm_score`` is not a vote count:
it is round(log2(1 + upvotes)), +1 for the accepted answer (the dataset card), so pm_score 10
means about 724 upvotes. ``pm_score_of`` and ``upvotes_for_pm_score`` convert both ways, for
the docs' table and for fixtures that must sit on the real scale.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser

from probllms_tui.core.errors import InputError

from probllms_train.data.preference.pairs import Pair, make_pair, text_field
from probllms_train.data.rows import BadRowPolicy, Row, Tally

# The progress report names Stack Overflow, Mathematics, Physics and Computer Science "and other
# sites"; the others are this project's pick of science and engineering sites.
DEFAULT_SITES = ("math", "mathoverflow", "physics", "cs", "cstheory", "stats", "datascience", "ai",
                 "scicomp", "electronics", "softwareengineering", "stackoverflow")
CHOSEN_MIN_SCORE = 10
REJECTED_SCORES = range(3, 6)


def pm_score_of(upvotes: int, accepted: bool = False) -> int:
    """The hub dataset's score: round(log2(1 + upvotes)) (+1 if accepted; -1 for negative votes)."""
    if upvotes < 0:
        return -1
    return int(math.floor(math.log2(1 + upvotes) + 0.5)) + int(accepted)


def upvotes_for_pm_score(pm: int, accepted: bool = False) -> int:
    """The fewest upvotes that reach pm_score ``pm``."""
    u = 0
    while pm_score_of(u, accepted) < pm:
        u += 1
    return u


class _TextOnly(HTMLParser):
    """Answer HTML -> text. The stdlib parser is enough: we keep text and line breaks only."""

    BREAKS = {"p", "br", "li", "pre", "div", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()


def site_of(rec: dict) -> str:
    """'math.stackexchange.com' / 'https://mathoverflow.net/q/1' -> 'math' / 'mathoverflow'."""
    site = rec.get("site")
    if not site:
        urls = rec.get("metadata") or []
        site = next((u for u in urls if isinstance(u, str) and "://" in u), "")
    host = re.sub(r"^\w+://", "", str(site)).split("/")[0].lower()
    host = host.removeprefix("www.").removeprefix("meta.")
    for suffix in (".stackexchange.com", ".com", ".net"):
        host = host.removesuffix(suffix)
    return host


def _score(ans: dict, key: str) -> int:
    if key not in ans:
        raise InputError(f"answer has no {key!r} (the recipe's se_rule.score_field)")
    value = ans[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"answer {key!r} must be a number")
    return int(value)


def se_pairs(rows: Iterator[Row], policy: BadRowPolicy, drops: Tally, *, seed: int,
             sites: Sequence[str] = DEFAULT_SITES, source: str = "stack-exchange",
             score_field: str = "pm_score", chosen_min: int = CHOSEN_MIN_SCORE,
             rejected: range = REJECTED_SCORES) -> Iterator[Pair]:
    wanted = set(sites)
    low_name = f"{rejected.start}..{rejected.stop - 1}"
    for row in rows:
        try:
            question = text_field(row.data, "question")
            answers = row.data.get("answers")
            if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
                raise InputError("'answers' must be a list of objects")
            scored = [(_score(a, score_field), text_field(a, "text")) for a in answers]
        except InputError as exc:
            policy.bad(exc.message, row.where)
            continue
        site = site_of(row.data)
        if wanted and site not in wanted:
            drops.drop("stack-exchange: site not selected", row.where)
            continue
        if not scored or max(s for s, _ in scored) < chosen_min:
            drops.drop(f"stack-exchange: best answer scored < {chosen_min}", row.where)
            continue
        best = max(range(len(scored)), key=lambda i: (scored[i][0], -i))  # first of equals
        low = [t for s, t in scored if s in rejected]
        if not low:
            drops.drop(f"stack-exchange: no answer scored {low_name}", row.where)
            continue
        picked = random.Random(f"{seed}\x00{question}").choice(low)  # by content, not by path
        try:
            yield make_pair(html_to_text(question), html_to_text(scored[best][1]),
                            html_to_text(picked), source, row.where)
        except InputError:
            drops.drop("stack-exchange: empty text once HTML is removed", row.where)
