"""probllms-train data: MCQ sets (`mcqa`, `check`) and preference pairs (`preference`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from probllms_tui.core.errors import InputError

data_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def guard_outputs(outputs: list[Path], inputs: list[Path | str | None], *, folder: Path | None = None) -> None:
    """Refuse, before any work, outputs that would overwrite an input (a build would replace
    the student's only copy of their rows) or that are the wrong kind of path (a folder where
    a file goes, and the other way round), which failed with a traceback after the build."""
    if folder is not None and folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder}: a file is there; the output is a folder")
    for out in outputs:
        if out.is_dir():
            raise InputError(f"--out {out}: a folder is there; give a file name")
    written = {o.resolve() for o in outputs}
    for given in inputs:
        if given and not str(given).startswith("hub:") and Path(given).resolve() in written:
            raise InputError(f"--out would overwrite the input {given}: write the output elsewhere")


@data_app.command("mcqa")
def mcqa(
    source: str = typer.Option(..., help="arc-easy | arc-challenge | mmlu-science | gsm8k | math"),
    out: Path = typer.Option(..., help="Output JSONL; a report goes next to it (OUT.report.json)."),
    split: Optional[str] = typer.Option(None, help="Hub split (train/validation/test...), or 'all' for every split "
                                        "(compared with the progress report's totals). Required for the hub, "
                                        "so eval never leaks into train; with --from it only labels the file."),
    from_path: Optional[Path] = typer.Option(None, "--from", help="Local rows (.jsonl/.json/.parquet) instead of the hub."),
    fmt: str = typer.Option("seed", "--format", help="seed (Question/Options/Answer text) or structured."),
    seed: int = typer.Option(0, help="Seed for distractors and shuffling."),
    limit: Optional[int] = typer.Option(None, min=1, help="Keep at most N questions (the rest are counted)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count malformed rows instead of stopping."),
    allow_degenerate: bool = typer.Option(False, "--allow-degenerate", help="Exit 0 even if the check finds a degenerate set."),
    exclude: list[Path] = typer.Option([], help="MCQ file(s) whose questions must not appear (e.g. the eval set). Repeatable."),
) -> None:
    """Build an MCQ set from ARC, MMLU (23 science subjects), GSM8K or MATH."""
    from probllms_train.data.mcqa.build import FORMATS, build_mcqa, write_mcqa

    if fmt not in FORMATS:  # before reading a whole hub split
        raise InputError(f"unknown format {fmt!r}; use seed or structured")
    guard_outputs([out, out.with_name(out.stem + ".report.json")], [from_path, *exclude])
    build = build_mcqa(source, split, from_path=from_path, seed=seed, limit=limit, skip_bad=skip_bad,
                       exclude=list(exclude))
    meta = {"source": source, "split": split, "seed": seed, "format": fmt,
            "from": str(from_path) if from_path else None, "exclude": [str(p) for p in exclude]}
    if split == "all":
        from probllms_train.data.mcqa.build import report_total_check

        meta["report_total_check"] = report_total_check(source, build.rows_read)
    report = write_mcqa(build, out, fmt, meta)
    _say(f"{out}: wrote {len(build.questions)} questions from {build.rows_read} rows "
         f"({build.drops.total()} dropped; see {report})")
    if split == "all":
        c = meta["report_total_check"]
        verdict = "matches" if c["matches_report"] else f"differs by {c['difference']:+d} from"
        _say(f"all splits: {c['rows_read']} rows read; {verdict} the progress report's {c['report_total']:,} "
             "(docs/data.md explains known differences)")
    for reason, n in sorted(build.drops.counts.items()):
        _say(f"  dropped {n}: {reason}")
    _report_check(build.check, allow_degenerate)


def _report_check(check, allow_degenerate: bool) -> None:
    for line in check.lines():
        _say(line)
    if check.degenerate and not allow_degenerate:
        _say("error: degenerate MCQ set (file kept; --allow-degenerate to accept it)")
        raise typer.Exit(1)


@data_app.command("check")
def check(
    file: Path = typer.Argument(..., help="MCQ file (seed JSONL, structured JSONL or CSV)."),
    max_answer_share: float = typer.Option(0.25, help="Flag one correct-answer text above this share of rows."),
    json_out: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Report a degenerate MCQ set (same answer text, letter imbalance, duplicates). Exit 1 if degenerate."""
    import json

    from probllms_train.data.mcqa.build import check_file

    result, skipped = check_file(file, max_answer_share=max_answer_share)
    if json_out:
        print(json.dumps({"file": str(file), "rows": result.n_rows, "skipped_rows": skipped,
                          "degenerate": result.degenerate, "findings": result.findings,
                          "stats": result.stats}, ensure_ascii=False, indent=2))
    else:
        print(f"{file}: {result.n_rows} questions" + (f", {skipped} malformed rows skipped" if skipped else ""))
        for line in result.lines():
            print(line)
    if result.degenerate:
        raise typer.Exit(1)


