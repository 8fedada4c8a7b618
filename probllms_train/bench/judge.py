"""`bench judge`: is an answer written with retrieved notes better than one without?

Two modes, one judging protocol:

- ``open`` (the progress report's ablation): questions sampled (seeded) from the
  student-annotated format (``question_complete``); the model writes its own reasoned answer
  twice, with and without RAG passages;
- ``mcq``: for each question of an MCQ bank the model explains the given correct answer twice.

A judge compares the two in both orders, which cancels a judge's habit of preferring the
first (or second) position. A question counts as a win for RAG only when the judge prefers
the RAG text in both orders, a loss only when it prefers the plain one in both; anything else
(a tie, or a verdict that flips with the order) is a tie.

The judge's question is itself an MCQ (A: text 1, B: text 2, C: equally good) rendered with
the one prompt format, so a local GGUF judge scores it with the engine's letter method and any
OpenAI-compatible endpoint (the report used GPT-4) reads the very same text through the
project's one chat client (``probllms_train/llm_client.py``: retries, optional cache).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import letter_continuation, render_letter_prompt, render_open_prompt
from probllms_tui.rag.question_notes import notes_for_query, notes_for_question

INSTRUCTION = ("Two explanations of the correct answer to an exam question follow. Which one is "
               "more correct, clear and helpful for a student?")
VERDICT_OPTIONS = ("Explanation 1 is better.", "Explanation 2 is better.", "Both are equally good.")
OPEN_INSTRUCTION = ("Two answers to an exam question follow. Which one is more correct, better "
                    "reasoned and more helpful for a student?")
OPEN_VERDICT_OPTIONS = ("Answer 1 is better.", "Answer 2 is better.", "Both are equally good.")
SYSTEM = "You are a strict grader. Reply with a single letter: A, B or C."
# Asked of the model in open mode, so that it reasons before it answers (the report judged
# "extended answers with reasoning" the model wrote itself).
REASONING_REQUEST = "Explain your reasoning step by step, then state the final answer."
MODES = ("mcq", "open")


def judge_question(q: MCQ, letter: str, first: str, second: str) -> MCQ:
    shown = f"{render_letter_prompt(q)}{letter_continuation(letter)}"
    stem = (f"{INSTRUCTION}\n\n{shown}\n\nExplanation 1: {first.strip() or '(empty)'}\n\n"
            f"Explanation 2: {second.strip() or '(empty)'}")
    return MCQ(stem, VERDICT_OPTIONS)


def open_judge_question(question: str, first: str, second: str) -> MCQ:
    stem = (f"{OPEN_INSTRUCTION}\n\nExam question: {question.strip()}\n\n"
            f"Answer 1: {first.strip() or '(empty)'}\n\nAnswer 2: {second.strip() or '(empty)'}")
    return MCQ(stem, OPEN_VERDICT_OPTIONS)


class EndpointJudge:
    """Any OpenAI-compatible chat endpoint, through the one chat client. The key is read from
    the environment and only ever placed in the Authorization header (none without a key)."""

    def __init__(self, base_url: str, model: str, key_env: str, timeout: float = 60.0, cache=None):
        from probllms_train.llm_client import ChatClient

        # temperature 0: the same texts get the same verdict, so a cached verdict is valid.
        self._client = ChatClient(base_url, model, api_key_env=key_env, key_required=False,
                                  params={"temperature": 0, "max_tokens": 4}, cache=cache,
                                  timeout_s=timeout, label="judge endpoint")
        self.url = self._client.url
        self.name = f"{model} @ {base_url}"

    def verdict(self, jq: MCQ) -> tuple[str | None, dict]:
        text = self._client.chat([{"role": "system", "content": SYSTEM},
                                  {"role": "user", "content": render_letter_prompt(jq)}])
        m = re.search(r"\b([ABC])\b", text.strip().upper())
        return (m.group(1) if m else None), {"reply": text[:200]}

    def close(self) -> None:
        self._client.close()


class GGUFJudge:
    def __init__(self, engine):
        self.engine = engine
        self.name = engine.name

    def verdict(self, jq: MCQ) -> tuple[str | None, dict]:
        res = self.engine.score(jq, (), "letter")
        return res.answer, {"probabilities": res.probabilities}

    def close(self) -> None:
        self.engine.close()


def combine(rag_first: str | None, plain_first: str | None) -> str:
    """Verdicts in the two orders -> "win" / "loss" / "tie" for the RAG explanation."""
    pick_1 = {"A": "rag", "B": "plain"}.get(rag_first or "", "tie")
    pick_2 = {"A": "plain", "B": "rag"}.get(plain_first or "", "tie")
    if pick_1 == pick_2 == "rag":
        return "win"
    if pick_1 == pick_2 == "plain":
        return "loss"
    return "tie"


def explain(engine, q: MCQ, passages, max_tokens: int) -> str:
    return "".join(engine.stream_explanation(q, q.answer, passages, max_tokens=max_tokens,
                                             temperature=0.0)).strip()


def open_prompt(question: str, passages=()) -> str:
    """The model's own reasoned answer: THE open prompt format, with the reasoning request."""
    return render_open_prompt(f"{question.strip()}\n\n{REASONING_REQUEST}", passages)


