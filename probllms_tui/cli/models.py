"""`probllms-tui models`: list every model on disk, add one by reference, pull one from the hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from probllms_tui.core.choices import Method, value
from probllms_tui.core.errors import InputError

models_app = typer.Typer(no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False)

ModelsDirOpt = typer.Option(None, "--models-dir", help="Folder of GGUF models and manifest.json ($PROBLLMS_MODELS).")


def _models_dir(override: Path | None) -> Path:
    from probllms_tui.core.paths import models_dir

    return models_dir(override)


@models_app.callback(invoke_without_command=True)
def list_models(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    models_dir: Optional[Path] = ModelsDirOpt,
) -> None:
    """List every model: the registry's, and those Ollama, LM Studio, the Hugging Face cache and
    GPT4All keep on disk (used in place, never copied)."""
    if ctx.invoked_subcommand is not None:
        return
    from probllms_tui.core.catalog import catalog, params_label
    from probllms_tui.core.paths import data_dir
    from probllms_tui.core.registry import human_size

    where = _models_dir(models_dir)
    rows = catalog(where, data_dir=data_dir())
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'NAME':44} {'SOURCE':10} {'ARCH':10} {'PARAMS':>6} {'QUANT':7} {'SIZE':>8}  {'CALIBRATED':10}  NOTE")
    uncalibrated = []
    for r in rows:
        name = r["name"] + (" (default)" if r["default"] else "")
        note = f"unusable: {r['problem']}" if r["problem"] else (
            "chat template" if r["chat_template"] else "")
        cal = r["calibration"]
        cal_text = (f"ECE {cal['ece']:.2f}" if isinstance(cal.get("ece"), (int, float)) else "yes") \
            if cal["calibrated"] else "no"
        if not cal["calibrated"] and not r["problem"]:
            uncalibrated.append(r["name"])
        print(f"{name:44} {r['source']:10} {r['architecture'] or '?':10} "
              f"{params_label(r['parameters'], r['size_label']):>6} {r['quantization'] or '?':7} "
              f"{human_size(r['size_bytes']) if r['size_bytes'] else '-':>8}  {cal_text:10}  {note}")
    print(f"\nmodels dir: {where}")
    if uncalibrated:
        print("uncalibrated models show percentages that were not measured; calibrate one on a bank "
              "with answer keys (needs the training extra: pip install -c constraints.txt -e \".[train]\"):\n"
              f"  probllms-train bench calibrate --model {uncalibrated[0]} --data BANK.jsonl --out calibration")


@models_app.command("add")
def add_command(
    path: Path = typer.Argument(..., help="A .gguf file; it stays where it is."),
    name: Optional[str] = typer.Option(None, "--name", help="Registry name (default: the file name)."),
    scoring: Optional[Method] = typer.Option(None, "--scoring", help="Scoring method for this model."),
    models_dir: Optional[Path] = ModelsDirOpt,
) -> None:
    """Register a GGUF by reference after checking that llama.cpp can open it."""
    from probllms_tui.core.registry import human_size
    from probllms_tui.core.register import add_model

    entry = add_model(path, name=name, scoring=value(scoring), models_dir=_models_dir(models_dir))
    print(f"added {entry.name}: {entry.file} ({entry.quantization or '?'}, {human_size(entry.size_bytes)})")


@models_app.command("pull")
def pull_command(
    repo: str = typer.Argument(..., help="Hugging Face repository, e.g. Qwen/Qwen2.5-1.5B-Instruct-GGUF."),
    file: Optional[str] = typer.Argument(None, help="The .gguf file in it (default: the only one, else Q4_K_M)."),
    name: Optional[str] = typer.Option(None, "--name", help="Registry name (default: the file name)."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Branch, tag or commit (default: main)."),
    models_dir: Optional[Path] = ModelsDirOpt,
) -> None:
    """Download a GGUF from the Hugging Face hub into the models dir, verify it, register it."""
    from probllms_tui.core.pull import pull_model
    from probllms_tui.core.registry import human_size

    if "/" not in repo or repo.count("/") > 1:
        raise InputError(f"{repo!r} is not a repository id (expected owner/name)", where="pull")
    entry = pull_model(repo, file, name=name, revision=revision, models_dir=_models_dir(models_dir))
    print(f"pulled {entry.name}: {entry.file} ({entry.quantization or '?'}, "
          f"{human_size(entry.size_bytes)}, sha256 {entry.sha256[:12]}… verified)")
