"""Model stores as other tools lay them out, pointing at real files without copying them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ggufs.py, hub_server.py

import ggufs  # noqa: E402

FAKE_DIGEST = "ab" * 32  # Ollama names blobs by their sha256; nothing here re-hashes them


def ollama_store(root: Path, models: dict[str, Path | None]) -> Path:
    """An Ollama store: ``{"library/gemma3/270m": blob source or None (missing blob)}``."""
    for i, (ref, source) in enumerate(models.items()):
        namespace, model, tag = ref.split("/")
        digest = f"{i:02x}" + FAKE_DIGEST[2:]
        manifest = root / "manifests" / "registry.ollama.ai" / namespace / model / tag
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": "sha256:" + "00" * 32, "size": 10},
            "layers": [{"mediaType": "application/vnd.ollama.image.model",
                        "digest": f"sha256:{digest}", "size": 1},
                       {"mediaType": "application/vnd.ollama.image.template",
                        "digest": "sha256:" + "11" * 32, "size": 1}],
        }))
        if source is not None:
            (root / "blobs").mkdir(parents=True, exist_ok=True)
            os.symlink(source, root / "blobs" / f"sha256-{digest}")  # never copy a model
    return root


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
