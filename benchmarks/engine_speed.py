"""Engine speed against raw llama-cpp-python, measured in the same run on the same model.

    python benchmarks/engine_speed.py               # ~1-2 minutes on 2 idle cores
    python benchmarks/engine_speed.py --questions 50 --gen-tokens 96

1. Per-question latency (p50/p95) of ``engine.score`` with the default method.
2. Scoring overhead: the engine against raw llama-cpp-python decoding exactly the same token
   batches (question prefix, then each option on top of it after rolling the cache back).
   For cloze there are two raw baselines:
   - "raw+logits": llama-cpp-python's low-level API (llama_batch_init / llama_decode /
     llama_get_logits_ith) asking for logits at the same positions and turning them into
     the same log-likelihoods. This is the same work, so it is the goal's baseline; its
     log-likelihoods are also checked against the engine's.
   - "raw eval" (lower bound): plain ``Llama.eval``, which keeps no logits at all. The
     high-level API cannot return option log-likelihoods without ``logits_all`` (the output
     layer for every prompt token), so this skips the 262k x 640 output layer for each
     option token that cloze scoring cannot skip. It is reported, not used for the goal.
   Letter scoring needs nothing extra, so plain ``Llama.eval`` is its baseline.
3. Streaming: ``stream_explanation`` tokens/s against raw ``create_completion(stream=True)``
   on the same prompt with the same sampling settings.
4. Thread sweep: generation and prompt speed with 1 and 2 threads (engine/threads.py).
Engine and raw alternate question by question so load on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, shared_data_dir  # noqa: E402

import llama_cpp  # noqa: E402
import numpy as np  # noqa: E402

from probllms_tui.core.mcq import MCQ  # noqa: E402
from probllms_tui.core.prompt import (  # noqa: E402
    EXPLANATION_STOPS,
    cloze_continuation,
    render_cloze_prefix,
    render_explanation_prompt,
    render_letter_prompt,
)
from probllms_tui.core.readers import read_bank  # noqa: E402
from probllms_tui.engine.load import open_engine  # noqa: E402

FALLBACK = [  # used only when the evaluation data is absent, so the script still runs anywhere
    MCQ("Which gas do plants take in for photosynthesis?", ("oxygen", "carbon dioxide", "helium", "argon")),
    MCQ("Which planet is closest to the Sun?", ("Mercury", "Venus", "Earth", "Mars")),
    MCQ("What is the boiling point of water at sea level?", ("50 C", "100 C", "150 C", "200 C")),
]


def load_questions(n: int) -> list[MCQ]:
    path = shared_data_dir() / "ARC-Easy_mcqa.jsonl"
    if not path.is_file():
        print(f"note: {path} not found; timing {len(FALLBACK)} built-in questions instead")
        return FALLBACK
    return read_bank(path).questions[:n]


def raw_cloze(llm: llama_cpp.Llama, engine, q: MCQ) -> None:
    """Plain Llama.eval over the same batches the engine decodes for cloze scoring."""
    prefix = render_cloze_prefix(q)
    ctx = llm.tokenize(prefix.encode(), add_bos=True)
    llm.reset()
    llm.eval(ctx)
    for option in q.options:
        whole = llm.tokenize((prefix + cloze_continuation(option)).encode(), add_bos=True)
        cont = whole[len(ctx):]
        llm.n_tokens = len(ctx)
        if len(cont) > 1:
            llm.eval(cont[:-1])


def raw_cloze_logits(llm: llama_cpp.Llama, engine, q: MCQ) -> list[float]:
    """The same cloze log-likelihoods through llama-cpp-python's low-level API only."""
    ctx, mem = llm.ctx, llama_cpp.llama_get_memory(llm.ctx)
    n_vocab = llm.n_vocab()
    prefix = render_cloze_prefix(q)
    pre = llm.tokenize(prefix.encode(), add_bos=True)
    llama_cpp.llama_memory_clear(mem, True)
    batch = llama_cpp.llama_batch_init(max(len(pre), 512), 0, 1)
    try:
        def decode(tokens: list[int], n_past: int, logits_from: int) -> list[np.ndarray]:
            batch.n_tokens = len(tokens)
            for i, t in enumerate(tokens):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, n_past + i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = i >= logits_from or i == len(tokens) - 1
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
            return [np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,))
                    for i in range(len(tokens)) if i >= logits_from or i == len(tokens) - 1]

        last = decode(pre, 0, len(pre) - 1)[-1].copy()
        scores = []
        for option in q.options:
            whole = llm.tokenize((prefix + cloze_continuation(option)).encode(), add_bos=True)
            cont = whole[len(pre):]
            llama_cpp.llama_memory_seq_rm(mem, -1, len(pre), -1)
            rows = [last] + (decode(cont[:-1], len(pre), 0) if len(cont) > 1 else [])
            total = 0.0
            for row, tok in zip(rows, cont):
                m = row.max()
                total += float(row[tok] - m) - float(np.log(np.exp(row - m).sum(dtype=np.float64)))
            scores.append(total)
        return scores
    finally:
        llama_cpp.llama_batch_free(batch)
        llm.reset()


def raw_letter(llm: llama_cpp.Llama, engine, q: MCQ) -> None:
    llm.reset()
    llm.eval(llm.tokenize(render_letter_prompt(q).encode(), add_bos=True))


