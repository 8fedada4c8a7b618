"""The export, step by step: check -> merge -> convert -> quantize -> measure -> publish.

Every check that can fail on the user's input (source, tokenizer, architecture, quantized
base, disk space, question file) runs before anything is written. Everything is built in a
staging folder and published only when all files were produced, validated and measured, so
an export either lands whole or leaves models/ as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import PROMPT_FORMAT, ollama_modelfile
from probllms_tui.core.registry import DEFAULT_SCORING, ModelEntry, Registry, sha256_file
from probllms_train.export import convert, quality, source
from probllms_train.export.quantize import compute_imatrix, quantize
from probllms_train.export.report import write_report
from probllms_train.export.staging import Staging, write_text_atomic



@dataclass
class ExportOptions:
    source: str
    models_dir: Path
    quants: list[str] = field(default_factory=lambda: ["Q8_0", "Q4_K_M"])
    keep_f16: bool = False
    name: str | None = None
    imatrix: bool = False
    data: Path | None = None
    report_n: int = 40
    scoring_method: str = DEFAULT_SCORING


@dataclass
class ExportResult:
    entries: list[ModelEntry]
    quality: list[quality.QuantQuality]
    report_json: Path
    report_md: Path


def model_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-.")
    if not name:
        raise InputError(f"cannot make a model name from {raw!r}; pass --name")
    return name


IMATRIX_PROMPTS = 128


def load_questions(data: Path | None, n: int) -> tuple[list[MCQ], list[MCQ], str]:
    """The quality report's questions (the first ``n``) and the imatrix calibration set.

    Why two sets: an importance matrix computed on the very prompts the report measures would
    flatter the quantization it shapes, so calibration uses the bank's other questions, and
    falls back to the report's own only when the bank has nothing else (the report says so).
    """
    from probllms_tui.core.readers import read_bank

    from probllms_tui.bank import builtin_bank_path

    builtin = builtin_bank_path()
    path = data or (builtin if builtin.is_file() else None)
    if path is None:
        return [], [], ""
    everything = read_bank(path, keep_duplicates=True).questions
    # 128 prompts: llama-imatrix's usual few hundred chunks of context, at CPU cost.
    questions, rest = everything[:n], everything[n:n + IMATRIX_PROMPTS]
    if data is not None and not questions:
        raise InputError("no usable questions for the quality report", where=str(data))
    return questions, rest or questions, f"{path} (first {len(questions)})"


def _existing_parent(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _validate(path: Path) -> None:
    from probllms_tui.engine.gguf_check import check_gguf

    try:
        check_gguf(path, n_ctx=512)
    except ModelLoadError as exc:
        raise ModelLoadError(f"the exported file failed validation: {exc}") from None


def _imatrix(hf_dir: Path, texts: list[str]) -> dict:
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hparams = ModelBase.load_hparams(hf_dir, False)
    arch_class = get_model_class(get_model_architecture(hparams, ModelType.TEXT))
    text_cfg = hparams.get("text_config", hparams)
    n_layers = text_cfg.get("num_hidden_layers") or hparams.get("num_hidden_layers")
    model = AutoModelForCausalLM.from_pretrained(hf_dir)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    return compute_imatrix(model, tokenizer, texts, arch_class=arch_class, n_layers=n_layers)


def run_export(opts: ExportOptions, log: Callable[[str], None] = print) -> ExportResult:
    src = source.resolve_source(opts.source)
    name = model_name(opts.name or src.default_name)
    # --- checks: nothing is written before they all pass -----------------------------------
    source.check_full_precision(src.base_dir)
    tokenizer_dirs = [d for d in (src.base_dir, src.adapter_dir, src.tokenizer_dir) if d]
    if not any(any((d / f).is_file() for f in source.TOKENIZER_FILES) for d in tokenizer_dirs):
        source.check_tokenizer(src.base_dir)
    arch = convert.architecture_of(src.base_dir)
    n_params = convert.parameter_count(src.base_dir)
    merged_bpp = convert.model_dtype_bytes(src.base_dir) if src.adapter_dir else 0.0
    need = convert.estimate_bytes(n_params, opts.quants, merged_copy_bytes_per_param=merged_bpp)
    convert.check_disk_space(_existing_parent(opts.models_dir), need)
    questions, calibration, questions_source = load_questions(opts.data, opts.report_n)
    texts = [quality.comparison_text(q) for q in questions]
    calibration_texts = [quality.comparison_text(q) for q in calibration]
    if opts.imatrix and not calibration_texts:
        raise InputError("--imatrix needs MCQ prompts: pass --data BANK (no built-in bank found)")
    log(f"exporting {src.base_model} ({arch}, {n_params / 1e6:.1f}M parameters)"
        + (f" + adapter {src.adapter_dir}" if src.adapter_dir else "") + f" as {name}")

    with Staging(opts.models_dir, name) as staging:
        hf_dir = src.base_dir
        if src.adapter_dir:
            log("merging the LoRA adapter into the full-precision base")
            hf_dir = source.merge_adapter(src, staging.path("merged"))
            source.check_tokenizer(hf_dir)
        imatrix = None
        if opts.imatrix:
            overlap = " (the report's own questions: the bank has no others)" if calibration is questions else \
                " (none of them in the quality report)"
            log(f"computing the importance matrix on {len(calibration_texts)} MCQ prompts{overlap}")
            imatrix = _imatrix(hf_dir, calibration_texts)
        log("converting to F16 GGUF (llama.cpp converter)")
        staged = {"F16": convert.convert_to_f16(hf_dir, staging.path(f"{name}-f16.gguf"), model_name=name)}
        _validate(staged["F16"])
        for q in opts.quants:
            log(f"quantizing to {q}")
            staged[q] = quantize(staged["F16"], staging.path(f"{name}-{q.lower()}.gguf"), q, imatrix=imatrix)
            _validate(staged[q])

        rows = [quality.QuantQuality(quantization=q, file=f"{name}-{q.lower()}.gguf",
                                     size_bytes=p.stat().st_size) for q, p in staged.items()]
        if questions:
            log(f"measuring quality against F16 on {len(questions)} questions")
            div = quality.next_token_divergence(staged["F16"], {q: staged[q] for q in opts.quants}, texts)
            answers = {q: quality.mcq_answers(p, questions, method=opts.scoring_method) for q, p in staged.items()}
            for row in rows:
                if row.quantization in div:
                    for k, v in div[row.quantization].items():
                        setattr(row, k, v)
                for k, v in quality.answer_stats(answers["F16"], answers[row.quantization], questions).items():
                    setattr(row, k, v)

        publish = [q for q in staged if q != "F16" or opts.keep_f16]
        entries = []
        registry = Registry(opts.models_dir)
        for q in publish:
            file_name = f"{name}-{q.lower()}.gguf"
            final = staging.publish(staged[q], file_name)
            write_text_atomic(opts.models_dir / f"Modelfile.{name}-{q.lower()}", ollama_modelfile(file_name))
            entry = ModelEntry(
                name=f"{name}-{q.lower()}", file=file_name, base_model=src.base_model, quantization=q,
                size_bytes=final.stat().st_size, sha256=sha256_file(final), prompt_format=PROMPT_FORMAT,
                scoring_method=opts.scoring_method, adapter_run=src.adapter_run,
            )
            registry.register(entry)
            entries.append(entry)
    meta = {"name": name, "base_model": src.base_model, "adapter_run": src.adapter_run,
            "recipe": src.recipe, "architecture": arch, "parameters": n_params,
            "scoring_method": opts.scoring_method, "prompt_format": PROMPT_FORMAT,
            "questions_source": questions_source, "imatrix": bool(imatrix),
            "imatrix_prompts": len(calibration_texts) if imatrix else 0,
            "imatrix_overlaps_report": bool(imatrix) and calibration is questions,
            "registered": [e.name for e in entries]}
    report_json, report_md = write_report(opts.models_dir, name, meta, rows)
    return ExportResult(entries=entries, quality=rows, report_json=report_json, report_md=report_md)
