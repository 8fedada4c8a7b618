"""`probllms-train bench`: mcqa (accuracy, calibration), calibrate, speed, judge (LLM-as-a-judge)
and reward (DPO).

Heavy imports stay inside the commands so `--help` is instant. User errors are raised as
ProbLLMsError; `run_cli` turns them into one line and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from probllms_tui.core.choices import CalibrationMethod, Method, value
from probllms_tui.core.errors import InputError

bench_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _warn(msg: str) -> None:
    print(msg, file=sys.stderr)


def _report_tools() -> None:
    """Import what the reports need (the training extra's scipy and matplotlib) before any
    scoring: a laptop install then fails in a second with the line naming the extra
    (probllms_train/cli.py), not after an hour of scoring."""
    import matplotlib  # noqa: F401
    import scipy.stats  # noqa: F401


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
    data: list[Path] = typer.Option(..., "--data", "-d", help="Question bank, any format the app reads (.jsonl .csv .xml .gift .aiken .txt .apkg .tsv). Repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (results.json, results.md, plots, runs/*/samples.jsonl)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="First N answered questions of each bank."),
    rag: bool = typer.Option(False, "--rag/--no-rag", help="--rag scores every model with AND without retrieved notes (paired)."),
    method: Method | None = typer.Option(None, "--method", help="Scoring method (default: the model's registered method; cloze for HF)."),
    k: int = typer.Option(3, "--k", min=1, help="Passages retrieved per question with --rag."),
    n_ctx: int = typer.Option(2048, "--n-ctx", min=128),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where the notes index lives (default: PROBLLMS_HOME)."),
    models_dir: Path | None = typer.Option(None, "--models-dir"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    threads: str | None = typer.Option(None, "--threads", help="GEN,BATCH llama.cpp threads for GGUF models (default: the engine's choice)."),
) -> None:
    """Accuracy (Wilson 95% CI), per-subject accuracy, latency, McNemar for paired runs."""
    from probllms_train.bench.mcqa import load_datasets, run_mcqa
    from probllms_train.bench.models import resolve_model

    _report_tools()
    method = value(method)
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


@bench_app.command("calibrate")
def calibrate_command(
    model: str = typer.Option(..., "--model", "-m", help="Registry name or .gguf path."),
    data: list[Path] = typer.Option([], "--data", "-d", help="Labelled bank to FIT on, any bank format (.jsonl .csv .xml .gift .aiken .txt .apkg .tsv). Repeatable."),
    report: list[Path] = typer.Option([], "--report", help="Labelled bank to REPORT on, never fitted (default: a held-out 30% of each --data)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder: calibration.json, calibration.md, reliability PNGs, raw/*.jsonl."),
    method: CalibrationMethod = typer.Option(CalibrationMethod.auto, "--method", help="auto: both, served by the better held-out accuracy (per option kind, text or numeric, where they differ)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="First N answered questions of each bank."),
    from_raw: Path | None = typer.Option(None, "--from-raw", help="Refit from a previous run's raw/ folder (no model is loaded)."),
    fit_sets: list[str] = typer.Option([], "--fit-set", help="With --from-raw: dataset names to fit on (default: all but --report-set)."),
    report_sets: list[str] = typer.Option([], "--report-set", help="With --from-raw: dataset names to report on."),
    label: list[str] = typer.Option([], "--label", help="SET=TEXT: how the app names a report set when it warns (e.g. 'mcqa_example=university science')."),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the calibration with the model (models manifest)."),
    save_builtin: bool = typer.Option(False, "--save-builtin", help="Maintainers: write the file shipped with the package for a built-in model."),
    n_ctx: int = typer.Option(2048, "--n-ctx", min=128),
    models_dir: Path | None = typer.Option(None, "--models-dir"),
    threads: str | None = typer.Option(None, "--threads", help="GEN,BATCH llama.cpp threads."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Fit calibrated probabilities for a model; report ECE/Brier/AUROC on sets it never saw."""
    from probllms_train.bench.calibrate import METHODS_FOR, calibrate, read_raw, save_builtin as write_builtin
    from probllms_train.bench.mcqa import load_datasets
    from probllms_train.bench.models import resolve_model

    _report_tools()
    method = value(method)
    methods = METHODS_FOR[method]
    spec = resolve_model(model, models_dir) if from_raw is None else None
    name = spec.name if spec else model
    if from_raw is not None:
        raw = read_raw(from_raw, methods)
        unknown = [s for s in [*fit_sets, *report_sets] if s not in raw]
        if unknown:
            raise InputError(f"no raw scores for {', '.join(unknown)}; found {', '.join(sorted(raw))}", where=str(from_raw))
        reports = {s: raw[s] for s in report_sets}
        fits = {s: raw[s] for s in (fit_sets or [s for s in raw if s not in report_sets])}
    else:
        if not data:
            raise InputError("give at least one --data bank to fit on (or --from-raw)")
        from probllms_tui.engine.load import open_engine
        from probllms_train.bench.calibrate import score_raw

        fit_ds = load_datasets(list(data), limit, warn=_warn)
        report_ds = load_datasets(list(report), limit, warn=_warn)
        engine = open_engine(spec.arg, models_dir=models_dir, n_ctx=n_ctx, threads=_parse_threads(threads),
                             calibrated=False)
        try:
            def scored(datasets):
                got = {}
                for ds in datasets:
                    got[ds.name] = score_raw(engine, ds.questions, ds.name, methods, out / "raw" / f"{ds.name}.jsonl",
                                             progress=_progress(ds.name) if progress else lambda i, n: None)
                return got
            fits, reports = scored(fit_ds), scored(report_ds)
        finally:
            engine.close()
    if set(fits) & set(reports):
        raise InputError(f"{', '.join(sorted(set(fits) & set(reports)))}: a set cannot be fitted on and reported on")
    labels = {}
    for item in label:
        key, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise InputError(f"--label {item!r}: expected SET=TEXT")
        labels[key.strip()] = text.strip()
    record = calibrate(fits, reports, method=method, model=name, out=out, labels=labels)
    print((out / "calibration.md").read_text(encoding="utf-8"))
    if save and spec is None:  # a refit from raw scores: store it if the name is a model here
        from probllms_tui.core.errors import ModelLoadError

        try:
            spec = resolve_model(model, models_dir)
        except ModelLoadError as exc:
            print(f"not stored with a model ({exc}); pass a registered name to store it, "
                  "or --no-save", file=sys.stderr)
    if save and spec is not None:
        from probllms_tui.core.paths import models_dir as resolve_models_dir
        from probllms_tui.core.registry import Registry

        registry = Registry(resolve_models_dir(models_dir))
        registry.set_calibration(name, {k: v for k, v in record.items() if k != "plots"})
        print(f"stored with {name} in {registry.manifest_path}")
    if save_builtin:
        print(f"wrote {write_builtin(name, record)}")
    print(f"wrote {out}/calibration.json, calibration.md and {len(record['plots'])} reliability diagrams")


def _progress(label: str):
    def report(i: int, n: int) -> None:
        if i == n or i % 25 == 0:
            print(f"  {label}: {i}/{n} scored", file=sys.stderr, flush=True)
    return report


@bench_app.command("speed")
def speed_command(
    model: list[str] = typer.Option(..., "--model", "-m", help="Registry name or .gguf path. Repeatable."),
    # The speed prompt is a real question layout padded to the length: under 32 tokens it
    # cannot fit its own frame (and a generation) in the context it sizes.
    prompt_tokens: int = typer.Option(256, "--prompt-tokens", min=32),
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
