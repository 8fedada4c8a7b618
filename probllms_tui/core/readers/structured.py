"""The project's own bank formats: the seed JSONL, the structured JSONL and CSV.

Seed JSONL (the ProbLLMs datasets)::

    {"subject": "...", "question": "Question: ...\\n\\nOptions:\\nA. ...\\n\\nAnswer:", "answer": "B"}

Structured JSONL::

    {"question": "...", "choices": ["...", "..."], "answer": "B" | 1, "subject": "..."}

CSV: a header with ``question``, ``answer``, optional ``subject``/``explanation`` and either a
``choices`` column (options separated by `` || ``) or one column per option ``A``, ``B``, ...

Every bad row is reported as ``file:line: what is wrong``. ``strict=True`` stops at the first;
otherwise good rows load and the skipped ones are returned with their line numbers, so a
caller can show "skipped 3 lines (12, 40, 41)" and nothing is lost silently.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from probllms_tui.core.errors import InputError, one_line
from probllms_tui.core.mcq import LETTERS, MCQ, letter_for
from probllms_tui.core.paste import answer_letter, parse_question_text
from probllms_tui.core.readers.common import BankLoad


def mcq_from_record(rec: dict[str, Any], *, source: str = "") -> MCQ:
    """One JSON object in either JSONL format -> MCQ."""
    if not isinstance(rec, dict):
        raise InputError(f"expected a JSON object, got {type(rec).__name__}")
    subject = str(rec.get("subject") or "")
    explanation = str(rec.get("explanation") or "")
    question = rec.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError("missing or empty 'question'")
    answer = rec.get("answer")
    if "choices" in rec:
        choices = rec["choices"]
        if not isinstance(choices, list) or not all(isinstance(c, (str, int, float)) for c in choices):
            raise InputError("'choices' must be a list of strings")
        options = tuple(str(c).strip() for c in choices)
        # Build without the answer first so "no options" is reported as such, not as an
        # answer out of range for 0 options.
        q = MCQ(question.strip(), options, None, subject, source, explanation, str(rec.get("id") or ""))
        return q if answer is None else replace(q, answer=letter_for(answer, len(options)))
    parsed = parse_question_text(question)
    letter = None if answer is None else answer_letter(parsed, str(answer))
    return MCQ(parsed.stem, parsed.options, letter, subject, source, explanation, str(rec.get("id") or ""))


def read_jsonl(path: Path, strict: bool = False) -> BankLoad:
    out = BankLoad()
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    out.questions.append(mcq_from_record(rec, source=f"{path.name}:{lineno}"))
                except (json.JSONDecodeError, InputError) as exc:
                    reason = exc.message if isinstance(exc, InputError) else f"invalid JSON ({exc.msg})"
                    if strict:
                        raise InputError(reason, where=f"{path}:{lineno}") from None
                    out.skip(lineno, reason)
        except UnicodeDecodeError:
            raise InputError("not a UTF-8 text file", where=str(path)) from None
    return out


def read_csv(path: Path, strict: bool = False) -> BankLoad:
    out = BankLoad()
    end_of_previous = 0  # line where the last complete record (or the header) ended
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            # Header names in any case ("Question,Answer,A,B"): spreadsheets capitalise them.
            reader.fieldnames = [_column_name(c) for c in (reader.fieldnames or [])]
            cols = reader.fieldnames
            if "question" not in cols or "answer" not in cols:
                raise InputError("CSV needs 'question' and 'answer' columns", where=f"{path}:1")
            option_cols = [c for c in LETTERS if c in cols]
            end_of_previous = reader.line_num
            for row in reader:
                # A quoted field may span lines: report the line the record starts on.
                lineno, end_of_previous = end_of_previous + 1, reader.line_num
                row = {(k or "").strip(): (v or "") for k, v in row.items()}
                try:
                    if "choices" in row:
                        choices = [c.strip() for c in row["choices"].split("||")]
                    else:
                        cells = [row.get(c, "").strip() for c in option_cols]
                        while cells and not cells[-1]:
                            cells.pop()  # a 3-option row in a bank with columns A-D
                        if "" in cells:
                            # Dropping the gap would shift the later options onto other
                            # letters, and the answer key with them.
                            gap = option_cols[cells.index("")]
                            raise InputError(f"option {gap} is empty but a later option is not")
                        choices = cells
                    rec = {"question": row["question"], "choices": choices,
                           "answer": row["answer"], "subject": row.get("subject", ""),
                           "explanation": row.get("explanation", ""), "id": row.get("id", "")}
                    out.questions.append(mcq_from_record(rec, source=f"{path.name}:{lineno}"))
                except InputError as exc:
                    if strict:
                        raise InputError(exc.message, where=f"{path}:{lineno}") from None
                    out.skip(lineno, exc.message)
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(path)) from None
    except csv.Error as exc:  # NUL bytes, an oversized field: the file itself is broken here
        raise InputError(f"malformed CSV ({one_line(exc)})", where=f"{path}:{end_of_previous + 1}") from None
    return out


def _column_name(name: str | None) -> str:
    """"Question" -> "question", "a" -> "A" (option columns are letters), others lowercased."""
    name = (name or "").strip()
    return name.upper() if len(name) == 1 and name.upper() in LETTERS else name.lower()


def mcq_to_seed_record(q: MCQ) -> dict[str, Any]:
    """MCQ -> the seed JSONL record (what `probllms-train data mcqa` writes)."""
    from probllms_tui.core.prompt import render_letter_prompt

    return {"subject": q.subject, "question": render_letter_prompt(q), "answer": q.answer}


def mcq_to_structured_record(q: MCQ) -> dict[str, Any]:
    rec: dict[str, Any] = {"question": q.stem, "choices": list(q.options), "answer": q.answer,
                           "subject": q.subject}
    if q.explanation:
        rec["explanation"] = q.explanation
    return rec
