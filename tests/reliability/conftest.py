"""One embedder per session: loading sentence-transformers costs seconds."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from probllms_tui.rag.embedder import default_embedder

    return default_embedder()
