"""Invented citations: how often does the model cite a source it was not shown, before and
after the guard (core/citations.py)?

    python benchmarks/citations.py            # 20 built-in questions, shipped notes, default model

Indexes the shipped notes in a temp data dir, then for each question retrieves notes exactly
as the app does, scores, and streams the explanation. Counts, per explanation: ``[n]`` with n
outside the shown sources and copied ``(path:lines)`` markers, in the raw model text and in
what the guard lets through; and explanations stopped for arguing for another letter.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

# Counted on their own terms (not the guard's patterns), as a reader would see a citation:
# [4], [1, 5], [2-4], [Source 4]; and a copied location, spaces in the path included.
BRACKET = re.compile(r"\[\s*(?:(?:sources?|passages?|notes?|refs?)\.?\s*)?(\d+(?:\s*(?:[,;\-\u2013]|and)\s*\d+)*)\s*\]",
                     re.IGNORECASE)
LOCATION = re.compile(r"\((?:[^()\n]{0,120}?\.[A-Za-z0-9]{1,5}(?::\d+(?:-\d+)?| p\.\s?\d+))\)")


def cited(inner: str) -> list[int]:
    numbers = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", inner):
        ends = [int(x) for x in re.split(r"\s*[-\u2013]\s*", part) if x]
        numbers.extend(range(ends[0], ends[-1] + 1) if len(ends) == 2 else ends)
    return numbers


def invented(text: str, n_sources: int) -> int:
    bad = sum(1 for m in BRACKET.finditer(text) for x in cited(m.group(1)) if not 1 <= x <= n_sources)
    return bad + len(LOCATION.findall(text))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    from probllms_tui.bank import builtin_bank_path
    from probllms_tui.core.citations import ExplanationGuard
    from probllms_tui.core.paths import default_notes_dir
    from probllms_tui.core.readers import read_bank
    from probllms_tui.engine.load import open_engine
    from probllms_tui.rag.question_notes import notes_for_question
    from probllms_tui.rag.retrieve import open_retriever
    from probllms_tui.rag.service import build_index

    questions = [q for q in read_bank(builtin_bank_path()).questions][: args.n]
    with tempfile.TemporaryDirectory() as home:
        build_index(default_notes_dir(), Path(home), warn=lambda m: print(f"warning: {m}", file=sys.stderr))
        retriever = open_retriever(Path(home))
        engine = open_engine(args.model)
        raw_bad = shown_bad = stopped = looped = with_notes = raw_with_bad = 0
        try:
            for i, q in enumerate(questions, 1):
                notes = notes_for_question(retriever, q, k=3, n_ctx=engine.n_ctx,
                                           count_tokens=engine.count_tokens, explanation_tokens=args.max_tokens)
                pick = engine.score(q, notes.passages).answer
                guard = ExplanationGuard(pick, len(notes.passages), q.letters)
                raw = "".join(engine.stream_explanation(q, pick, notes.passages, max_tokens=args.max_tokens))
                shown = guard.feed(raw) + guard.flush()
                n_raw, n_shown = invented(raw, len(notes.passages)), invented(shown, len(notes.passages))
                raw_bad += n_raw
                raw_with_bad += n_raw > 0
                shown_bad += n_shown
                stopped += guard.contradiction is not None
                looped += guard.looping
                with_notes += bool(notes.passages)
                print(f"{i:3} {q.id:12} sources={len(notes.passages)} invented raw={n_raw} shown={n_shown}"
                      f"{' STOPPED (argued for ' + guard.contradiction + ')' if guard.contradiction else ''}"
                      f"{' LOOPED (cut)' if guard.looping else ''}")
        finally:
            engine.close()
    n = len(questions)
    print(f"\n{n} explanations, {with_notes} with notes: invented citations in the model's text {raw_bad} "
          f"(in {raw_with_bad} explanations), shown to the student {shown_bad}; "
          f"{stopped} stopped for arguing against the pick, {looped} cut for repeating themselves")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
