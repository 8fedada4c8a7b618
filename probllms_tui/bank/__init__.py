"""The question bank ProbLLMs ships: original MCQs written by this project.

``builtin.jsonl`` uses the structured JSONL format that ``probllms_tui.core.readers.read_bank``
reads (question, four choices, answer letter, subject, explanation, id). Every question's
answer is supported by a passage in the sample course notes in the repository's ``notes/``.
"""

from __future__ import annotations

from pathlib import Path

BUILTIN_BANK_NAME = "builtin.jsonl"


def builtin_bank_path() -> Path:
    """Path of the packaged built-in bank (installed as package data beside this module)."""
    return Path(__file__).resolve().parent / BUILTIN_BANK_NAME
