"""Model stores as other tools lay them out, pointing at real files without copying them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ggufs.py, hub_server.py

import ggufs  # noqa: E402
from stores import ollama_store  # noqa: E402

@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Hand-written GGUFs: one that loads, and the ways a file breaks."""
    d = tmp_path_factory.mktemp("ggufs")
    ok = ggufs.write_gguf(d / "tiny.gguf")
    return {
        "ok": ok,
        "truncated": ggufs.truncated(ok, d / "truncated.gguf"),
        "three_tokens": ggufs.three_token_vocab(d / "three-tokens.gguf"),
        "unknown_arch": ggufs.unknown_architecture(d / "unknown-arch.gguf"),
    }


@pytest.fixture
def stores(tmp_path, default_gguf, tiny) -> dict[str, str]:
    """Ollama, LM Studio, HF cache and GPT4All folders under one fake HOME, as an env mapping."""
    home = tmp_path / "fakehome"
    ollama_store(home / ".ollama" / "models", {
        "library/gemma3/270m": default_gguf,
        "library/broken/latest": None,  # manifest whose blob was deleted
        "someone/tiny/q4": tiny["ok"],
    })
    lms = home / ".lmstudio" / "models" / "pub" / "repo"
    lms.mkdir(parents=True)
    os.symlink(tiny["truncated"], lms / "cut.gguf")
    os.symlink(tiny["ok"], lms / "fine.gguf")
    snap = home / ".cache" / "huggingface" / "hub" / "models--org--tiny-GGUF" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    os.symlink(tiny["three_tokens"], snap / "three.gguf")
    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    gpt4all.mkdir(parents=True)
    os.symlink(tiny["ok"], gpt4all / "small.gguf")
    return {"HOME": str(home)}
