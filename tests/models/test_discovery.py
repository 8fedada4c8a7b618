"""Finding other tools' models on disk and resolving their names (headers only, no llama.cpp)."""

from __future__ import annotations

import json

import pytest

from probllms_tui.core import discovery
from probllms_tui.core.errors import ModelLoadError
from probllms_tui.core.registry import ModelEntry, Registry


def by_name(models):
    return {m.name: m for m in models}


def test_every_source_is_listed_and_broken_entries_say_why(stores, default_gguf):
    found = by_name(discovery.discover(env=stores))
    assert set(found) == {
        "ollama:gemma3:270m", "ollama:broken:latest", "ollama:someone/tiny:q4",
        "lmstudio:pub/repo/cut", "lmstudio:pub/repo/fine", "hf:org/tiny-GGUF/three.gguf",
        "gpt4all:small",
    }
    gemma = found["ollama:gemma3:270m"]
    assert gemma.usable and gemma.architecture == "gemma3" and gemma.quantization == "Q4_K_M"
    assert gemma.size_bytes == default_gguf.stat().st_size and gemma.size_label == "270M"
    assert 250e6 < gemma.parameters < 300e6
    assert "blob" in found["ollama:broken:latest"].problem and "missing" in found["ollama:broken:latest"].problem
    assert found["lmstudio:pub/repo/cut"].problem.startswith("truncated GGUF file")
    assert "broken vocabulary: 3 tokens" in found["hf:org/tiny-GGUF/three.gguf"].problem
    assert found["gpt4all:small"].usable and found["lmstudio:pub/repo/fine"].usable
    for m in found.values():
        assert "\n" not in m.problem and (not m.path or m.path not in m.problem)


def test_ollama_models_env_and_the_discover_switch(stores, tmp_path, tiny):
    from stores import ollama_store

    other = ollama_store(tmp_path / "elsewhere", {"library/tiny/latest": tiny["ok"]})
    env = {**stores, "OLLAMA_MODELS": str(other)}
    assert [m.name for m in discovery.discover(("ollama",), env)] == ["ollama:tiny:latest"]
    assert discovery.discover(env={**stores, "PROBLLMS_DISCOVER": "off"}) == []
    assert {m.source for m in discovery.discover(env={**stores, "PROBLLMS_DISCOVER": "hf,gpt4all"})} == {"hf", "gpt4all"}


def test_a_damaged_manifest_is_one_row_not_a_failure(stores):
    from pathlib import Path

    manifest = Path(stores["HOME"]) / ".ollama/models/manifests/registry.ollama.ai/library/gemma3/270m"
    manifest.write_text("{not json")
    found = by_name(discovery.discover(("ollama",), stores))
    assert "unreadable manifest" in found["ollama:gemma3:270m"].problem
    assert found["ollama:someone/tiny:q4"].usable


def test_names_resolve_to_the_file_in_place(stores, monkeypatch, tmp_path, default_gguf):
    for key, value in stores.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    monkeypatch.delenv("PROBLLMS_DISCOVER", raising=False)
    entry, path = Registry(tmp_path / "models").resolve("ollama:gemma3:270m")
    assert path.resolve() == default_gguf.resolve() and entry.name == "ollama:gemma3:270m"
    assert entry.quantization == "Q4_K_M" and not entry.builtin
    assert discovery.find("lmstudio:pub/repo/fine.gguf", stores).name == "lmstudio:pub/repo/fine"
    with pytest.raises(ModelLoadError, match="cannot be used: truncated"):
        Registry(tmp_path / "models").resolve("lmstudio:pub/repo/cut")
    with pytest.raises(ModelLoadError, match="unknown model 'ollama:nope:1b'; found: ollama:"):
        Registry(tmp_path / "models").resolve("ollama:nope:1b")


def test_register_keeps_manifest_keys_it_does_not_know(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": [
        {"name": "a", "file": "a.gguf", "calibration": {"temperature": 3.5}, "future": [1, 2]},
        {"name": "b", "file": "b.gguf", "calibration": {"temperature": 8.5}, "threads": [1, 2]},
    ]}))
    reg = Registry(models)
    reg.register(ModelEntry(name="c", file="/abs/c.gguf"))
    reg.register(ModelEntry(name="b", file="b2.gguf"))  # replaced: its calibration stays
    saved = {e["name"]: e for e in json.loads((models / "manifest.json").read_text())["models"]}
    assert saved["a"]["calibration"] == {"temperature": 3.5} and saved["a"]["future"] == [1, 2]
    assert saved["b"]["calibration"] == {"temperature": 8.5} and saved["b"]["file"] == "b2.gguf"
    entries = {e.name: e for e in reg.entries()}
    assert entries["a"].thread_counts() is None
    assert ModelEntry(name="x", file="x", threads=[1, 2]).thread_counts() == (1, 2)
    assert ModelEntry(name="x", file="x", threads=[2]).thread_counts() == (2, 2)
