"""What a quantization costs, measured against the F16 GGUF on the same prompts.

Two views, because accuracy alone hides flips:
- next-token distributions: mean KL(P_f16 || P_quant) and top-1 agreement over every token
  position of the rendered MCQ prompts (the statistics llama.cpp's ``perplexity
  --kl-divergence`` reports, on our own prompt format instead of wikitext);
- answers: MCQ accuracy through the serving engine and the flip rate (the share of
  questions whose chosen answer differs from the F16 model's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import render_explanation_prompt

LOGIT_ROWS_PER_CHUNK = 32


@dataclass
class QuantQuality:
    quantization: str
    file: str
    size_bytes: int
    kld_mean: float | None = None
    kld_p99: float | None = None
    top1_agreement: float | None = None
    n_positions: int = 0
    accuracy: float | None = None
    n_answered: int = 0
    flip_rate: float | None = None
    n_questions: int = 0
    flipped_ids: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # per question, in report order

    def to_json(self) -> dict:
        return asdict(self)


def comparison_text(q: MCQ) -> str:
    """Letter prompt + its answer + the explanation slot: every string the model serves."""
    return render_explanation_prompt(q, q.answer or q.letters[0])


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32 (Gemma's rows are 262k wide), normaliser in float64."""
    rows = rows.astype(np.float32, copy=False)
    m = rows.max(axis=1, keepdims=True)
    lse = np.log(np.exp(rows - m).sum(axis=1, keepdims=True, dtype=np.float64)).astype(np.float32)
    return rows - (m + lse)


def _all_logits(llm, tokens: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def next_token_divergence(reference: Path, candidates: dict[str, Path], texts: Sequence[str],
                          *, n_ctx: int = 512) -> dict[str, dict]:
    """{quant: {kld_mean, kld_p99, top1_agreement, n_positions}} over every prompt position."""
    from llama_cpp import Llama

    def open_model(p: Path) -> "Llama":
        # logits_all: llama.cpp keeps n_ctx x n_vocab floats, so n_ctx stays small here.
        return Llama(model_path=str(p), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True,
                     verbose=False, seed=0)

    ref = open_model(reference)
    models = {q: open_model(p) for q, p in candidates.items()}
    klds: dict[str, list[np.ndarray]] = {q: [] for q in candidates}
    agree: dict[str, int] = {q: 0 for q in candidates}
    n_pos = 0
    try:
        for text in texts:
            tokens = ref.tokenize(text.encode("utf-8"), add_bos=True, special=False)[:n_ctx]
            ref_logits = _all_logits(ref, tokens)
            n_pos += len(tokens)
            cand_logits = {q: _all_logits(llm, tokens) for q, llm in models.items()}
            for s in range(0, len(tokens), LOGIT_ROWS_PER_CHUNK):
                lp = _log_softmax(ref_logits[s:s + LOGIT_ROWS_PER_CHUNK])
                p = np.exp(lp)
                top_ref = lp.argmax(1)
                for q, logits in cand_logits.items():
                    lq = _log_softmax(logits[s:s + LOGIT_ROWS_PER_CHUNK])
                    klds[q].append((p * (lp - lq)).sum(axis=1, dtype=np.float64))
                    agree[q] += int((top_ref == lq.argmax(1)).sum())
    finally:
        for llm in [ref, *models.values()]:
            llm.close()
    out = {}
    for q in candidates:
        k = np.concatenate(klds[q]) if klds[q] else np.zeros(0)
        # Tiny negative values are float rounding of identical distributions; KL is >= 0.
        k = np.maximum(k, 0.0)
        out[q] = {"kld_mean": float(k.mean()) if k.size else None,
                  "kld_p99": float(np.percentile(k, 99)) if k.size else None,
                  "top1_agreement": agree[q] / n_pos if n_pos else None, "n_positions": n_pos}
    return out


def mcq_answers(model: Path, questions: Sequence[MCQ], *, method: str, n_ctx: int = 1024) -> list[str]:
    """The serving engine's answer to each question (the TUI's own scoring path)."""
    from probllms_tui.engine.llama import LlamaEngine

    with LlamaEngine(model, n_ctx=n_ctx, default_method=method, threads=(1, 2)) as engine:
        return [engine.score(q).answer for q in questions]


def answer_stats(reference: list[str], answers: list[str], questions: Sequence[MCQ]) -> dict:
    known = [(a, q.answer) for a, q in zip(answers, questions) if q.answer]
    flipped = [q.id for r, a, q in zip(reference, answers, questions) if r != a]
    return {
        "accuracy": sum(a == gold for a, gold in known) / len(known) if known else None,
        "n_answered": len(known),
        "flip_rate": len(flipped) / len(questions) if questions else None,
        "n_questions": len(questions),
        "flipped_ids": flipped,
        "answers": list(answers),
    }
