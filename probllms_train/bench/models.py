"""What `--model NAME|PATH` opens: a GGUF through the engine, or an HF model / PEFT adapter
through transformers (for the cluster). Both expose ``score(q, passages, method)`` returning
the engine's ScoreResult and ``count_tokens``, so the benchmark loop does not care which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from probllms_tui.core.errors import ModelLoadError

HF_WEIGHTS = ("*.safetensors", "*.bin")


@dataclass
class ModelSpec:
    """A resolved ``--model`` argument."""

    arg: str
    kind: str  # "gguf" | "hf" | "peft"
    name: str
    path: Path | None  # GGUF file, HF folder or adapter folder
    base: str = ""  # PEFT: the base model folder/name
    quantization: str = ""
    size_bytes: int = 0


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for pat in HF_WEIGHTS for f in folder.glob(pat))


def adapter_folder(path: Path) -> Path | None:
    """A PEFT adapter folder, or a training run folder holding one in ``adapter/``."""
    for cand in (path, path / "adapter"):
        if (cand / "adapter_config.json").exists():
            return cand
    return None


def adapter_base(adapter: Path) -> str:
    """The base model of an adapter: the run's run.json first, then PEFT's own record."""
    from probllms_tui.core.errors import InputError
    from probllms_train.train.run_record import RunRecord

    for run_dir in (adapter, adapter.parent):
        if RunRecord.exists(run_dir):
            try:
                base = RunRecord.load(run_dir).base_model
            except InputError as exc:
                raise ModelLoadError(str(exc)) from None
            if base:
                # Recorded relative to the run folder when it lives there (train/report.py).
                inside = run_dir / base
                return str(inside) if not Path(base).is_absolute() and inside.exists() else base
    cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = cfg.get("base_model_name_or_path") or ""
    if not base:
        raise ModelLoadError(f"{adapter}: adapter names no base model (run.json base_model or "
                             "adapter_config.json base_model_name_or_path)")
    return base


def resolve_model(arg: str, models_dir: Path | None = None) -> ModelSpec:
    p = Path(arg).expanduser()
    if p.is_dir():
        adapter = adapter_folder(p)
        if adapter is not None:
            base = adapter_base(adapter)
            base_size = _folder_size(Path(base)) if Path(base).is_dir() else 0
            return ModelSpec(arg, "peft", p.name, adapter, base=base, quantization="adapter",
                             size_bytes=base_size + _folder_size(adapter))
        if (p / "config.json").exists():
            return ModelSpec(arg, "hf", p.name, p, quantization="HF",
                             size_bytes=_folder_size(p))
        raise ModelLoadError(f"{p}: folder is neither an HF model (config.json) nor a PEFT "
                             "adapter (adapter_config.json)")
    from probllms_tui.core.paths import models_dir as resolve_models_dir
    from probllms_tui.core.registry import Registry, gguf_quantization

    entry, path = Registry(resolve_models_dir(models_dir)).resolve(arg)  # unknown -> ModelLoadError
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    return ModelSpec(arg, "gguf", entry.name, path,
                     quantization=entry.quantization or gguf_quantization(path),
                     size_bytes=path.stat().st_size)


def open_scorer(spec: ModelSpec, *, n_ctx: int = 2048, method: str | None = None,
                models_dir: Path | None = None, threads: tuple[int, int] | None = None):
    """A ``ScoringTemplate`` (probllms_tui/engine/scoring.py): ``score``, ``score_many``,
    ``count_tokens``, ``close``, ``n_ctx``, the same requests whichever backend runs it."""
    if spec.kind == "gguf":
        from probllms_tui.engine.load import open_engine

        # The engine scores each question from an empty cache (engine/llama.py),
        # so predictions do not depend on question order; tests/engine checks it.
        return open_engine(spec.arg, models_dir=models_dir, n_ctx=n_ctx, method=method, threads=threads)
    from probllms_train.bench.hf_scorer import HFScorer

    return HFScorer.load(spec, n_ctx=n_ctx, method=method or "cloze")
