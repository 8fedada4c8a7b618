"""MCQ accuracy with and without retrieved notes, on questions whose support is in the notes.

    python benchmarks/rag_mcq.py                       # built-in bank over the shipped notes/
    python benchmarks/rag_mcq.py --bank my.jsonl --notes ~/course --model NAME --limit 40

The built-in bank is written so that every answer is supported by a passage in the shipped
notes/ (probllms_tui/bank). The notes are indexed into a temporary data dir, then each
question is scored twice by the same engine: without passages, and with the top-k hybrid
passages fitted into half the context window by the one prompt formatter (exactly what
`probllms-tui ask` does). Prints accuracy with n and 95% Wilson intervals, the questions
flipped each way, and how often the retrieved notes came from the question's subject file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import wilson_interval  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=None, help="question bank (default: the built-in one)")
    ap.add_argument("--notes", type=Path, default=None, help="notes folder (default: the shipped notes/)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--method", default=None, help="letter or cloze (default: the model's manifest)")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    from probllms_tui.bank import builtin_bank_path
    from probllms_tui.core.paths import default_notes_dir
    from probllms_tui.core.readers import read_bank
    from probllms_tui.engine.load import open_engine
    from probllms_tui.rag.question_notes import notes_for_question
    from probllms_tui.rag.retrieve import open_retriever
    from probllms_tui.rag.service import build_index

    notes = args.notes or default_notes_dir()
    questions = [q for q in read_bank(args.bank or builtin_bank_path()).questions if q.answer]
    questions = questions[: args.limit] if args.limit else questions
    if not notes.is_dir() or not any(notes.iterdir()):
        print(f"skip: no notes in {notes}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as home:
        report = build_index(notes, Path(home), warn=lambda m: print(f"warning: {m}", file=sys.stderr))
        print(f"notes: {report['files_seen']} files -> {report['chunks_total']} chunks from {notes}")
        retriever = open_retriever(Path(home))
        engine = open_engine(args.model, method=args.method)
        try:
            correct = {"without notes": 0, "with notes": 0}
            gained, lost, same_subject, t0 = 0, 0, 0, time.perf_counter()
            for i, q in enumerate(questions, 1):
                if i % 10 == 0:
                    print(f"  ... {i}/{len(questions)}", file=sys.stderr, flush=True)
                # the app's rule: stem + options, budget, relevance floor
                passages = notes_for_question(retriever, q, k=args.k, n_ctx=engine.n_ctx,
                                              count_tokens=engine.count_tokens).passages
                bare = engine.score(q).answer == q.answer
                helped = engine.score(q, passages).answer == q.answer
                correct["without notes"] += bare
                correct["with notes"] += helped
                gained += helped and not bare
                lost += bare and not helped
                subject = (q.subject or "").lower()
                same_subject += bool(subject) and any(subject in p.meta["path"].lower() for p in passages[:1])
        finally:
            engine.close()
    n = len(questions)
    print(f"model {engine.name}, method {args.method or engine.default_method}, k={args.k}, "
          f"{time.perf_counter() - t0:.0f} s\n")
    for name, k in correct.items():
        lo, hi = wilson_interval(k, n)
        print(f"  {name:14} {k:3d}/{n} = {k / n:6.1%}   95% CI [{lo:.1%}, {hi:.1%}]")
    print(f"\n  flipped to correct by the notes: {gained}; flipped to wrong: {lost}")
    print(f"  top passage from the file named like the question's subject: {same_subject}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
