"""Where to put the relevance floor: how similar is the best passage for questions the notes
answer, and for questions they do not cover?

    python benchmarks/rag_relevance.py                 # shipped notes + built-in bank
    python benchmarks/rag_relevance.py --data DIR      # off-topic sets from another data folder

On-topic: the built-in bank (written from the shipped notes). Off-topic: college biology and
chemistry questions of the MMLU-style example set and GSM8K word problems (the notes hold no
biology, chemistry or grade-school arithmetic), read from ``--data`` when present (skipped
otherwise). Each question is searched exactly as the app searches (rag/question_notes.py:
stem + options, k=3); its relevance is the best passage's cosine to the query.

Prints, for each candidate floor, the share of on-topic questions that keep >= 1 source
(goal >= 90%) and of off-topic ones that keep none (goal >= 80%).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data_dir  # noqa: E402

OFF_TOPIC = {  # file -> subjects (None: every row) taken as outside the shipped notes
    "mcqa_example.jsonl": {"college_biology", "college_chemistry"},
    "gsm8k_mcqa.jsonl": None,
}


def best_similarity(retriever, questions, k: int = 3) -> list[float]:
    from probllms_tui.rag.question_notes import question_query, similarity

    return [max((similarity(p) for p in retriever.search(question_query(q), k=k)), default=0.0)
            for q in questions]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir(), help="folder with the off-topic sets")
    ap.add_argument("--limit", type=int, default=200, help="questions per off-topic file")
    args = ap.parse_args()

    from probllms_tui.bank import builtin_bank_path
    from probllms_tui.core.paths import default_notes_dir
    from probllms_tui.core.readers import read_bank
    from probllms_tui.rag.question_notes import RELEVANCE_FLOOR
    from probllms_tui.rag.retrieve import open_retriever
    from probllms_tui.rag.service import build_index

    on_topic = [q for q in read_bank(builtin_bank_path()).questions]
    off_topic = []
    for name, subjects in OFF_TOPIC.items():
        path = args.data / name if args.data else None
        if path is None or not path.is_file():
            print(f"skip: {name}: not found (--data or PROBLLMS_SHARED_DATA)", file=sys.stderr)
            continue
        rows = [q for q in read_bank(path).questions if subjects is None or q.subject in subjects]
        off_topic += rows[: args.limit]
    with tempfile.TemporaryDirectory() as home:
        build_index(default_notes_dir(), Path(home), warn=lambda m: print(f"warning: {m}", file=sys.stderr))
        retriever = open_retriever(Path(home))
        on = best_similarity(retriever, on_topic)
        off = best_similarity(retriever, off_topic)

    def pct(values, q):
        s = sorted(values)
        return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")

    print(f"on-topic  n={len(on):4}  best cosine p10 {pct(on, .1):.3f}  p50 {pct(on, .5):.3f}  p90 {pct(on, .9):.3f}")
    if off:
        print(f"off-topic n={len(off):4}  best cosine p10 {pct(off, .1):.3f}  p50 {pct(off, .5):.3f}  p90 {pct(off, .9):.3f}")
    print("\nfloor | on-topic with sources (goal >= 0.90) | off-topic without (goal >= 0.80)")
    for floor in [x / 100 for x in range(20, 62, 2)]:
        kept = sum(s >= floor for s in on) / len(on)
        dropped = sum(s < floor for s in off) / len(off) if off else float("nan")
        mark = "  <- shipped" if abs(floor - RELEVANCE_FLOOR) < 1e-9 else ""
        print(f" {floor:.2f} | {kept:.3f} | {dropped:.3f}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