def _named(values: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        name, sep, rest = v.partition("=")
        if not sep or not name or not rest:
            raise InputError(f"{flag} expects NAME=VALUE, got {v!r}")
        out.append((name.strip(), rest.strip()))
    return out


@data_app.command("preference")
def preference(
    out: Path = typer.Option(..., help="Output folder: train.jsonl, student_train.jsonl, test.jsonl, report.json."),
    config: Optional[Path] = typer.Option(None, help="YAML recipe (see docs/data.md); flags below add to it."),
    student: list[str] = typer.Option([], help="Student annotations file (.json list or .jsonl). Repeatable."),
    qa: list[str] = typer.Option([], help="NAME=PATH of a QA corpus (pairs pass through, Q/A rows get corrupted). Repeatable."),
    stack_exchange: list[str] = typer.Option([], "--stack-exchange", help="Stack Exchange preferences file or hub:NAME. Repeatable."),
    sample: list[str] = typer.Option([], help="NAME=N budget for a source (e.g. camel-math=2500). Repeatable."),
    se_sites: Optional[str] = typer.Option(None, help="Comma-separated Stack Exchange sites to keep."),
    backend: Optional[str] = typer.Option(None, help="Corruption backend: rule | openai | gguf."),
    model: Optional[str] = typer.Option(None, help="API model name, or GGUF registry name/path."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible base URL (…/v1)."),
    api_key_env: Optional[str] = typer.Option(None, help="Name of the env var holding the API key."),
    cache: Optional[Path] = typer.Option(None, help="LLM call cache (SQLite); default OUT/llm_cache.sqlite."),
    workers: Optional[int] = typer.Option(None, min=1, help="Parallel API calls (openai backend)."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Longest rewrite an LLM backend may generate (default 1024)."),
    seed: Optional[int] = typer.Option(None, help="Seed (default 0)."),
    test_fraction: Optional[float] = typer.Option(None, help="Student test share (default 0.2)."),
    tokenizer: Optional[str] = typer.Option(None, help="Registry name/GGUF path for token lengths, or 'words'."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count malformed rows instead of stopping."),
    seed_exact: bool = typer.Option(False, "--seed-exact", help="The progress report's choices: per-pair "
                                    "uniform 80/20 split, Appendix A corruption prompts, its Stack Exchange "
                                    "sites and score rule (docs/data.md lists each difference)."),
) -> None:
    """Build DPO preference pairs (student annotations, corrupted QA, Stack Exchange)."""
    from probllms_train.data.preference.build import build_preference, write_preference
    from pydantic import ValidationError

    from probllms_train.data.preference.recipe import PreferenceRecipe, SourceSpec, load_recipe

    recipe = load_recipe(config) if config else PreferenceRecipe()
    upd = recipe.model_copy(deep=True)
    for i, path in enumerate(student):
        upd.student.append(SourceSpec(name="student" if not upd.student and i == 0 else f"student{i + 1}", path=path))
    upd.qa += [SourceSpec(name=n, path=p) for n, p in _named(qa, "--qa")]
    for i, path in enumerate(stack_exchange):
        upd.stack_exchange.append(SourceSpec(name="stack-exchange" + (f"{i + 1}" if i else ""), path=path))
    specs = {s.name: s for s in upd.sources()}
    for name, n in _named(sample, "--sample"):
        if name not in specs:
            raise InputError(f"--sample {name}=…: no source named {name!r} (sources: {', '.join(specs)})")
        if not n.isdigit() or int(n) < 1:
            raise InputError(f"--sample {name}={n}: expected a positive integer")
        specs[name].sample = int(n)
    if se_sites is not None:
        upd.se_sites = [s.strip() for s in se_sites.split(",") if s.strip()]
    c = upd.corruption
    for attr, value in (("backend", backend), ("model", model), ("base_url", base_url),
                        ("api_key_env", api_key_env), ("cache", str(cache) if cache else None),
                        ("workers", workers), ("max_tokens", max_tokens)):
        if value is not None:
            setattr(c, attr, value)
    for attr, value in (("seed", seed), ("test_fraction", test_fraction), ("tokenizer", tokenizer)):
        if value is not None:
            setattr(upd, attr, value)
    upd.skip_bad = upd.skip_bad or skip_bad
    if seed_exact:
        upd = upd.seed_exact()
    try:
        recipe = PreferenceRecipe.model_validate(upd.model_dump())  # re-validate the flags' values
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    inputs = [config, *[spec.path for spec in recipe.sources()]]
    guard_outputs([out / name for name in ("train.jsonl", "student_train.jsonl", "test.jsonl", "report.json")],
                  inputs, folder=out)
    build = build_preference(recipe, out)
    write_preference(build, out)
    w = build.report["written"]
    _say(f"{out}: train {w['train']}, student_train {w['student_train']}, test {w['test']} pairs; "
         f"{build.report['dropped']} dropped, {build.report['leakage']['removed_from_train']} leaked "
         f"prompts removed (report.json)")
    if recipe.split == "pair":
        _say(f"split per pair (--seed-exact): {build.report['leakage']['overlapping_prompts']} train pairs "
             "share a prompt with a test pair and are kept, as in the progress report")
    if recipe.qa and recipe.corruption.backend != "rule":
        _say(f"corruption: {build.llm_calls} LLM calls, {build.cache_hits} answered from the cache")
    for reason, d in build.report["drops"].items():
        _say(f"  dropped {d['count']}: {reason}")
