"""Student annotations (the course's format) -> preference pairs.

One record: ``{"question_complete": str, "preference": [{"A": str, "B": str, "overall": "A"|"B"|...,
"criteria": {"correctness": "A"|"B"|"AB"|"None", ...}}]}``. Chosen is the ``overall`` pick.
Dropped and counted: neither answer correct (correctness "None"), overall not A or B.
Course exports also name the criteria ``ranking_criteria`` and may keep ``overall`` inside
them; both spellings are read.
"""

from __future__ import annotations

from collections.abc import Iterator

from probllms_tui.core.errors import InputError

from probllms_train.data.preference.pairs import Pair, make_pair, text_field
from probllms_train.data.rows import BadRowPolicy, Row, Tally

CORRECTNESS = ("A", "B", "AB", "None")


def student_pairs(rows: Iterator[Row], policy: BadRowPolicy, drops: Tally,
                  source: str = "student") -> Iterator[Pair]:
    for row in rows:
        try:
            question = text_field(row.data, "question_complete")
            prefs = row.data.get("preference")
            if not isinstance(prefs, list):
                raise InputError("'preference' must be a list")
        except InputError as exc:
            policy.bad(exc.message, row.where)
            continue
        for k, pref in enumerate(prefs, 1):
            where = f"{row.where} (preference {k})"
            try:
                a, b = text_field(pref, "A"), text_field(pref, "B")
                criteria = pref.get("criteria", pref.get("ranking_criteria")) or {}
                if not isinstance(criteria, dict):
                    raise InputError("'criteria' must be an object")
                # The schema's "None" (a string) says neither answer is correct; a JSON null
                # says nobody judged correctness, and keeps the pair.
                raw = criteria.get("correctness")
                correctness = "" if raw is None else str(raw).strip()
                if correctness and correctness not in CORRECTNESS:
                    raise InputError(f"criteria.correctness {correctness!r} is not one of {CORRECTNESS}")
            except InputError as exc:
                policy.bad(exc.message, where)
                continue
            overall = str(pref.get("overall", criteria.get("overall", ""))).strip()
            if correctness == "None":
                drops.drop("student: neither answer correct", where)
            elif overall not in ("A", "B"):
                drops.drop("student: overall is not A or B", where)
            else:
                chosen, rejected = (a, b) if overall == "A" else (b, a)
                yield make_pair(question, chosen, rejected, source, where)
