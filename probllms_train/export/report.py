"""The quality report: ``<name>.report.json``, ``<name>.report.md`` and the printed table."""

from __future__ import annotations

import json
import re
from pathlib import Path

from probllms_tui.core.registry import human_size
from probllms_train.export.quality import QuantQuality
from probllms_train.export.staging import write_text_atomic

# llama.cpp's published figures for LLaMA-3-8B (wikitext, `perplexity --kl-divergence`),
# the anchors this report is read against.
LLAMA_CPP_ANCHORS = {
    "Q8_0": {"kld_mean": 0.0014, "top1_agreement": 0.977},
    "Q4_K_M": {"kld_mean": 0.031, "top1_agreement": 0.919},
}


def _fmt(v, spec: str) -> str:
    width = int(re.match(r"\d*", spec).group() or 0)
    return f"{'-':>{width}}" if v is None else format(v, spec)


def table(rows: list[QuantQuality]) -> str:
    head = (f"{'QUANT':8} {'SIZE':>9} {'KLD':>9} {'KLD p99':>9} {'TOP-1':>7} "
            f"{'ACC':>6} {'FLIPS':>6}  N")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.quantization:8} {human_size(r.size_bytes):>9} {_fmt(r.kld_mean, '9.5f')} "
            f"{_fmt(r.kld_p99, '9.4f')} {_fmt(r.top1_agreement, '7.1%')} {_fmt(r.accuracy, '6.1%')} "
            f"{_fmt(r.flip_rate, '6.1%')}  {r.n_questions} q / {r.n_positions} pos"
        )
    return "\n".join(lines)


def write_report(models_dir: Path, name: str, meta: dict, rows: list[QuantQuality]) -> tuple[Path, Path]:
    data = {**meta, "anchors_llama3_8b": LLAMA_CPP_ANCHORS, "quantizations": [r.to_json() for r in rows]}
    json_path = models_dir / f"{name}.report.json"
    md_path = models_dir / f"{name}.report.md"
    write_text_atomic(json_path, json.dumps(data, indent=2) + "\n")
    md = [
        f"# Export report: {name}",
        "",
        f"- base model: {meta.get('base_model') or '-'}",
        f"- adapter run: {meta.get('adapter_run') or '-'}",
        f"- scoring method: {meta.get('scoring_method')}; prompt format: {meta.get('prompt_format')}",
        f"- questions: {meta.get('questions_source') or 'none'}",
        f"- importance matrix: {meta.get('imatrix')}",
        "",
        "Against the F16 GGUF on the same prompts. KLD: mean KL(P_f16 || P_quant) of the next-token",
        "distribution over every token position of the rendered prompts; top-1: how often both pick",
        "the same next token; flips: questions whose chosen answer differs from F16's.",
        "",
        "```",
        table(rows),
        "```",
        "",
        "llama.cpp's anchors for LLaMA-3-8B: Q8_0 KLD 0.0014, 97.7% same top token; "
        "Q4_K_M KLD 0.031, 91.9%.",
        "",
    ]
    write_text_atomic(md_path, "\n".join(md))
    return json_path, md_path
