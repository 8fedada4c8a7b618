"""MCQs -> the CSV bank format the CSV reader reads (question, A.., answer, subject, explanation, id)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from probllms_tui.core.mcq import LETTERS, MCQ


def write_csv(questions: Iterable[MCQ]) -> str:
    questions = list(questions)
    width = max((len(q.options) for q in questions), default=4)
    columns = ["question", *LETTERS[:width], "answer", "subject", "explanation", "id"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for q in questions:
        options = list(q.options) + [""] * (width - len(q.options))
        writer.writerow([q.stem, *options, q.answer or "", q.subject, q.explanation, q.id])
    return buf.getvalue()