def answer_open(engine, question: str, passages, max_tokens: int) -> str:
    text = "".join(engine.stream_completion(open_prompt(question, passages), max_tokens=max_tokens,
                                            temperature=0.0))
    # A base model goes on with the next "Question:" turn; the answer ends before it.
    return text.split("\nQuestion:", 1)[0].strip()


@dataclass(frozen=True)
class OpenQuestion:
    id: str
    question: str
    where: str


def sample_open_questions(path: Path, limit: int, seed: int) -> list[OpenQuestion]:
    """``limit`` questions drawn (seeded) from a student-annotated file (JSON list or JSONL of
    ``{"question_complete", ...}``); repeated questions count once."""
    from probllms_train.data.preference.pairs import text_field
    from probllms_train.data.rows import BadRowPolicy, Tally, read_rows

    if not path.is_file():
        raise InputError("file not found", where=str(path))
    seen: dict[str, OpenQuestion] = {}
    for row in read_rows(path, BadRowPolicy(False, Tally())):
        try:
            q = text_field(row.data, "question_complete")
        except InputError as exc:
            raise InputError(f"{exc.message} (open mode reads the student-annotated format)",
                             where=row.where) from None
        key = " ".join(q.split()).casefold()
        if key not in seen:
            rid = row.data.get("question_id", row.where)  # the course's id; else where it is
            seen[key] = OpenQuestion(str(rid), q, row.where)
    items = list(seen.values())
    if not items:
        raise InputError("no questions in the student-annotated file", where=str(path))
    if len(items) <= limit:
        return items
    keep = sorted(random.Random(f"{seed}\x00judge").sample(range(len(items)), limit))
    return [items[i] for i in keep]


def _judge_loop(items, judge, texts_of, jq_of, row_of, out: Path, mode: str) -> dict:
    """Shared by both modes: two texts per item, judged in both orders, one outcome each."""
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    first_position = 0
    n_verdicts = 0
    with (out / "judge.jsonl").open("w", encoding="utf-8") as fh:
        for item in items:
            with_rag, plain, passages = texts_of(item)
            v1, info1 = judge.verdict(jq_of(item, with_rag, plain))
            v2, info2 = judge.verdict(jq_of(item, plain, with_rag))
            outcome = combine(v1, v2)
            counts[outcome] += 1
            first_position += (v1 == "A") + (v2 == "A")
            n_verdicts += 2
            fh.write(json.dumps({**row_of(item), "with_rag": with_rag, "without_rag": plain,
                                 "passages": [p.citation for p in passages],
                                 "verdict_rag_first": v1, "verdict_plain_first": v2,
                                 "judge_rag_first": info1, "judge_plain_first": info2,
                                 "outcome": outcome}) + "\n")
            fh.flush()
    n = sum(counts.values())
    result = {"mode": mode, "judge": judge.name, "n": n, "wins": counts["win"], "ties": counts["tie"],
              "losses": counts["loss"], "first_position_rate": first_position / max(1, n_verdicts),
              "win_rate": counts["win"] / max(1, n)}
    (out / "judge.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def run_judge(engine, judge, retriever, questions: list[MCQ], *, out: Path, k: int,
              max_tokens: int) -> dict:
    """MCQ mode: explanations of each question's given correct answer."""

    def texts(q: MCQ):
        # the app's retrieval rule, so "with notes" means what students get
        passages = notes_for_question(retriever, q, k=k, n_ctx=engine.n_ctx, count_tokens=engine.count_tokens,
                                      explanation_tokens=max_tokens).passages
        return explain(engine, q, passages, max_tokens), explain(engine, q, (), max_tokens), passages

    return _judge_loop(questions, judge, texts, lambda q, a, b: judge_question(q, q.answer, a, b),
                       lambda q: {"id": q.id, "answer": q.answer}, out, "mcq")


