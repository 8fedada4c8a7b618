"""`bench judge`: is an explanation written with retrieved notes better than one without?

For each question the model explains the correct answer twice (with and without RAG
passages); a judge compares the two in both orders, which cancels a judge's habit of
preferring the first (or second) position. A question counts as a win for RAG only when the
judge prefers the RAG explanation in both orders, a loss only when it prefers the plain one
in both; anything else (a tie, or a verdict that flips with the order) is a tie.

The judge's question is itself an MCQ (A: explanation 1, B: explanation 2, C: equally good)
rendered with the one prompt format, so a local GGUF judge scores it with the engine's letter
method and an OpenAI-compatible endpoint reads the very same text.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from probllms_tui.core.errors import InputError, ProbLLMsError, one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import letter_continuation, render_letter_prompt
from probllms_tui.rag.question_notes import notes_for_question

INSTRUCTION = ("Two explanations of the correct answer to an exam question follow. Which one is "
               "more correct, clear and helpful for a student?")
VERDICT_OPTIONS = ("Explanation 1 is better.", "Explanation 2 is better.", "Both are equally good.")
SYSTEM = "You are a strict grader. Reply with a single letter: A, B or C."


def judge_question(q: MCQ, letter: str, first: str, second: str) -> MCQ:
    shown = f"{render_letter_prompt(q)}{letter_continuation(letter)}"
    stem = (f"{INSTRUCTION}\n\n{shown}\n\nExplanation 1: {first.strip() or '(empty)'}\n\n"
            f"Explanation 2: {second.strip() or '(empty)'}")
    return MCQ(stem, VERDICT_OPTIONS)


class EndpointJudge:
    """An OpenAI-compatible chat endpoint. The key is read from the environment and only
    ever placed in the Authorization header: never printed, logged or written."""

    def __init__(self, base_url: str, model: str, key_env: str, timeout: float = 60.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._key = os.environ.get(key_env, "")
        self.timeout = timeout
        self.name = f"{model} @ {base_url}"

    def verdict(self, jq: MCQ) -> tuple[str | None, dict]:
        import httpx

        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        body = {"model": self.model, "temperature": 0, "max_tokens": 4,
                "messages": [{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": render_letter_prompt(jq)}]}
        try:
            resp = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ProbLLMsError(f"judge endpoint {self.url} unreachable ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise ProbLLMsError(f"judge endpoint {self.url} answered HTTP {resp.status_code}: {one_line(resp.text, 120)}")
        try:
            text = resp.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProbLLMsError(f"judge endpoint {self.url} sent no chat completion") from None
        m = re.search(r"\b([ABC])\b", text.strip().upper())
        return (m.group(1) if m else None), {"reply": text[:200]}

    def close(self) -> None:
        pass


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


def run_judge(engine, judge, retriever, questions: list[MCQ], *, out: Path, k: int,
              max_tokens: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    first_position = 0
    n_verdicts = 0
    with (out / "judge.jsonl").open("w", encoding="utf-8") as fh:
        for q in questions:
            passages = notes_for_question(retriever, q, k=k, n_ctx=engine.n_ctx, count_tokens=engine.count_tokens,
                                          explanation_tokens=max_tokens).passages
            with_rag = explain(engine, q, passages, max_tokens)
            plain = explain(engine, q, (), max_tokens)
            v1, info1 = judge.verdict(judge_question(q, q.answer, with_rag, plain))
            v2, info2 = judge.verdict(judge_question(q, q.answer, plain, with_rag))
            outcome = combine(v1, v2)
            counts[outcome] += 1
            first_position += (v1 == "A") + (v2 == "A")
            n_verdicts += 2
            fh.write(json.dumps({"id": q.id, "answer": q.answer, "with_rag": with_rag, "without_rag": plain,
                                 "passages": [p.citation for p in passages],
                                 "verdict_rag_first": v1, "verdict_plain_first": v2,
                                 "judge_rag_first": info1, "judge_plain_first": info2,
                                 "outcome": outcome}) + "\n")
            fh.flush()
    n = sum(counts.values())
    result = {"judge": judge.name, "n": n, "wins": counts["win"], "ties": counts["tie"],
              "losses": counts["loss"], "first_position_rate": first_position / max(1, n_verdicts),
              "win_rate": counts["win"] / max(1, n)}
    (out / "judge.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def run_judge_command(*, data: Path, out: Path, model: str | None, judge_url: str | None, judge_model: str,
                      judge_key_env: str, judge_gguf: str | None, limit: int, max_tokens: int, k: int,
                      data_dir: Path | None, models_dir: Path | None, warn=print) -> dict:
    from probllms_tui.core.paths import data_dir as resolve_data_dir
    from probllms_tui.core.readers import read_bank
    from probllms_tui.engine.load import open_engine
    from probllms_tui.rag.retrieve import open_retriever

    bank = read_bank(data)
    questions = [q for q in bank.questions if q.answer][:limit]
    if not questions:
        raise InputError("no questions with a known answer to explain", where=str(data))
    where = resolve_data_dir(data_dir)
    retriever = open_retriever(where)
    if retriever is None:
        raise InputError(f"no notes index in {where}: the judge compares explanations with and without "
                         "retrieved notes; build it with `probllms-tui notes index`")
    engine = open_engine(model, models_dir=models_dir, n_ctx=2048)
    try:
        judge = EndpointJudge(judge_url, judge_model, judge_key_env) if judge_url else \
            GGUFJudge(open_engine(judge_gguf, models_dir=models_dir, n_ctx=2048))
        try:
            result = run_judge(engine, judge, retriever, questions, out=out, k=k, max_tokens=max_tokens)
        finally:
            judge.close()
    finally:
        engine.close()
    print(f"judge {result['judge']}: RAG explanation wins {result['wins']}, ties {result['ties']}, "
          f"losses {result['losses']} of n={result['n']} (both orders; judge picked position 1 in "
          f"{result['first_position_rate']:.0%} of verdicts)")
    return result
