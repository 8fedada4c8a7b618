"""What to export: a training run folder, a Hugging Face model folder, or a cached hub name.

A run folder holds ``run.json`` (written by ``probllms-train train``) naming the base model
and the adapter. Keys read here, tolerant of spelling: ``base_model_label`` (what the manifest shows as the base, when the run
recorded one), ``base_model`` (hub id or path,
also ``base_model_path``/``model``), ``adapter_dir`` (also ``adapter``/``adapter_path``,
relative to the run folder; default: ``adapter/`` or the run folder itself when it holds
``adapter_config.json``), ``tokenizer`` (a folder with the tokenizer the run trained with),
``recipe`` and ``status`` (only a ``finished`` run is exported). Nothing is downloaded: hub names must already be in
the local Hugging Face cache.
"""

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


def _read_run_json(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"run.json is not valid JSON ({exc.msg})", where=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError("run.json must hold a JSON object", where=str(path))
    return data


def _first(data: dict, *keys: str) -> str:
    for k in keys:
        v = data.get(k)
        if isinstance(v, str) and v:
            return v
    return ""


def resolve_source(ref: str) -> ExportSource:
    """RUN_DIR | HF_MODEL_DIR | HF_NAME -> what to merge and convert."""
    p = Path(ref).expanduser()
    if p.is_dir() and (p / "run.json").is_file():
        run = _read_run_json(p)
        status = run.get("status", "finished")
        if status != "finished":
            raise InputError(f"training run is {status!r}, not finished: resume it before exporting",
                             where=str(p / "run.json"))
        base_ref = _first(run, "base_model", "base_model_path", "model", "model_name_or_path")
        if not base_ref:
            raise InputError("run.json names no base model (key 'base_model')", where=str(p / "run.json"))
        adapter_ref = _first(run, "adapter_dir", "adapter", "adapter_path")
        if adapter_ref:
            adapter = Path(adapter_ref) if Path(adapter_ref).is_absolute() else p / adapter_ref
        else:
            adapter = p / "adapter" if (p / "adapter" / ADAPTER_CONFIG).is_file() else p
        if not (adapter / ADAPTER_CONFIG).is_file():
            raise InputError(f"no LoRA adapter ({ADAPTER_CONFIG}) found in {adapter}", where=str(p / "run.json"))
        recipe = run.get("recipe", "")
        tok_ref = _first(run, "tokenizer", "tokenizer_dir")
        tokenizer_dir = (p / tok_ref) if tok_ref and (p / tok_ref).is_dir() else None
        return ExportSource(
            base_dir=_model_dir(base_ref, relative_to=p),
            base_model=_first(run, "base_model_label") or base_ref, adapter_dir=adapter,
            tokenizer_dir=tokenizer_dir,
            adapter_run=str(p.resolve()),
            recipe=recipe if isinstance(recipe, str) else json.dumps(recipe, sort_keys=True)[:200],
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
