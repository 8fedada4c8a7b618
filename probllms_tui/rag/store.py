"""The Chroma side of the notes index: where it lives, opening it safely, batched writes.

Chroma checks only an embedding function's name when a collection is reopened, so the
collection's metadata records the embedder id, its dimension and the chunker version, and a
mismatch is refused here: vectors from two models in one index would quietly rank garbage.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from probllms_tui.core.errors import ProbLLMsError, one_line
from probllms_tui.core.paths import data_dir as resolve_data_dir

COLLECTION = "notes"
REBUILD_HINT = "rebuild it with `probllms-tui notes index --rebuild`"


class NotesIndexError(ProbLLMsError):
    """The notes index cannot be used as it is (damaged, incompatible, unreachable)."""


class IndexBusyError(NotesIndexError):
    """Another process holds the index's writer lock (a second app, `notes index`)."""


def index_dir(data_dir: Path | None) -> Path:
    return resolve_data_dir(data_dir) / "notes_index"


def chroma_dir(data_dir: Path | None) -> Path:
    return index_dir(data_dir) / "chroma"


def local_index_exists(data_dir: Path | None) -> bool:
    """Cheap: a stat, no chromadb import (the app asks this at start-up)."""
    return (chroma_dir(data_dir) / "chroma.sqlite3").is_file()


def _settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def connect(data_dir: Path | None, chroma_url: str | None):
    """A Chroma client: HttpClient for ``--chroma-url``, else PersistentClient in the data dir."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    if chroma_url:
        url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        if not url.hostname:
            raise NotesIndexError(f"not a Chroma server URL: {chroma_url!r} (expected http://host:port)")
        try:
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                         ssl=url.scheme == "https", settings=_settings())
            client.heartbeat()
        except Exception as exc:
            raise NotesIndexError(f"cannot reach the Chroma server at {chroma_url} ({one_line(exc, 120)})") from None
        return client
    path = chroma_dir(data_dir)
    try:
        return chromadb.PersistentClient(path=str(path), settings=_settings())
    except Exception as exc:
        raise NotesIndexError(f"the notes index at {path} is damaged ({one_line(exc, 120)}); {REBUILD_HINT}") from None


def where(data_dir: Path | None, chroma_url: str | None) -> str:
    return chroma_url or str(chroma_dir(data_dir))


def wipe(data_dir: Path | None, chroma_url: str | None) -> None:
    """Remove the index for ``--rebuild`` without opening it first (it may be unreadable)."""
    if chroma_url:
        client = connect(data_dir, chroma_url)
        try:
            client.delete_collection(COLLECTION)
        except Exception:  # NotFoundError, or a broken collection the server still deletes by name
            pass
        return
    if local_index_exists(data_dir):
        # Drop the collection through Chroma first: another client in this process (the app's
        # retriever) stays valid, where deleting the files under it would break it.
        from chromadb.errors import NotFoundError

        try:
            connect(data_dir, None).delete_collection(COLLECTION)
            return
        except NotFoundError:
            return
        except Exception:  # damaged beyond what Chroma can open: remove the files instead
            pass
    wipe_cache()
    shutil.rmtree(chroma_dir(data_dir), ignore_errors=True)


def wipe_cache() -> None:
    """Forget this process's cached Chroma clients (they keep files open and state in memory)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def describe_mismatch(stored: dict, expected: dict) -> str | None:
    diffs = [f"{key} {stored.get(key)!r} (this version: {value!r})"
             for key, value in expected.items() if stored.get(key) != value]
    return ", ".join(diffs) or None


def open_collection(client, where_: str, expected: dict, *, create: bool):
    """The notes collection, or None when absent and not ``create``; refuses a mismatch."""
    from chromadb.errors import NotFoundError

    try:
        try:
            col = client.get_collection(COLLECTION, embedding_function=None)
        except NotFoundError:
            if not create:
                return None
            return client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}},
                                            metadata=dict(expected), embedding_function=None)
        col.count()  # touches the segment files: damage shows here rather than mid-query
    except ValueError as exc:  # chromadb < 1 raised this for a missing collection
        if "does not exist" in str(exc) and not create:
            return None
        raise NotesIndexError(f"the notes index at {where_} is damaged ({one_line(exc, 120)}); {REBUILD_HINT}") from None
    except Exception as exc:
        raise NotesIndexError(f"the notes index at {where_} is damaged ({one_line(exc, 120)}); {REBUILD_HINT}") from None
    mismatch = describe_mismatch(col.metadata or {}, expected)
    if mismatch:
        raise NotesIndexError(f"the notes index at {where_} was built with {mismatch}; {REBUILD_HINT}")
    return col


def iter_records(col, include: list[str], page: int = 5000) -> Iterator[tuple[str, dict, str | None]]:
    """(id, metadata, document) for every chunk, paged so a large index never loads at once."""
    offset = 0
    while True:
        got = col.get(include=include, limit=page, offset=offset)
        ids = got["ids"]
        if not ids:
            return
        docs = got.get("documents") or [None] * len(ids)
        for i, meta, doc in zip(ids, got["metadatas"], docs):
            yield i, meta or {}, doc
        offset += len(ids)


def batch_size(client) -> int:
    try:
        return max(1, int(client.get_max_batch_size()))
    except Exception:
        return 5000  # older servers: stay under the usual SQLite-derived 5461


def upsert(col, limit: int, ids: list[str], embeddings, documents: list[str], metadatas: list[dict]) -> None:
    for a in range(0, len(ids), limit):
        col.upsert(ids=ids[a:a + limit], embeddings=embeddings[a:a + limit],
                   documents=documents[a:a + limit], metadatas=metadatas[a:a + limit])


def delete_ids(col, limit: int, ids: list[str]) -> None:
    for a in range(0, len(ids), limit):
        col.delete(ids=ids[a:a + limit])
