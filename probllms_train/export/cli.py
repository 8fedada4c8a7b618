"""``probllms-train export``: a training run or HF model -> registered GGUF models + a report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from probllms_tui.core.choices import Method, value

from probllms_tui.core.registry import DEFAULT_SCORING, human_size


def export_command(
    source: str = typer.Argument(..., help="RUN_DIR (with run.json), an HF model folder, or a cached HF name."),
    quant: str = typer.Option("q8_0,q4_k_m", "--quant", help="Comma-separated llama.cpp types (f16 keeps the F16 file)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name prefix (default: the run/model folder name)."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Where GGUF files and manifest.json go ($PROBLLMS_MODELS)."),
    imatrix: bool = typer.Option(False, "--imatrix", help="Quantize with an importance matrix from the MCQ prompts."),
    keep_f16: bool = typer.Option(False, "--keep-f16", help="Also publish and register the F16 GGUF."),
    data: Optional[Path] = typer.Option(None, "--data", help="MCQ bank for the quality report (default: the built-in bank)."),
    report_n: int = typer.Option(40, "--report-n", min=0, help="Questions used by the quality report (0: no report)."),
    scoring: Method = typer.Option(Method(DEFAULT_SCORING), "--scoring", help="Scoring method recorded and measured."),
) -> None:
    """Merge LoRA, convert to GGUF, quantize, register in models/ and report what quantization costs."""
    from probllms_tui.core.paths import models_dir as resolve_models_dir
    from probllms_train.export.pipeline import ExportOptions, run_export
    from probllms_train.export.quant_types import parse_quants
    from probllms_train.export.report import table

    scoring = value(scoring)
    quants, want_f16 = parse_quants(quant)
    opts = ExportOptions(source=source, models_dir=resolve_models_dir(models_dir), quants=quants,
                         keep_f16=keep_f16 or want_f16, name=name, imatrix=imatrix, data=data,
                         report_n=report_n, scoring_method=scoring)
    result = run_export(opts, log=lambda msg: typer.echo(msg, err=True))
    typer.echo(table(result.quality))
    for e in result.entries:
        typer.echo(f"registered {e.name}  ({e.file}, {human_size(e.size_bytes)})")
    typer.echo(f"report: {result.report_md}")
