"""`probllms-train bench`: mcqa (accuracy), speed, judge (LLM-as-a-judge) and reward (DPO).

Heavy imports stay inside the commands so `--help` is instant. User errors are raised as
ProbLLMsError; `run_cli` turns them into one line and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from probllms_tui.core.errors import InputError

bench_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _warn(msg: str) -> None:
    print(msg, file=sys.stderr)


def _parse_threads(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    gen, _, batch = value.partition(",")
    try:
        return max(1, int(gen)), max(1, int(batch or gen))
    except ValueError:
        raise InputError(f"--threads {value!r}: expected GEN or GEN,BATCH (e.g. 1,2)") from None


@bench_app.command("mcqa")
def mcqa_command(
    model: list[str] = typer.Option(..., "--model", "-m", help="Registry name, .gguf path, HF model folder, or PEFT adapter / run folder. Repeatable."),
    data: list[Path] = typer.Option(..., "--data", "-d", help="Question bank (.jsonl / .csv). Repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (results.json, results.md, plots, runs/*/samples.jsonl)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="First N answered questions of each bank."),
    rag: bool = typer.Option(False, "--rag/--no-rag", help="--rag scores every model with AND without retrieved notes (paired)."),
    method: str | None = typer.Option(None, "--method", help="letter | cloze (default: the model's registered method; cloze for HF)."),
    k: int = typer.Option(3, "--k", min=1, help="Passages retrieved per question with --rag."),
    n_ctx: int = typer.Option(2048, "--n-ctx", min=128),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where the notes index lives (default: PROBLLMS_HOME)."),
    models_dir: Path | None = typer.Option(None, "--models-dir"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    threads: str | None = typer.Option(None, "--threads", help="GEN,BATCH llama.cpp threads for GGUF models (default: the engine's choice)."),
) -> None:
    """Accuracy (Wilson 95% CI), per-subject accuracy, latency, McNemar for paired runs."""
    from probllms_tui.engine.base import METHODS
    from probllms_train.bench.mcqa import load_datasets, run_mcqa
    from probllms_train.bench.models import resolve_model

    if method is not None and method not in METHODS:
        raise InputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    thread_counts = _parse_threads(threads)
    specs = [resolve_model(m, models_dir) for m in model]  # unknown model -> one-line error, before any work
    datasets = load_datasets(list(data), limit, warn=_warn)
    retriever = None
    if rag:
        from probllms_tui.core.paths import data_dir as resolve_data_dir
        from probllms_tui.rag.retrieve import open_retriever

        where = resolve_data_dir(data_dir)
        retriever = open_retriever(where)
        if retriever is None:
            raise InputError(f"no notes index in {where}; build one with `probllms-tui notes index` "
                             "or run with --no-rag", where="--rag")
    try:
        results = run_mcqa(specs, datasets, out=out, rag_settings=[False, True] if rag else [False],
                           method=method, retriever=retriever, k=k, n_ctx=n_ctx,
                           models_dir=models_dir, progress=progress, threads=thread_counts)
    except KeyboardInterrupt:
        _warn(f"interrupted: partial results written to {out}/results.json")
        raise typer.Exit(130) from None
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"wrote {out}/results.json, results.md, {', '.join(results['plots'])}")


@bench_app.command("speed")
def speed_command(
    model: list[str] = typer.Option(..., "--model", "-m", help="Registry name or .gguf path. Repeatable."),
    prompt_tokens: int = typer.Option(256, "--prompt-tokens", min=8),
    gen_tokens: int = typer.Option(64, "--gen-tokens", min=2),
    threads: str | None = typer.Option(None, "--threads", help="GEN,BATCH threads (default: the engine's choice)."),
    repeats: int = typer.Option(2, "--repeats", min=1, help="Best of N for each timing."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write speed.json and speed.md here."),
    models_dir: Path | None = typer.Option(None, "--models-dir"),
) -> None:
    """Prompt and generation tokens/s, time to first token, peak RSS, file size; each vs raw llama-cpp-python."""
    from probllms_train.bench.models import resolve_model
    from probllms_train.bench.speed import run_speed, speed_markdown

    specs = [resolve_model(m, models_dir) for m in model]
    for s in specs:
        if s.kind != "gguf":
            raise InputError(f"bench speed measures GGUF models through llama.cpp; {s.arg} is {s.kind}")
    rows = run_speed(specs, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens,
                     threads=_parse_threads(threads), repeats=repeats, models_dir=models_dir)
    text = speed_markdown(rows)
    print(text)
    if out:
        import json

        out.mkdir(parents=True, exist_ok=True)
        (out / "speed.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        (out / "speed.md").write_text(text, encoding="utf-8")


@bench_app.command("judge")
def judge_command(
    data: Path = typer.Option(..., "--data", "-d", help="mcq: question bank; open: student-annotated file "
                              "(question_complete records, JSON list or JSONL)."),
    out: Path = typer.Option(..., "--out", "-o"),
    mode: str = typer.Option("mcq", "--mode", help="mcq: explanations of the given answer; open: the model's "
                             "own reasoned answers to sampled questions (the progress report's protocol)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the question sample (open mode)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model that writes the answers (GGUF)."),
    judge_url: str | None = typer.Option(None, "--judge-url", help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1"),
    judge_model: str = typer.Option("gpt-4o-mini", "--judge-model", help="Model name sent to the endpoint."),
    judge_key_env: str = typer.Option("OPENAI_API_KEY", "--judge-key-env", help="Env var holding the API key (never logged)."),
    judge_gguf: str | None = typer.Option(None, "--judge-gguf", help="Local GGUF judge (name or path) instead of an endpoint."),
    judge_cache: Path | None = typer.Option(None, "--judge-cache", help="SQLite cache of endpoint verdicts (a rerun makes no calls)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    max_tokens: int = typer.Option(96, "--max-tokens", min=8),
    k: int = typer.Option(3, "--k", min=1),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
    models_dir: Path | None = typer.Option(None, "--models-dir"),
) -> None:
    """Pairwise judge: answer/explanation with RAG vs without, both positions, win/tie/loss."""
    from probllms_train.bench.judge import run_judge_command

    if (judge_url is None) == (judge_gguf is None):
        raise InputError("give exactly one judge: --judge-url URL or --judge-gguf NAME|PATH")
    run_judge_command(data=data, out=out, model=model, judge_url=judge_url, judge_model=judge_model,
                      judge_key_env=judge_key_env, judge_gguf=judge_gguf, limit=limit,
                      max_tokens=max_tokens, k=k, data_dir=data_dir, models_dir=models_dir, mode=mode,
                      seed=seed, judge_cache=judge_cache, warn=_warn)


@bench_app.command("reward")
def reward_command(
    run: Path = typer.Option(..., "--run", help="Training run folder (adapter + run.json) or adapter folder."),
    pairs: Path = typer.Option(..., "--pairs", help="Held-out preference pairs JSONL: prompt, chosen, rejected."),
    beta: float | None = typer.Option(None, "--beta", help="DPO beta (default: run.json's)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write reward.json and per-pair rewards here."),
) -> None:
    """DPO reward accuracy: share of pairs where beta*(log pi - log pi_ref) ranks chosen above rejected."""
    from probllms_train.bench.reward import reward_accuracy_for_run

    result = reward_accuracy_for_run(run, pairs, beta=beta, limit=limit, out=out)
    print(f"reward accuracy {result['reward_accuracy']:.3f} [{result['ci95'][0]:.3f}, {result['ci95'][1]:.3f}] "
          f"on n={result['n']} pairs; mean margin {result['mean_margin']:.4f} (beta={result['beta']})")
