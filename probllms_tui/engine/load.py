"""Open the engine for a registry name or a path (the one place CLI, TUI and bench do it)."""

from __future__ import annotations

from pathlib import Path

from probllms_tui.core.calibration import OPTION_KINDS, Calibration, load_calibrations
from probllms_tui.core.choices import METHODS
from probllms_tui.core.paths import models_dir as resolve_models_dir
from probllms_tui.core.prompt import PROMPT_FORMAT
from probllms_tui.core.registry import Registry, gguf_quantization
from probllms_tui.engine.gguf_check import inspect_gguf
from probllms_tui.engine.llama import LlamaEngine
from probllms_tui.engine.probe import ensure_loadable


def open_engine(model: str | None = None, *, models_dir: str | Path | None = None,
                n_ctx: int = 2048, method: str | None = None,
                threads: tuple[int, int] | None = None,
                warn=lambda msg: None, calibrated: bool = True) -> LlamaEngine:
    registry = Registry(resolve_models_dir(models_dir))
    entry, path = registry.resolve(model)
    if entry.prompt_format and entry.prompt_format != PROMPT_FORMAT:
        warn(f"{entry.name} was trained on prompt format {entry.prompt_format!r}, "
             f"served with {PROMPT_FORMAT!r}: answers may be worse")
    if not entry.builtin:
        # Any file but the shipped default may be one that aborts llama.cpp: the header
        # check names the known causes at once, the child-process probe catches the rest.
        inspect_gguf(path)
        ensure_loadable(path)
    record, calibrations = calibration_for(registry, entry.name, warn) if calibrated else ({}, {})
    engine = LlamaEngine(path, name=entry.name,
                         quantization=entry.quantization or gguf_quantization(path),
                         n_ctx=n_ctx,
                         default_method=method or record.get("scoring_method") or entry.scoring_method,
                         threads=threads or entry.thread_counts())
    engine.calibrations = calibrations
    engine.calibration_record = record
    if not method:  # a method asked for serves every question; else the measured one per kind
        engine.method_by_kind = dict(record.get("scoring_method_by_kind") or {})
    return engine


def calibration_for(registry: Registry, name: str, warn) -> tuple[dict, dict[str, Calibration]]:
    """(record, method -> Calibration) for a model; a broken record warns and is ignored:
    the model then answers uncalibrated, and says so, rather than not at all."""
    try:
        record = registry.calibration(name) or {}
        check_method_by_kind(record.get("scoring_method_by_kind") or {})
        return record, load_calibrations(record.get("calibrations"))
    except (ValueError, TypeError, AttributeError, KeyError, OSError) as exc:
        warn(f"calibration of {name} ignored ({exc}); probabilities are uncalibrated")
        return {}, {}


def check_method_by_kind(by_kind: dict) -> None:
    if not isinstance(by_kind, dict):
        raise ValueError(f"scoring_method_by_kind is {type(by_kind).__name__}, not a mapping")
    for kind, method in by_kind.items():
        if kind not in OPTION_KINDS or method not in METHODS:
            raise ValueError(f"scoring_method_by_kind has {kind!r}: {method!r}; kinds are "
                             f"{', '.join(OPTION_KINDS)}, methods {', '.join(METHODS)}")
