"""Headless answering: `probllms-tui ask` (also what the benchmark and scripts call)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from probllms_tui.core.calibration import explanation_heading
from probllms_tui.core.citations import ExplanationGuard
from probllms_tui.core.paste import parse_pasted
from probllms_tui.core.prompt import Passage
from probllms_tui.engine.base import hit_length_limit
from probllms_tui.rag.question_notes import QuestionNotes, excerpt, notes_for_question, shows_evidence


def source_json(p: Passage) -> dict[str, Any]:
    return {"citation": p.citation, **p.meta}


def evidence_json(p: Passage) -> dict[str, Any]:
    return {"citation": p.citation, "text": excerpt(p.text)}


def update_notes(folder: Path, data_dir: Path | None) -> None:
    """Bring ``folder`` up to date in the notes index, as the app does with ``--notes``: new
    and changed files are embedded, an unchanged folder costs a hash per file."""
    from probllms_tui.rag.service import build_index

    report = build_index(folder, data_dir, warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    if report["indexed"] or report["removed"]:
        print(f"notes: indexed {report['indexed']} note file(s) from {report['notes_dir']} "
             f"({report['chunks_total']} passages)", file=sys.stderr)


def open_notes(question, engine, *, data_dir: Path | None, k: int, explanation_tokens: int) -> QuestionNotes:
    from probllms_tui.rag.retrieve import open_retriever

    return notes_for_question(open_retriever(data_dir=data_dir), question, k=k, n_ctx=engine.n_ctx,
                              count_tokens=engine.count_tokens, explanation_tokens=explanation_tokens)


def run_ask(text: str, *, model: str | None, method: str | None, explain: bool, rag: bool,
            k: int, max_tokens: int, data_dir: Path | None, models_dir: Path | None,
            stream_to: IO[str] | None, notes_dir: Path | None = None) -> dict[str, Any]:
    q = parse_pasted(text)  # bad input fails here, before any model loads or notes are indexed
    if rag and notes_dir is not None:
        update_notes(notes_dir, data_dir)
    from probllms_tui.engine.load import open_engine

    engine = open_engine(model, models_dir=models_dir, method=method,
                         warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    try:
        notes = (open_notes(q, engine, data_dir=data_dir, k=k, explanation_tokens=max_tokens)
                 if rag else QuestionNotes())
        passages = notes.passages
        result = engine.score(q, passages)
        out: dict[str, Any] = {
            "answer": result.answer,
            "probabilities": {l: round(p, 4) for l, p in result.probabilities.items()},
            "calibrated": result.calibrated,
            "confidence_band": result.confidence_band,
            "method": result.method,
            "model": engine.name,
            "latency_ms": round(result.latency_ms, 1),
            "sources": [source_json(p) for p in passages],
            "evidence": evidence_json(notes.evidence) if shows_evidence(result.confidence_band, notes) else None,
        }
        if stream_to is not None:
            write_answer(stream_to, q, result, engine.name, notes)
        if explain:
            out["explanation"] = explain_answer(engine, q, result.answer, passages, max_tokens, stream_to,
                                                band=result.confidence_band)
        if stream_to is not None:
            if passages:
                stream_to.write("\nSources:\n" + "".join(f"  [{i}] {p.citation}\n"
                                                          for i, p in enumerate(passages, 1)))
            elif notes.note:
                stream_to.write(f"\n{notes.note}\n")
            elif rag and not notes.searched:  # no index yet: say how answers get to cite notes
                stream_to.write("\nNo notes index yet: `probllms-tui notes index DIR` (or `ask --notes DIR`) "
                                "lets answers cite your notes.\n")
        return out
    finally:
        engine.close()


def write_answer(out: IO[str], q, result, model_name: str, notes: QuestionNotes) -> None:
    band = result.confidence_band
    if not result.calibrated:
        head = f"Model picks {result.answer} (uncalibrated: the percentages are not measured)"
    elif band == "guessing":
        head = f"Not sure: the model is guessing ({result.answer} at {result.confidence:.0%}, near chance)"
    elif band == "unsure":
        head = f"Model leans to {result.answer} ({result.confidence:.0%}, unsure)"
    else:
        head = f"Answer: {result.answer}. {q.option(result.answer)} ({result.confidence:.0%}, confident)"
    out.write(head + "\n")
    for letter, opt in zip(q.letters, q.options):
        p = result.probabilities[letter]
        bar = "█" * round(p * 20)
        out.write(f"  {letter}  {p:6.1%} {bar:20}  {opt.splitlines()[0][:60]}\n")
    out.write(f"({result.method} scoring, {model_name}, {result.latency_ms:.0f} ms)\n")
    if shows_evidence(band, notes):
        p = notes.evidence
        out.write(f"\nYour notes, {p.citation}:\n  {excerpt(p.text)}\n")


def explain_answer(engine, q, pick: str, passages, max_tokens: int, stream_to: IO[str] | None,
                   *, band: str | None = None) -> str:
    """Stream the explanation through the citation guard (core/citations.py)."""
    guard = ExplanationGuard(pick, len(passages), q.letters)
    pieces: list[str] = []
    if stream_to is not None:
        stream_to.write(f"\n{explanation_heading(band, bool(passages))}:")
    tokens = 0
    for raw in engine.stream_explanation(q, pick, passages, max_tokens=max_tokens,
                                         should_stop=lambda: guard.stopped):
        tokens += 1
        piece = guard.feed(raw)
        pieces.append(piece)
        if stream_to is not None and piece:
            stream_to.write(piece)
            stream_to.flush()
    tail = guard.flush()
    if hit_length_limit(engine, tokens, max_tokens) and not guard.stopped:
        tail += " \u2026 (length limit: --max-tokens)"  # it ends mid-sentence: say so
    pieces.append(tail)
    if stream_to is not None:
        stream_to.write(tail + "\n")
    return "".join(pieces).strip()