def run_open_judge(engine, judge, retriever, questions: list[OpenQuestion], *, out: Path, k: int,
                   max_tokens: int) -> dict:
    """Open mode (the progress report's protocol): the model's own reasoned answers."""

    def texts(q: OpenQuestion):
        passages = notes_for_query(retriever, q.question, k=k, n_ctx=engine.n_ctx,
                                   count_tokens=engine.count_tokens, explanation_tokens=max_tokens).passages
        return (answer_open(engine, q.question, passages, max_tokens),
                answer_open(engine, q.question, (), max_tokens), passages)

    return _judge_loop(questions, judge, texts, lambda q, a, b: open_judge_question(q.question, a, b),
                       lambda q: {"id": q.id, "question": q.question, "origin": q.where}, out, "open")


def run_judge_command(*, data: Path, out: Path, model: str | None, judge_url: str | None, judge_model: str,
                      judge_key_env: str, judge_gguf: str | None, limit: int, max_tokens: int, k: int,
                      data_dir: Path | None, models_dir: Path | None, mode: str = "mcq", seed: int = 0,
                      judge_cache: Path | None = None, warn=print) -> dict:
    from probllms_tui.core.paths import data_dir as resolve_data_dir
    from probllms_tui.engine.load import open_engine
    from probllms_tui.rag.retrieve import open_retriever

    if mode not in MODES:
        raise InputError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "open":
        items = sample_open_questions(data, limit, seed)
    else:
        from probllms_tui.core.readers import read_bank

        items = [q for q in read_bank(data, keep_duplicates=True).questions if q.answer][:limit]
        if not items:
            raise InputError("no questions with a known answer to explain", where=str(data))
    where = resolve_data_dir(data_dir)
    retriever = open_retriever(where)
    if retriever is None:
        raise InputError(f"no notes index in {where}: the judge compares answers with and without "
                         "retrieved notes; build it with `probllms-tui notes index`")
    engine = open_engine(model, models_dir=models_dir, n_ctx=2048)
    cache = None
    try:
        if judge_url:
            if judge_cache is not None:
                from probllms_train.llm_client import LLMCache

                cache = LLMCache(judge_cache)
            judge = EndpointJudge(judge_url, judge_model, judge_key_env, cache=cache)
        else:
            judge = GGUFJudge(open_engine(judge_gguf, models_dir=models_dir, n_ctx=2048))
        try:
            run = run_open_judge if mode == "open" else run_judge
            result = run(engine, judge, retriever, items, out=out, k=k, max_tokens=max_tokens)
        finally:
            judge.close()
    finally:
        engine.close()
        if cache is not None:
            cache.close()
    what = "answer" if mode == "open" else "explanation"
    print(f"judge {result['judge']} ({mode}): RAG {what} wins {result['wins']}, ties {result['ties']}, "
          f"losses {result['losses']} of n={result['n']} (both orders; judge picked position 1 in "
          f"{result['first_position_rate']:.0%} of verdicts)")
    return result
