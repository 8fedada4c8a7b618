"""`bench speed`: how fast a GGUF model runs through the engine, against raw llama-cpp-python
on the same file, threads and prompt in the same run.

Each (model, backend) is measured in its own child process, so peak RSS belongs to that model
alone and a bad file cannot take the benchmark down with it.
- prompt tokens/s: evaluate an N-token MCQ prompt from an empty cache (engine: letter scoring,
  its real prompt path; raw: ``Llama.eval``);
- time to first token and generation tokens/s: stream a completion of the explanation prompt
  (engine: ``stream_completion``; raw: ``create_completion(stream=True)``), greedy.
Best of ``repeats`` for each timing: on a shared machine the minimum is the least noisy.
"""

from __future__ import annotations

import resource
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage, render_explanation_prompt

_FILLER = ("Gradient descent moves the weights against the gradient of the loss; the step size "
           "sets how far each update goes, and too large a step makes the loss diverge. ")
_QUESTION = MCQ("Which step size makes gradient descent diverge on a quadratic loss?",
                ("Any positive step", "A step larger than two over the largest curvature",
                 "A step smaller than the inverse curvature", "Only a zero step"), "B")


def build_prompt(count_tokens, n_tokens: int) -> str:
    """The explanation prompt with a notes passage grown until the prompt has ~n_tokens."""
    text = ""
    while True:
        prompt = render_explanation_prompt(_QUESTION, "B", [Passage(text or _FILLER, "notes/optim.md:1-9")])
        if count_tokens(prompt) >= n_tokens:
            return prompt
        text += _FILLER


def _long_question(prompt: str) -> MCQ:
    """The prompt-speed probe: an MCQ whose stem is the long prompt (scored by letter)."""
    return MCQ(prompt, _QUESTION.options, "B")


def _best(fn, repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def _measure(path: str, backend: str, threads: tuple[int, int] | None, prompt_tokens: int,
             gen_tokens: int, repeats: int) -> dict:
    """Runs in a child process."""
    from probllms_tui.core.prompt import render_letter_prompt
    from probllms_tui.engine.llama import LlamaEngine
    from probllms_tui.engine.threads import choose_threads

    threads = threads or choose_threads()
    n_ctx = 2 * prompt_tokens + gen_tokens + 128  # the letter probe repeats the prompt's options
    if backend == "raw":  # only llama-cpp-python in this process: its RSS is the library's own
        from llama_cpp import Llama

        llm = Llama(model_path=path, n_ctx=n_ctx, n_batch=512, n_threads=threads[0],
                    n_threads_batch=threads[1], verbose=False, swa_full=True)
        prompt = build_prompt(lambda t: len(llm.tokenize(t.encode(), add_bos=False, special=False)),
                              prompt_tokens)
        tokens = llm.tokenize(render_letter_prompt(_long_question(prompt)).encode(), add_bos=True, special=False)

        def prompt_pass() -> float:
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(tokens)
            return time.perf_counter() - t0

        def stream():
            llm.reset()
            return (c["choices"][0]["text"] for c in llm.create_completion(
                prompt, max_tokens=gen_tokens, temperature=0.0, stream=True, seed=0))
        closer = llm.close
    else:
        engine = LlamaEngine(path, n_ctx=n_ctx, threads=threads)
        prompt = build_prompt(engine.count_tokens, prompt_tokens)
        long_q = _long_question(prompt)
        n_letter = len(engine.tokenize(render_letter_prompt(long_q)))

        def prompt_pass() -> float:
            engine._llm.reset()  # empty cache: time the whole prompt, as the raw side does
            return engine.score(long_q, (), "letter").latency_ms / 1000.0

        def stream():
            engine._llm.reset()
            return engine.stream_completion(prompt, max_tokens=gen_tokens, temperature=0.0)
        closer = engine.close

    def generation() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        t_first = t_last = None
        n = 0
        for _ in stream():
            t_last = time.perf_counter()
            t_first = t_first or t_last
            n += 1
        tps = (n - 1) / (t_last - t_first) if n > 1 else 0.0
        return (t_first - t0 if t_first else float("nan")), tps, n

    prompt_s = _best(prompt_pass, repeats)
    gens = [generation() for _ in range(repeats)]
    closer()
    n_prompt = len(tokens) if backend == "raw" else n_letter
    return {"backend": backend, "threads": list(threads), "prompt_tokens": n_prompt,
            "prompt_tps": n_prompt / prompt_s, "ttft_s": min(g[0] for g in gens),
            "gen_tps": max(g[1] for g in gens), "gen_tokens": max(g[2] for g in gens),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_in_child(path: str, backend: str, **kw) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(_measure, path, backend, **kw).result()
        except BrokenProcessPool:
            return {"backend": backend, "error": "the process loading the model died"}


def run_speed(specs, *, prompt_tokens: int, gen_tokens: int, threads, repeats: int,
              models_dir=None) -> list[dict]:
    rows = []
    for spec in specs:
        kw = dict(threads=threads, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, repeats=repeats)
        engine = measure_in_child(str(spec.path), "engine", **kw)
        raw = measure_in_child(str(spec.path), "raw", **kw)
        row = {"model": spec.name, "quantization": spec.quantization, "file_mb": spec.size_bytes / 1e6,
               "engine": engine, "raw": raw}
        if "error" not in engine and "error" not in raw:
            row["engine_vs_raw"] = {k: engine[k] / raw[k] if raw[k] else None
                                    for k in ("prompt_tps", "gen_tps", "ttft_s", "peak_rss_mb")}
        rows.append(row)
    return rows


def speed_markdown(rows: list[dict]) -> str:
    lines = ["| model | quant | file MB | backend | threads gen,batch | prompt tok/s | gen tok/s | TTFT s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for side in ("engine", "raw"):
            m = r[side]
            if "error" in m:
                lines.append(f"| {r['model']} | {r['quantization']} | {r['file_mb']:.0f} | {side} | | error: {m['error']} | | | |")
                continue
            lines.append(f"| {r['model']} | {r['quantization']} | {r['file_mb']:.0f} | {side} | "
                         f"{m['threads'][0]},{m['threads'][1]} | {m['prompt_tps']:.0f} | {m['gen_tps']:.1f} | "
                         f"{m['ttft_s']:.3f} | {m['peak_rss_mb']:.0f} |")
        if "engine_vs_raw" in r:
            v = r["engine_vs_raw"]
            lines.append(f"| {r['model']} | | | engine ÷ raw | | {v['prompt_tps']:.2f}x | {v['gen_tps']:.2f}x | "
                         f"{v['ttft_s']:.2f}x | {v['peak_rss_mb']:.2f}x |")
    lines.append("")
    lines.append("Ratios are engine ÷ raw llama-cpp-python in this run: above 1 is better for tok/s, "
                 "below 1 is better for TTFT and RSS.")
    return "\n".join(lines) + "\n"
