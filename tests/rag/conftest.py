"""One embedder for the whole session: loading sentence-transformers costs seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fixtures.py beside the tests


@pytest.fixture(scope="session")
def embedder():
    from probllms_tui.rag.embedder import default_embedder

    return default_embedder()


@pytest.fixture
def notes(tmp_path) -> Path:
    from fixtures import write_notes

    return write_notes(tmp_path / "notes")
