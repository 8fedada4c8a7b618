"""Accuracy of the scoring methods on real ARC questions, with the default (or any) model.

    python benchmarks/scoring_methods.py                 # 300 rows of ARC-Easy and ARC-Challenge
    python benchmarks/scoring_methods.py --limit 100 --model path/to/model.gguf

For each question it runs the engine's letter scoring once and the engine's cloze pass once
(the option log-likelihoods after the question and after the neutral prefix), then applies
every cloze normalisation (probllms_tui/engine/cloze.py) to the same numbers, so the
variants differ only in the normalisation. Prints n, accuracy, a 95% Wilson interval and
the method; the registry's DEFAULT_SCORING / DEFAULT_CLOZE_NORM come from these numbers.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import require_shared_file, wilson_interval  # noqa: E402

from probllms_tui.core.readers import read_bank  # noqa: E402
from probllms_tui.engine.cloze import CLOZE_NORMS, normalise  # noqa: E402
from probllms_tui.engine.load import open_engine  # noqa: E402

print = functools.partial(print, flush=True)  # noqa: A001 - long runs: show rows as they finish


def evaluate(engine, questions) -> tuple[dict[str, int], Counter]:
    correct = {m: 0 for m in ["letter"] + [f"cloze/{n}" for n in CLOZE_NORMS]}
    letter_picks: Counter = Counter()
    for i, q in enumerate(questions, 1):
        if i % 50 == 0:
            running = ", ".join(f"{m} {k / (i - 1):.3f}" for m, k in correct.items())
            print(f"  ... {i - 1} rows: {running}")
        letter = engine.score(q, method="letter").answer
        letter_picks[letter] += 1
        correct["letter"] += letter == q.answer
        options = engine.cloze_likelihoods(q, unconditional=True)
        for norm in CLOZE_NORMS:
            scores = normalise(options, norm)
            correct[f"cloze/{norm}"] += max(scores, key=scores.get) == q.answer
    return correct, letter_picks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300, help="rows per dataset (first N usable)")
    ap.add_argument("--model", default=None, help="registry name or GGUF path (default model)")
    ap.add_argument("--data", nargs="*", default=["ARC-Easy_mcqa.jsonl", "ARC-Challenge_mcqa.jsonl"])
    args = ap.parse_args()

    engine = open_engine(args.model, n_ctx=1024)
    try:
        print(f"model {engine.name} ({engine.quantization}), threads {engine.threads}, "
              f"engine default: {engine.default_method} (cloze norm {engine.cloze_norm})")
        print(f"{'dataset':26} {'n':>4}  {'accuracy':>8}  {'95% CI':>13}  method")
        for name in args.data:
            path = require_shared_file(name)
            if path is None:
                continue
            bank = read_bank(path)
            questions = [q for q in bank.questions if q.answer][: args.limit]
            t0 = time.perf_counter()
            correct, picks = evaluate(engine, questions)
            n = len(questions)
            for method, k in correct.items():
                lo, hi = wilson_interval(k, n)
                print(f"{path.stem:26} {n:4}  {k / n:8.3f}  [{lo:.3f}, {hi:.3f}]  {method}")
            share = ", ".join(f"{l}:{c / n:.0%}" for l, c in sorted(picks.items()))
            print(f"{'':26} letter picks {share}; chance {sum(1 / len(q.options) for q in questions) / n:.3f}; "
                  f"{time.perf_counter() - t0:.0f} s")
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
