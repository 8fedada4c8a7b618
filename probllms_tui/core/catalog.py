"""Every model the student can pick: the registry's and the ones other tools keep on disk.

One row per model, the same for `probllms-tui models --json` and the Models screen, read from
GGUF headers only (core/discovery.py), plus what is already known about each file: the
probe's verdict if it was probed (engine/probe.py) and the last measured benchmark figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from probllms_tui.core.calibration import served_label
from probllms_tui.core.discovery import SOURCES, FoundModel, describe, discover
from probllms_tui.core.files import atomic_write_json
from probllms_tui.core.registry import Registry, default_model_path

MEASURED = "model-measurements.json"  # in the data dir: {model name: {accuracy, seconds_per_question, ...}}


def params_label(n: int, label: str = "") -> str:
    """``1.5B``, ``268M``: the file's own size label if it has one, else counted weights."""
    if label:
        return label
    if not n:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def _registry_rows(reg: Registry) -> list[tuple[FoundModel, dict]]:
    rows = []
    for e in reg.entries():
        path = default_model_path() if e.builtin else e.path(reg.models_dir)
        source = "default" if e.builtin else ("registry" if e.registered else "models-dir")
        if path.is_file():
            found = describe(source, e.name, path)
        else:
            found = FoundModel(source=source, name=e.name, path=str(path), problem="file not found")
        found.quantization = e.quantization or found.quantization
        rows.append((found, {"base_model": e.base_model, "scoring_method": e.scoring_method,
                             "prompt_format": e.prompt_format, "default": e.builtin,
                             "registered": e.registered or e.builtin}))
    return rows


def load_measurements(data_dir: Path | None) -> dict:
    if data_dir is None:
        return {}
    try:
        data = json.loads((Path(data_dir) / MEASURED).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_measurement(data_dir: Path, name: str, figures: dict) -> None:
    data = load_measurements(data_dir)
    data[name] = figures
    atomic_write_json(Path(data_dir) / MEASURED, data, indent=1)


def calibration_summary(reg: Registry, name: str) -> dict:
    """What the Models screen and `models --json` say about a model's probabilities: calibrated
    or not (and the command that fixes it), and the held-out ECE / accuracy if measured."""
    try:
        record = reg.calibration(name) or {}
    except Exception:  # a damaged manifest is reported elsewhere; here it means "unknown"
        record = {}
    method = record.get("scoring_method", "")
    cal = (record.get("calibrations") or {}).get(method) or {}
    sets = (cal.get("measured") or {}).get("sets") or {}
    if not cal:
        return {"calibrated": False, "fix": f"probllms-train bench calibrate --model {name} --data BANK.jsonl --out calibration"}
    first = next(iter(sets.values()), {})
    by_kind = record.get("scoring_method_by_kind")
    return {"calibrated": True, "method": served_label(method, by_kind if isinstance(by_kind, dict) else {}),
            "ece": first.get("ece"), "accuracy": first.get("accuracy"), "n": first.get("n"), "set": first.get("label", "")}


def catalog(models_dir: Path, *, data_dir: Path | None = None, sources: tuple[str, ...] = SOURCES,
            env: Mapping[str, str] | None = None) -> list[dict]:
    """Rows for every model: the default first, then the registry, then other tools' models."""
    from probllms_tui.core.registry import DEFAULT_SCORING
    from probllms_tui.core.prompt import PROMPT_FORMAT
    from probllms_tui.engine.probe import default_cache

    reg = Registry(models_dir)
    rows = _registry_rows(reg)
    rows += [(f, {"base_model": "", "scoring_method": DEFAULT_SCORING, "prompt_format": PROMPT_FORMAT,
                  "default": False, "registered": False}) for f in discover(sources, env)]
    # Probe verdicts are per file and llama.cpp build, not per study data dir: the one cache
    # open_engine writes (engine/probe.py), whatever --data-dir says.
    probes = default_cache()
    measured = load_measurements(data_dir)
    out = []
    for found, extra in rows:
        if not found.problem and found.path and not extra["default"]:
            try:
                verdict = probes.get(Path(found.path))
            except OSError:
                verdict = None
            if verdict:
                found.problem = verdict
        row = {**found.to_json(), **extra}
        row["usable"] = found.usable
        row["calibration"] = calibration_summary(reg, found.name)
        if isinstance(measured.get(found.name), dict):
            row["measured"] = measured[found.name]
        out.append(row)
    return out
