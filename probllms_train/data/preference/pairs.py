"""A preference pair in THE prompt format, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from probllms_tui.core.errors import InputError
from probllms_tui.core.prompt import render_open_prompt, response_text


@dataclass(frozen=True)
class Pair:
    prompt: str    # render_open_prompt(question): stored rendered, so training = serving
    chosen: str    # response_text(answer)
    rejected: str
    source: str    # "student", "cs-theory", "camel-math", "stack-exchange", ...
    where: str     # "file:line" of the source row

    def record(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected,
                "source": self.source, "origin": self.where}


def strip_answer_slot(prompt: str) -> str:
    """A stored prompt that already ends in the answer slot ("...\\n\\nAnswer:") -> question."""
    q = prompt.strip()
    if q.endswith("Answer:"):
        q = q[: -len("Answer:")].rstrip()
    return q


def make_pair(question: str, chosen: str, rejected: str, source: str, where: str) -> Pair:
    if not question.strip():
        raise InputError("empty question")
    if not chosen.strip() or not rejected.strip():
        raise InputError("empty chosen or rejected answer")
    return Pair(render_open_prompt(strip_answer_slot(question)), response_text(chosen),
                response_text(rejected), source, where)


def text_field(rec: Any, *keys: str) -> str:
    """The first of ``keys`` present in ``rec`` as a non-empty string; InputError otherwise."""
    if not isinstance(rec, dict):
        raise InputError(f"expected a JSON object, got {type(rec).__name__}")
    for key in keys:
        if key in rec:
            value = rec[key]
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{key!r} must be a non-empty string")
            return value
    raise InputError(f"missing {' or '.join(repr(k) for k in keys)}")
