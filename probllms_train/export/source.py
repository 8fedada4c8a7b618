"""What to export: a training run folder, a Hugging Face model folder, or a cached hub name.

A run folder holds ``run.json`` (written by ``probllms-train train``), read through the typed
``RunRecord`` (``train/run_record.py``): ``base_model`` (hub id or folder to merge into),
``base_model_label`` (what the manifest shows as the base, when recorded), ``adapter`` and
``tokenizer`` (folders relative to the run folder), ``recipe`` and ``status`` (only a
``finished`` run is exported). Nothing is downloaded: hub names must already be in the local
Hugging Face cache."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from probllms_tui.core.errors import InputError

TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json")
ADAPTER_CONFIG = "adapter_config.json"


@dataclass
class ExportSource:
    base_dir: Path            # a Hugging Face model folder (config, weights, tokenizer)
    base_model: str           # what the manifest records as the base (a label, hub id or path)
    adapter_dir: Path | None  # PEFT adapter to merge, None for a plain model
    tokenizer_dir: Path | None = None  # the tokenizer the run trained with, if saved apart
    adapter_run: str = ""     # the run folder, for the manifest
    recipe: str = ""
    default_name: str = ""


def _hub_snapshot(name: str) -> Path:
    """A hub id -> its folder in the local cache, never a download."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise InputError(
            f"{name!r} is neither a folder nor a model in the local Hugging Face cache "
            "(exports never download; pass a model folder)"
        ) from None


def _model_dir(ref: str, *, relative_to: Path | None = None) -> Path:
    p = Path(ref).expanduser()
    if not p.is_absolute() and relative_to is not None and (relative_to / p).exists():
        p = relative_to / p
    if p.is_dir():
        return p
    if p.exists():
        raise InputError("expected a model folder (config.json, weights, tokenizer)", where=str(p))
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return _hub_snapshot(ref)
    raise InputError("model folder not found", where=str(p))


def resolve_source(ref: str) -> ExportSource:
    """RUN_DIR | HF_MODEL_DIR | HF_NAME -> what to merge and convert."""
    p = Path(ref).expanduser()
    if p.is_dir() and (p / "run.json").is_file():
        from probllms_train.train.run_record import RunRecord

        run = RunRecord.load(p)
        if run.status != "finished":
            raise InputError(f"training run is {run.status!r}, not finished: resume it before exporting",
                             where=str(RunRecord.path(p)))
        if not run.base_model:
            raise InputError("run.json names no base model (key 'base_model')", where=str(RunRecord.path(p)))
        adapter = run.adapter_dir(p)
        if not (adapter / ADAPTER_CONFIG).is_file():
            raise InputError(f"no LoRA adapter ({ADAPTER_CONFIG}) found in {adapter}", where=str(RunRecord.path(p)))
        return ExportSource(
            base_dir=_model_dir(run.base_model, relative_to=p),
            base_model=run.base_model_label or run.base_model, adapter_dir=adapter,
            tokenizer_dir=run.tokenizer_dir(p),
            adapter_run=str(p.resolve()),
            recipe=run.recipe,
            default_name=p.resolve().name,
        )
    if p.is_dir() and (p / ADAPTER_CONFIG).is_file() and not (p / "config.json").is_file():
        base_ref = json.loads((p / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path", "")
        if not base_ref:
            raise InputError("adapter names no base model (base_model_name_or_path)", where=str(p / ADAPTER_CONFIG))
        return ExportSource(base_dir=_model_dir(base_ref), base_model=base_ref, adapter_dir=p,
                            adapter_run=str(p.resolve()), default_name=p.resolve().name)
    base_dir = _model_dir(ref)
    return ExportSource(base_dir=base_dir, base_model=ref, adapter_dir=None,
                        default_name=base_dir.resolve().name if p.is_dir() else ref.split("/")[-1])


def check_full_precision(base_dir: Path) -> None:
    """Refuse a base whose weights on disk are quantized: LoRA merges into bf16/fp32 only."""
    cfg_path = base_dir / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the model config ({exc})", where=str(cfg_path)) from None
    qcfg = cfg.get("quantization_config") or (cfg.get("text_config") or {}).get("quantization_config")
    if qcfg:
        method = qcfg.get("quant_method", "quantized") if isinstance(qcfg, dict) else "quantized"
        raise InputError(
            f"base model is {method}-quantized; merge the LoRA adapter into the bf16/fp32 base "
            "instead (a merge into quantized weights loses the adapter's precision)",
            where=str(cfg_path),
        )


def check_tokenizer(model_dir: Path) -> None:
    if not any((model_dir / f).is_file() for f in TOKENIZER_FILES):
        raise InputError(
            f"missing tokenizer files: need {' or '.join(TOKENIZER_FILES)} for the GGUF vocabulary",
            where=str(model_dir),
        )


def merge_adapter(source: ExportSource, out_dir: Path) -> Path:
    """Load the base in full precision, merge the LoRA adapter, save a plain HF folder."""
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = json.loads((source.base_dir / "config.json").read_text(encoding="utf-8"))
    # bf16 bases stay bf16 (half the memory of fp32 for a 7B merge); anything else merges in fp32.
    dtype = torch.bfloat16 if cfg.get("torch_dtype", cfg.get("dtype")) == "bfloat16" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(source.base_dir, dtype=dtype)
    model = PeftModel.from_pretrained(base, str(source.adapter_dir)).merge_and_unload()
    model.save_pretrained(out_dir, safe_serialization=True)
    # Later folders win: the tokenizer the run saved is the one it trained with.
    for d in (source.base_dir, source.adapter_dir, source.tokenizer_dir):
        if d is None:
            continue
        for f in d.iterdir():
            if f.name.startswith(("tokenizer", "special_tokens_map", "added_tokens")) and f.is_file():
                shutil.copy2(f, out_dir / f.name)
    return out_dir
