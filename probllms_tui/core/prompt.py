"""THE prompt format. Training pairs, the benchmark, the TUI and the Ollama export all use it.

A model trained on one format and served with another quietly loses accuracy, so every
string that reaches a model is built here and nowhere else. ``PROMPT_FORMAT`` names this
version; the model manifest records it and the engine warns on a mismatch.

The MCQ layout is byte-for-byte the seed datasets' layout (``Question: ...\\n\\nOptions:\\nA. ...
\\n\\nAnswer:``), so the seed files, our builders and the served prompt are the same text.
Retrieved notes, when present, come first as a numbered ``Notes:`` block so the model reads
them before the question and the explanation can cite ``[1]``, ``[2]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from probllms_tui.core.mcq import MCQ

PROMPT_FORMAT = "probllms-v1"

# Generation stops where the next exam item would begin (also the Ollama Modelfile's stops).
STOP_SEQUENCES = ("\nQuestion:", "\n\nOptions:", "\nNotes:")
# An explanation also ends where the model starts another answer: Gemma 270M goes on with
# "Answer: C" or "Explanation:" after a few sentences. Not in the Modelfile: it strips the
# newline, and open answers may say "Answer:" mid-line.
EXPLANATION_STOPS = STOP_SEQUENCES + ("\nAnswer:", "\nExplanation:")


@dataclass(frozen=True)
class Passage:
    """A retrieved note passage and where it came from (shown as the citation)."""

    text: str
    citation: str  # e.g. "notes/probability.md:12-30" or "slides.pdf p.4"
    # Where it came from, for the UI and `--json` sources: path, page | lines, heading, score.
    meta: dict = field(default_factory=dict, compare=False, hash=False)


def render_context(passages: Sequence[Passage]) -> str:
    if not passages:
        return ""
    blocks = [f"[{i}] ({p.citation}) {p.text.strip()}" for i, p in enumerate(passages, 1)]
    return "Notes:\n" + "\n".join(blocks) + "\n\n"


def render_options(q: MCQ) -> str:
    return "\n".join(f"{letter}. {text}" for letter, text in zip(q.letters, q.options))


def render_letter_prompt(q: MCQ, passages: Sequence[Passage] = ()) -> str:
    """The MCQ prompt whose next token is the answer letter (seed layout)."""
    return (f"{render_context(passages)}Question: {q.stem}\n\nOptions:\n{render_options(q)}"
            "\n\nAnswer:")


def letter_continuation(letter: str) -> str:
    """What follows ``Answer:`` for a letter answer (leading space, as the seed answers)."""
    return f" {letter}"


def render_cloze_prefix(q: MCQ, passages: Sequence[Passage] = ()) -> str:
    """The context for cloze scoring: the stem alone; each option's text is the continuation."""
    return f"{render_context(passages)}Question: {q.stem}\nAnswer:"


# The neutral context for calibrated ("pmi") cloze scoring: how likely is an option's text
# after "Answer:" when no question is asked. Subtracting it removes the option's prior.
CLOZE_UNCONDITIONAL_PREFIX = "Answer:"


def cloze_continuation(option: str) -> str:
    return f" {option}"


def render_answered(q: MCQ, letter: str, passages: Sequence[Passage] = ()) -> str:
    """Letter prompt + the chosen answer: what every explanation prompt starts from."""
    return f"{render_letter_prompt(q, passages)}{letter_continuation(letter)}. {q.option(letter)}"


def render_explanation_prompt(q: MCQ, letter: str, passages: Sequence[Passage] = ()) -> str:
    """The answered question, then an explanation slot a base model completes."""
    return f"{render_answered(q, letter, passages)}\n\nExplanation:"


def render_explanation_request(q: MCQ, letter: str, passages: Sequence[Passage] = ()) -> str:
    """The answered question, then the request an instruct model answers in its chat turn.

    The same question block as every other prompt; only the last line differs, because an
    instruct model answers a request better than it continues a bare "Explanation:" slot.
    """
    cite = " Cite the notes as [1], [2] where they support it." if passages else ""
    return (f"{render_answered(q, letter, passages)}\n\n"
            f"Explain in a few sentences why this is the right answer.{cite}")


def explanation_messages(q: MCQ, letter: str, passages: Sequence[Passage] = ()) -> list[dict[str, str]]:
    """The chat for an instruct model's explanation (rendered by core/chat.py)."""
    return [{"role": "user", "content": render_explanation_request(q, letter, passages)}]


def render_open_prompt(question: str, passages: Sequence[Passage] = ()) -> str:
    """Open (non-MCQ) question: the DPO preference pairs' prompt. Responses follow a space."""
    q = question.strip()
    if q.startswith("Question:"):
        q = q[len("Question:"):].strip()
    return f"{render_context(passages)}Question: {q}\n\nAnswer:"


def response_text(answer: str) -> str:
    """A DPO chosen/rejected response as it follows ``render_open_prompt``."""
    return " " + answer.strip()


def fit_passages(
    passages: Sequence[Passage],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[Passage]:
    """Keep the best-ranked passages whose context block fits ``budget_tokens``.

    Tokens are counted with the serving model's tokenizer, never estimated, so the prompt
    never overflows the context window silently; a passage that does not fit is dropped
    whole rather than cut mid-sentence, and lower-ranked ones may still fit after it.
    """
    kept: list[Passage] = []
    for p in passages:
        trial = kept + [p]
        if count_tokens(render_context(trial)) <= budget_tokens:
            kept = trial
    return kept


def ollama_modelfile(gguf_file: str, *, temperature: float = 0.2) -> str:
    """An Ollama Modelfile serving the GGUF with this prompt format (open questions)."""
    stops = "\n".join(f'PARAMETER stop "{s.strip()}"' for s in STOP_SEQUENCES)
    return (
        f"FROM ./{gguf_file}\n"
        'TEMPLATE """Question: {{ .Prompt }}\n\nAnswer:"""\n'
        f"{stops}\n"
        f"PARAMETER temperature {temperature}\n"
        f"# prompt format: {PROMPT_FORMAT} (see probllms_tui/core/prompt.py)\n"
    )
