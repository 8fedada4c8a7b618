"""What the CLI and the TUI's notes screen call: index status and (re)building."""

from __future__ import annotations

from pathlib import Path

from probllms_tui.rag import store
from probllms_tui.rag.indexer import build_index, expected_metadata  # noqa: F401  (re-exported)

__all__ = ["build_index", "index_status"]


def index_status(data_dir: Path | None = None, chroma_url: str | None = None) -> dict:
    """Files, chunks, embedder id, dimension, chunker version, notes dir, last indexed.

    ``exists`` is False when nothing was built; ``problem`` holds the one-line reason when the
    index cannot be used as it is (damaged or built by another embedder or chunker).
    """
    from probllms_tui.rag.embedder import default_embedder

    where = store.where(data_dir, chroma_url)
    status = {"exists": False, "location": where, "files": 0, "chunks": 0, "embedder": None,
              "dimension": None, "chunker": None, "notes_dir": None, "last_indexed": None,
              "problem": None}
    if not chroma_url and not store.local_index_exists(data_dir):
        return status
    try:
        client = store.connect(data_dir, chroma_url)
        col = store.open_collection(client, where, {}, create=False)
    except store.NotesIndexError as exc:
        status.update(exists=True, problem=exc.message)
        return status
    if col is None:
        return status
    meta = col.metadata or {}
    files = {m.get("rel") for _, m, _ in store.iter_records(col, ["metadatas"])}
    status.update(exists=True, files=len(files), chunks=col.count(), embedder=meta.get("embedder"),
                  dimension=meta.get("dimension"), chunker=meta.get("chunker"),
                  notes_dir=meta.get("notes_dir"), last_indexed=meta.get("last_indexed"))
    status["problem"] = store.describe_mismatch(meta, expected_metadata(default_embedder()))
    if status["problem"]:
        status["problem"] = f"built with {status['problem']}; {store.REBUILD_HINT}"
    return status
