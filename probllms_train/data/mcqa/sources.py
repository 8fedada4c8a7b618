"""Hub/local rows of ARC, MMLU, GSM8K and MATH -> MCQ, one function per source.

A converter raises ``InputError`` for a malformed row (wrong shape: stops the run or is
skipped and counted with --skip-bad) and ``NoAnswer`` for a well-formed row the recipe
cannot use (counted under its reason).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import LETTERS, MCQ

from probllms_train.data.mcqa.distractors import NoAnswer, gsm8k_answer, gsm8k_options, last_boxed, math_options

# The recipe's 23 MMLU science subjects (cais/mmlu config names).
MMLU_SCIENCE = (
    "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
    "college_computer_science", "college_mathematics", "college_physics", "computer_security",
    "conceptual_physics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_mathematics", "high_school_physics", "high_school_statistics",
    "logical_fallacies", "machine_learning", "medical_genetics", "virology",
)


def _text(rec: dict, key: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"missing or empty {key!r}")
    return value.strip()


def _require_dict(rec: Any) -> dict:
    if not isinstance(rec, dict):
        raise InputError(f"expected a JSON object, got {type(rec).__name__}")
    return rec


def arc_mcq(rec: Any, rng: random.Random, source: str) -> MCQ:
    """ARC in the hub form ({"question": str, "choices": {"text", "label"}, "answerKey"}) or
    the original form ({"question": {"stem", "choices": [{"label", "text"}]}, "answerKey"})."""
    rec = _require_dict(rec)
    q = rec.get("question")
    if isinstance(q, dict):
        stem = _text(q, "stem")
        choices = q.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise InputError("'question.choices' must be a list of {label, text}")
        labels = [str(c.get("label", "")).strip() for c in choices]
        texts = [str(c.get("text", "")).strip() for c in choices]
    else:
        stem = _text(rec, "question")
        choices = rec.get("choices")
        if not isinstance(choices, dict) or not isinstance(choices.get("text"), list):
            raise InputError("'choices' must be {text: [...], label: [...]}")
        texts = [str(t).strip() for t in choices["text"]]
        labels = [str(x).strip() for x in choices.get("label", [])]
    key = str(rec.get("answerKey", "")).strip()
    if len(labels) != len(texts) or key not in labels:
        raise InputError(f"answerKey {key!r} is not one of the labels {labels}")
    # Labels "1".."4" become letters A..D by position, as every reader in the project does.
    return MCQ(stem, tuple(texts), LETTERS[labels.index(key)], subject="", source=source,
               id=str(rec.get("id") or ""))


def mmlu_mcq(rec: Any, rng: random.Random, source: str) -> MCQ:
    """MMLU hub rows: {"question", "choices": [...], "answer": 0-based int, "subject"}."""
    rec = _require_dict(rec)
    stem = _text(rec, "question")
    choices = rec.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        raise InputError("'choices' must be a list of at least 2 options")
    answer = rec.get("answer")
    if isinstance(answer, str) and len(answer) == 1 and answer.upper() in LETTERS:
        answer = LETTERS.index(answer.upper())
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
        raise InputError(f"'answer' must be an option index 0..{len(choices) - 1}, got {answer!r}")
    subject = str(rec.get("subject") or "")
    if subject not in MMLU_SCIENCE:
        raise NoAnswer("not one of the 23 science subjects")
    return MCQ(stem, tuple(str(c).strip() for c in choices), LETTERS[answer], subject=subject,
               source=source)


def gsm8k_mcq(rec: Any, rng: random.Random, source: str) -> MCQ:
    rec = _require_dict(rec)
    stem = _text(rec, "question")
    answer = gsm8k_answer(_text(rec, "answer"))
    options, correct = gsm8k_options(answer, rng)
    return MCQ(stem, tuple(options), LETTERS[correct], subject="grade_school_math", source=source)


def math_mcq(rec: Any, rng: random.Random, source: str) -> MCQ:
    """MATH rows: {"problem", "solution" with \\boxed{...}, "type", "level"}."""
    rec = _require_dict(rec)
    stem = _text(rec, "problem")
    answer = last_boxed(_text(rec, "solution"))
    options, correct = math_options(answer, rng)
    subject = "_".join(str(rec.get("type") or rec.get("subject") or "").lower().replace("&", "and").split())
    return MCQ(stem, tuple(options), LETTERS[correct], subject=subject, source=source)


@dataclass(frozen=True)
class McqaSource:
    convert: Callable[[Any, random.Random, str], MCQ]
    hub_name: str
    hub_configs: tuple[str | None, ...]
    splits: tuple[str, ...]


SOURCES: dict[str, McqaSource] = {
    "arc-easy": McqaSource(arc_mcq, "allenai/ai2_arc", ("ARC-Easy",), ("train", "validation", "test")),
    "arc-challenge": McqaSource(arc_mcq, "allenai/ai2_arc", ("ARC-Challenge",),
                                ("train", "validation", "test")),
    # One config per subject, so only the 23 are downloaded.
    "mmlu-science": McqaSource(mmlu_mcq, "cais/mmlu", MMLU_SCIENCE, ("dev", "validation", "test")),
    "gsm8k": McqaSource(gsm8k_mcq, "openai/gsm8k", ("main",), ("train", "test")),
    "math": McqaSource(math_mcq, "EleutherAI/hendrycks_math",
                       ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                        "number_theory", "prealgebra", "precalculus"), ("train", "test")),
}

# The progress report's question counts: sums over every split of each dataset (its Table of
# MCQ sources). `data mcqa --split all` compares what it read against these.
REPORT_TOTALS: dict[str, int] = {
    "arc-easy": 5196,       # the hub holds 5,197 (2,251 + 570 + 2,376): the report has one fewer
    "arc-challenge": 2590,  # 1,119 + 299 + 1,172
    "mmlu-science": 4219,   # the 23 science subjects, dev + validation + test
    "gsm8k": 8792,          # 7,473 + 1,319
    "math": 12500,          # 7,500 + 5,000
}

__all__ = ["MMLU_SCIENCE", "REPORT_TOTALS", "SOURCES", "McqaSource", "NoAnswer"]
