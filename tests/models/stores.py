"""An Ollama store laid out as Ollama lays it out, its blobs symlinked to real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
