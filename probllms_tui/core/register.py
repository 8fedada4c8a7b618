"""Adding a GGUF to the registry by reference: checked first, never copied."""

from __future__ import annotations

from pathlib import Path

from probllms_tui.core.discovery import is_discovered_name
from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.ftypes import ftype_name
from probllms_tui.core.registry import (
    DEFAULT_MODEL,
    DEFAULT_SCORING,
    ModelEntry,
    Registry,
)

from probllms_tui.core.choices import METHODS


def checked_entry(path: Path, *, name: str | None, scoring: str | None, file: str | None = None,
                  base_model: str = "", sha256: str = "") -> ModelEntry:
    """A manifest entry for ``path`` once its header passes and llama.cpp opened it in a child."""
    from probllms_tui.engine.gguf_check import inspect_gguf
    from probllms_tui.engine.probe import ensure_loadable

    if scoring is not None and scoring not in METHODS:
        raise InputError(f"--scoring {scoring!r}: use one of {', '.join(METHODS)}")
    name = name or path.stem
    if name == DEFAULT_MODEL or is_discovered_name(name) or not name.strip() or "/" in name:
        raise InputError(f"--name {name!r} is taken or not a plain name; choose another")
    meta = inspect_gguf(path)
    ensure_loadable(path)
    ftype = meta.get("general.file_type")
    return ModelEntry(
        name=name, file=file or str(path),
        base_model=base_model or str(meta.get("general.basename") or meta.get("general.name") or ""),
        quantization=ftype_name(ftype),
        size_bytes=path.stat().st_size, sha256=sha256,
        scoring_method=scoring or DEFAULT_SCORING,
    )


def add_model(path: str | Path, *, name: str | None = None, scoring: str | None = None,
              models_dir: Path) -> ModelEntry:
    """Register ``path`` (absolute, so it works from any folder) under ``name``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}")
    if p.suffix.lower() != ".gguf" and not p.is_file():
        raise ModelLoadError(f"expected a .gguf file: {p}")
    entry = checked_entry(p.resolve(), name=name, scoring=scoring)
    Registry(models_dir).register(entry)
    return entry