def bench_scoring(engine, questions: list[MCQ], method: str) -> None:
    llm = engine._llm
    raws = {"raw+logits": raw_cloze_logits, "raw eval": raw_cloze} if method == "cloze" else {"raw eval": raw_letter}
    times: dict[str, list[float]] = {"engine": [], **{k: [] for k in raws}}
    latencies, max_diff = [], 0.0
    for i, q in enumerate(questions):
        order = ["engine", *raws]
        order = order[i % len(order):] + order[:i % len(order)]  # rotate so load hits all alike
        for who in order:
            llm.reset()  # no prefix left over from the previous question: same tokens for all
            t0 = time.perf_counter()
            if who == "engine":
                r = engine.score(q, method=method)
                latencies.append(r.latency_ms)
            else:
                out = raws[who](llm, engine, q)
            times[who].append(time.perf_counter() - t0)
            if who == "raw+logits":
                ours = [o.logprob for o in engine.cloze_likelihoods(q).values()]
                max_diff = max(max_diff, max(abs(a - b) for a, b in zip(ours, out)))
    ratios = []
    for who in raws:
        total = sum(times["engine"]) / sum(times[who])
        per_q = statistics.median(e / r for e, r in zip(times["engine"], times[who]))
        ratios.append(f"engine/{who} total {total:.3f}x, median per question {per_q:.3f}x")
    print(f"{method:6} n={len(questions):3}  latency p50 {percentile(latencies, 50):6.0f} ms  "
          f"p95 {percentile(latencies, 95):6.0f} ms | " + "; ".join(ratios) + "  (goal <= 1.10x against the first)")
    if method == "cloze":
        print(f"       raw+logits log-likelihoods match the engine's within {max_diff:.2e} nats")


def generation_tps(stream) -> tuple[float, int]:
    """Tokens/s after the first token (prompt time excluded) and the token count."""
    n, t_first, t_last = 0, None, None
    for _ in stream:
        n += 1
        t_last = time.perf_counter()
        t_first = t_first or t_last
    return ((n - 1) / (t_last - t_first) if n > 1 and t_last > t_first else 0.0), n


def bench_streaming(engine, q: MCQ, max_tokens: int, rounds: int) -> None:
    llm = engine._llm
    prompt = render_explanation_prompt(q, "B")
    eng, raw = [], []
    for i in range(rounds):
        for who in (("engine", "raw") if i % 2 == 0 else ("raw", "engine")):
            llm.reset()
            if who == "engine":
                stream = engine.stream_explanation(q, "B", max_tokens=max_tokens, temperature=0.2)
                eng.append(generation_tps(stream))
            else:
                stream = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.2, top_p=0.95,
                                               repeat_penalty=1.1, stop=list(EXPLANATION_STOPS), stream=True, seed=0)
                raw.append(generation_tps(stream))
    e, r = statistics.median(t for t, _ in eng), statistics.median(t for t, _ in raw)
    print(f"stream {rounds} rounds, {eng[0][1]} vs {raw[0][1]} tokens: engine {e:.1f} tok/s, "
          f"raw create_completion {r:.1f} tok/s, ratio {e / r:.3f}x  (goal >= 0.9x)")


def bench_threads(engine, q: MCQ, max_tokens: int) -> None:
    llm = engine._llm
    prompt = render_explanation_prompt(q, "B")
    tokens = llm.tokenize(((prompt + " ") * 3).encode("utf-8"))[:384]  # a few hundred tokens of prompt work
    gen, pp = {}, {}
    for n in (1, 2, 1, 2):  # twice each, interleaved, keep the best (least disturbed) run
        llama_cpp.llama_set_n_threads(llm.ctx, n, n)
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        pp[n] = max(pp.get(n, 0.0), len(tokens) / (time.perf_counter() - t0))
        llm.reset()
        stream = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.2, stream=True, seed=0)
        gen[n] = max(gen.get(n, 0.0), generation_tps(stream)[0])
    llama_cpp.llama_set_n_threads(llm.ctx, *engine.threads)
    print(f"threads: generation 1 thread {gen[1]:.1f} tok/s, 2 threads {gen[2]:.1f} tok/s "
          f"(2/1 = {gen[2] / gen[1]:.2f}x); prompt 1 thread {pp[1]:.0f} tok/s, 2 threads {pp[2]:.0f} tok/s "
          f"(2/1 = {pp[2] / pp[1]:.2f}x); engine uses gen={engine.threads[0]}, batch={engine.threads[1]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default=None)
    ap.add_argument("--parts", default="scoring,stream,threads", help="comma-separated subset to run")
    args = ap.parse_args()
    questions = load_questions(args.questions)
    engine = open_engine(args.model, n_ctx=1024)
    try:
        print(f"model {engine.name} ({engine.quantization}), threads gen={engine.threads[0]} "
              f"batch={engine.threads[1]}, llama-cpp-python {llama_cpp.__version__}")
        parts = set(args.parts.split(","))
        if "scoring" in parts:
            bench_scoring(engine, questions, engine.default_method)
            bench_scoring(engine, questions[:10], "letter" if engine.default_method == "cloze" else "cloze")
        if "stream" in parts:
            bench_streaming(engine, questions[0], args.gen_tokens, args.rounds)
        if "threads" in parts:
            bench_threads(engine, questions[0], args.gen_tokens // 2)
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
