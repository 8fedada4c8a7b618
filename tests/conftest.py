"""Fixtures shared by every layer's tests. No network: hub access is switched off here too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real evaluation data is configuration: tests that read it skip without it.
SHARED_DATA = Path(os.environ["PROBLLMS_SHARED_DATA"]) if os.environ.get("PROBLLMS_SHARED_DATA") else None


@pytest.fixture
def probllms_home(tmp_path, monkeypatch) -> Path:
    """A fresh data dir (PROBLLMS_HOME) and models dir for one test."""
    home = tmp_path / "home"
    models = tmp_path / "models"
    home.mkdir()
    models.mkdir()
    monkeypatch.setenv("PROBLLMS_HOME", str(home))
    monkeypatch.setenv("PROBLLMS_MODELS", str(models))
    return home


@pytest.fixture(scope="session")
def default_gguf() -> Path:
    """The embedded default model (registry package, offline)."""
    from probllms_tui.core.registry import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def default_engine(default_gguf):
    """One loaded default engine for the whole session (loading costs ~1 s, memory ~0.5 GB)."""
    from probllms_tui.engine.llama import LlamaEngine

    engine = LlamaEngine(default_gguf, name="gemma3-270m-q4_k_m", quantization="Q4_K_M",
                         n_ctx=1024, threads=(1, 2))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("real evaluation data: set PROBLLMS_SHARED_DATA to its folder")
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real evaluation data not found at {SHARED_DATA} (PROBLLMS_SHARED_DATA)")
    return SHARED_DATA
