"""Retrieval quality of the notes index on real QA text nobody on this project wrote.

    python benchmarks/rag_retrieval.py            # all 144 rows of cs_theoryQA.jsonl
    python benchmarks/rag_retrieval.py --files 4  # spread the paragraphs over 4 note files

Every `chosen` answer of cs_theoryQA.jsonl (the evaluation data folder) becomes one paragraph of a long
note file without headings (the answers shuffled over a few files with a fixed seed); each
`prompt` question is then a query. A query hits when a returned chunk's line range holds
its answer paragraph. Prints top-5 hit rate (goal >= 95%, with a 95% Wilson interval) and
MRR@10 for hybrid (RRF), vectors alone and BM25 alone, all over the same index.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import require_shared_file, wilson_interval  # noqa: E402


def write_notes(rows: list[dict], folder: Path, n_files: int, seed: int,
                distractors: bool) -> list[tuple[str, int, int]]:
    """Answer paragraphs into ``n_files`` files; returns (display path, first, last line) per row.

    With ``distractors`` every `rejected` answer (a near copy of its `chosen` one, often with
    a wrong claim) also goes in, elsewhere: only the chosen paragraph counts as a hit.
    """
    items = [(i, "chosen") for i in range(len(rows))]
    items += [(i, "rejected") for i in range(len(rows))] if distractors else []
    random.Random(seed).shuffle(items)
    where: list[tuple[str, int, int]] = [("", 0, 0)] * len(rows)
    for f in range(n_files):
        lines: list[str] = []
        for i, field in items[f::n_files]:
            para = " ".join(rows[i][field].split())
            if field == "chosen":
                where[i] = (f"{folder.name}/course{f}.txt", len(lines) + 1, len(lines) + 1)
            lines += [para, ""]
        (folder / f"course{f}.txt").write_text("\n".join(lines))
    return where


def first_hit(passages, target: tuple[str, int, int]) -> int | None:
    path, first, last = target
    for rank, p in enumerate(passages, 1):
        a, b = (int(x) for x in p.meta.get("lines", "0-0").split("-"))
        if p.meta["path"] == path and a <= last and b >= first:
            return rank
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--limit", type=int, default=0, help="only the first N rows (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distractors", action="store_true", help="also index the `rejected` answers")
    args = ap.parse_args()
    source = require_shared_file("cs_theoryQA.jsonl")
    if source is None:
        return 0
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows

    from probllms_tui.rag.retrieve import open_retriever
    from probllms_tui.rag.service import build_index

    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes"
        notes.mkdir()
        targets = write_notes(rows, notes, args.files, args.seed, args.distractors)
        t0 = time.perf_counter()
        report = build_index(notes, Path(tmp) / "home")
        print(f"indexed {len(rows)} answer paragraphs{' + as many distractors' if args.distractors else ''} in {args.files} files -> {report['chunks_total']} chunks "
              f"({time.perf_counter() - t0:.1f} s, embedder load included)")
        retriever = open_retriever(Path(tmp) / "home")
        queries = [r["prompt"].removeprefix("Question:").strip() for r in rows]
        print(f"\n{'mode':8} {'n':>4} {'top-5 hit':>10} {'95% CI':>15} {'MRR@10':>7} {'top-1':>6}")
        for mode in ("hybrid", "vector", "bm25"):
            ranks = [first_hit(retriever.search(q, k=10, mode=mode), t) for q, t in zip(queries, targets)]
            hits5 = sum(1 for r in ranks if r is not None and r <= 5)
            mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
            top1 = sum(1 for r in ranks if r == 1) / len(ranks)
            lo, hi = wilson_interval(hits5, len(ranks))
            print(f"{mode:8} {len(ranks):4d} {hits5 / len(ranks):10.1%} {f'[{lo:.1%}, {hi:.1%}]':>15} "
                  f"{mrr:7.3f} {top1:6.1%}")
    print("\ngoal: hybrid top-5 hit rate >= 95%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
