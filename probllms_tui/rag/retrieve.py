"""Placeholder until the notes index lands (issue #4): no index means no passages."""

from __future__ import annotations

from pathlib import Path


def open_retriever(data_dir: Path | None = None, chroma_url: str | None = None):
    return None
