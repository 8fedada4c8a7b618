"""Streaming speed inside the app against raw llama-cpp-python, in the same run.

The app figure is the tokens/s the status bar shows after an explanation streamed through
the whole UI path (worker thread -> messages -> MarkdownStream). The raw figure streams the
same prompt with the same sampling settings straight from `Llama.create_completion`. Both
count tokens after the first over the time since it (prompt processing excluded). Goal:
app >= 0.9x raw. Runs interleave (raw, app, raw, app, ...) so machine load hits both alike.

    python benchmarks/tui_streaming.py [--runs 3] [--max-tokens 96] [--model NAME|PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import EXPLANATION_STOPS, render_explanation_prompt

QUESTION = MCQ(
    stem="Which property makes a square matrix invertible?",
    options=("Its determinant is non-zero", "It is symmetric", "Its trace is zero", "It has a zero row"),
    answer="A", subject="linear algebra",
)


def raw_tokens_per_s(llm, prompt: str, max_tokens: int, temperature: float) -> tuple[float, int]:
    n, t_first = 0, 0.0
    stream = llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, top_p=0.95,
                                   repeat_penalty=1.1, stop=list(EXPLANATION_STOPS), stream=True, seed=0)
    for _chunk in stream:
        n += 1
        if n == 1:
            t_first = time.perf_counter()
    elapsed = time.perf_counter() - t_first
    return ((n - 1) / elapsed if n > 1 else 0.0), n


class SharedEngine:
    """The benchmark's engine, lent to each app run: the app must not close it."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        pass


async def app_tokens_per_s(engine, bank: Path, max_tokens: int, temperature: float) -> float:
    from probllms_tui.app.app import ProbLLMsApp
    from probllms_tui.app.config import AppConfig

    with tempfile.TemporaryDirectory() as home:
        config = AppConfig(data_dir=Path(home), banks=[bank], rag=False, use_builtin_bank=False,
                           engine_factory=lambda *a: SharedEngine(engine),
                           retriever_factory=lambda d: None)
        app = ProbLLMsApp(config)
        app.settings = app.settings.updated({"max_tokens": max_tokens, "temperature": temperature})
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.press(QUESTION.answer.lower())
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
            return app.tokens_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from probllms_tui.engine.load import open_engine

    engine = open_engine(args.model, n_ctx=1024)
    prompt = render_explanation_prompt(QUESTION, QUESTION.answer)
    raw, app = [], []
    with tempfile.TemporaryDirectory() as tmp:
        bank = Path(tmp) / "bank.jsonl"
        bank.write_text(json.dumps({"question": QUESTION.stem, "choices": list(QUESTION.options),
                                    "answer": QUESTION.answer, "subject": QUESTION.subject}) + "\n")
        try:
            raw_tokens_per_s(engine._llm, prompt, 8, args.temperature)  # warm-up
            for _ in range(args.runs):
                raw.append(raw_tokens_per_s(engine._llm, prompt, args.max_tokens, args.temperature)[0])
                app.append(asyncio.run(app_tokens_per_s(engine, bank, args.max_tokens, args.temperature)))
        finally:
            engine.close()
    r, a = statistics.median(raw), statistics.median(app)
    print(f"model: {engine.name} ({engine.quantization}), threads {engine.threads}, "
          f"max_tokens {args.max_tokens}, runs {args.runs} each (median)")
    print(f"raw llama-cpp-python : {r:6.1f} tok/s   runs: {', '.join(f'{x:.1f}' for x in raw)}")
    print(f"shown in the app     : {a:6.1f} tok/s   runs: {', '.join(f'{x:.1f}' for x in app)}")
    print(f"ratio app/raw        : {a / r:.2f}x (goal >= 0.9x) -> {'met' if a / r >= 0.9 else 'NOT met'}")


if __name__ == "__main__":
    main()
