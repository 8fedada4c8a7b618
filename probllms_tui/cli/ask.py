"""Headless answering: `probllms-tui ask` (also what the benchmark and scripts call)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from probllms_tui.core.paste import parse_pasted
from probllms_tui.core.prompt import Passage


def retrieve_passages(question_text: str, *, data_dir: Path | None, k: int,
                      budget_tokens: int, count_tokens) -> list[Passage]:
    """Notes for the question from the data dir's index; [] when no index was built yet."""
    from probllms_tui.core.prompt import fit_passages
    from probllms_tui.rag.retrieve import open_retriever

    retriever = open_retriever(data_dir=data_dir)
    if retriever is None:
        return []
    return fit_passages(retriever.search(question_text, k=k), budget_tokens, count_tokens)


def source_json(p: Passage) -> dict[str, Any]:
    return {"citation": p.citation, **p.meta}


def run_ask(text: str, *, model: str | None, method: str | None, explain: bool, rag: bool,
            k: int, max_tokens: int, data_dir: Path | None, models_dir: Path | None,
            stream_to: IO[str] | None) -> dict[str, Any]:
    q = parse_pasted(text)  # bad input fails here, before any model loads
    from probllms_tui.engine.load import open_engine

    engine = open_engine(model, models_dir=models_dir, method=method,
                         warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    try:
        passages: list[Passage] = []
        if rag:
            budget = engine.n_ctx // 2 - (max_tokens if explain else 0)
            passages = retrieve_passages(f"{q.stem}\n" + "\n".join(q.options), data_dir=data_dir,
                                         k=k, budget_tokens=max(0, budget),
                                         count_tokens=engine.count_tokens)
        result = engine.score(q, passages)
        out: dict[str, Any] = {
            "answer": result.answer,
            "probabilities": {l: round(p, 4) for l, p in result.probabilities.items()},
            "method": result.method,
            "model": engine.name,
            "latency_ms": round(result.latency_ms, 1),
            "sources": [source_json(p) for p in passages],
        }
        if stream_to is not None:
            stream_to.write(f"Answer: {result.answer}. {q.option(result.answer)}\n")
            for letter, opt in zip(q.letters, q.options):
                p = result.probabilities[letter]
                bar = "█" * round(p * 20)
                stream_to.write(f"  {letter}  {p:6.1%} {bar:20}  {opt.splitlines()[0][:60]}\n")
            stream_to.write(f"({result.method} scoring, {engine.name}, {result.latency_ms:.0f} ms)\n")
        if explain:
            pieces: list[str] = []
            if stream_to is not None:
                stream_to.write("\nExplanation:")
            for piece in engine.stream_explanation(q, result.answer, passages, max_tokens=max_tokens):
                pieces.append(piece)
                if stream_to is not None:
                    stream_to.write(piece)
                    stream_to.flush()
            out["explanation"] = "".join(pieces).strip()
            if stream_to is not None:
                stream_to.write("\n")
        if stream_to is not None and passages:
            stream_to.write("\nSources:\n" + "".join(f"  [{i}] {p.citation}\n" for i, p in enumerate(passages, 1)))
        return out
    finally:
        engine.close()
