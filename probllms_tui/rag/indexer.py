"""Build the notes index incrementally: one writer, idempotent ids, crash-safe order.

Every chunk's metadata names its file and that file's content hash and chunk count, so the
index itself says which files are complete; no side file can disagree with it after a crash.
For a changed file the new chunks are written first and the old ones deleted after, so a
`kill -9` at any point leaves either the old or the new version (or both, cleaned up by the
next run), never neither. Ids hash the location and text, so rewriting a chunk is a no-op.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.rag import store
from probllms_tui.rag.chunking import CHUNKER_VERSION, Chunk, chunk_segments
from probllms_tui.rag.embedder import Embedder, default_embedder
from probllms_tui.rag.loaders import LoadError, discover, load_segments, read_bytes

Progress = Callable[[int, int, str], None]
Writes = Callable[[], AbstractContextManager]  # wraps every write to Chroma (see rag/background.py)
FLUSH_CHUNKS = 256  # embed across files in batches this big: per-file batches starve the model


def expected_metadata(embedder: Embedder) -> dict:
    return {"embedder": embedder.id, "dimension": embedder.dimension, "chunker": CHUNKER_VERSION}


def chunk_id(rel: str, index: int, chunk: Chunk) -> str:
    key = f"{rel}\x00{index}\x00{chunk.location}\x00{chunk.embed_text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def chunk_metadata(display: str, rel: str, file_hash: str, index: int, n: int, chunk: Chunk) -> dict:
    meta = {"path": display, "rel": rel, "file_hash": file_hash, "chunk_index": index,
            "n_chunks": n, "heading": chunk.heading}
    if chunk.page is not None:
        meta["page"] = chunk.page
    elif chunk.start_line is not None:
        meta["lines"] = f"{chunk.start_line}-{chunk.end_line}"
    return meta


@dataclass
class _FileVersions:
    """What the index holds for one file: chunk ids per content hash, and expected counts."""
    ids: dict[str, list[str]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)

    def complete(self, file_hash: str) -> bool:
        return file_hash in self.ids and len(self.ids[file_hash]) == self.expected[file_hash]

    def all_ids(self) -> list[str]:
        return [i for ids in self.ids.values() for i in ids]

    def ids_except(self, file_hash: str) -> list[str]:
        return [i for h, ids in self.ids.items() if h != file_hash for i in ids]


def _indexed_files(col) -> dict[str, _FileVersions]:
    files: dict[str, _FileVersions] = {}
    for cid, meta, _ in store.iter_records(col, ["metadatas"]):
        fv = files.setdefault(str(meta.get("rel", "")), _FileVersions())
        h = str(meta.get("file_hash", ""))
        fv.ids.setdefault(h, []).append(cid)
        fv.expected[h] = int(meta.get("n_chunks", -1))
    return files


@dataclass
class _Pending:
    rel: str
    display: str
    file_hash: str
    chunks: list[Chunk]


def build_index(notes_dir: Path, data_dir: Path | None = None, *, rebuild: bool = False,
                progress: Progress | None = None, chroma_url: str | None = None,
                warn: Callable[[str], None] | None = None, embedder: Embedder | None = None,
                writes: Writes = nullcontext) -> dict:
    """Index ``notes_dir`` into the data dir's Chroma (or ``chroma_url``); returns a report."""
    notes_dir = Path(notes_dir).expanduser().resolve()
    if not notes_dir.is_dir():
        raise InputError(f"notes folder not found: {notes_dir}")
    embedder = embedder or default_embedder()
    lock_dir = store.index_dir(data_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock, Timeout  # flock: the kernel frees it when a writer is killed

    lock = FileLock(str(lock_dir / "index.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise store.IndexBusyError(f"another `notes index` is writing this index (lock {lock.lock_file}); "
                                    "wait for it to finish") from None
    try:
        if rebuild:
            with writes():
                store.wipe(data_dir, chroma_url)
        with writes():  # a first connect creates and migrates Chroma's files
            client = store.connect(data_dir, chroma_url)
        where = store.where(data_dir, chroma_url)
        with writes():
            col = store.open_collection(client, where, expected_metadata(embedder), create=True)
            # Unfinished until the last write below: a start after a kill or a quit mid-build
            # sees this and finishes the job (app/services/notes.py) instead of answering from
            # part of the notes.
            col.modify(metadata={**(col.metadata or {}), "notes_dir": str(notes_dir), "complete": False})
        return _index(col, store.batch_size(client), notes_dir, embedder, progress, warn or (lambda m: None),
                      writes)
    finally:
        lock.release()


def _index(col, limit: int, notes_dir: Path, embedder: Embedder, progress: Progress | None,
           warn: Callable[[str], None], writes: Writes = nullcontext) -> dict:
    started = time.perf_counter()
    indexed = _indexed_files(col)
    files = list(discover(notes_dir))
    report = {"notes_dir": str(notes_dir), "files_seen": len(files), "indexed": 0, "unchanged": 0,
              "removed": 0, "empty": 0, "skipped": [], "chunks_added": 0, "chunks_removed": 0,
              "embed_seconds": 0.0}
    if not files:
        warn(f"no notes found in {notes_dir} (looked for .md .txt .pdf .tex)")
    pending: list[_Pending] = []
    seen: set[str] = set()

    def flush() -> None:
        texts = [c.embed_text for p in pending for c in p.chunks]
        t0 = time.perf_counter()
        vectors = embedder.encode(texts)
        report["embed_seconds"] += time.perf_counter() - t0
        offset = 0
        for p in pending:
            n = len(p.chunks)
            ids = [chunk_id(p.rel, i, c) for i, c in enumerate(p.chunks)]
            old = indexed.get(p.rel, _FileVersions()).ids_except(p.file_hash)
            with writes():
                if n:
                    store.upsert(col, limit, ids, vectors[offset:offset + n], [c.text for c in p.chunks],
                                 [chunk_metadata(p.display, p.rel, p.file_hash, i, n, c)
                                  for i, c in enumerate(p.chunks)])
                store.delete_ids(col, limit, old)  # only after the new version is stored
            offset += n
            # A file with no text is not "indexed": counting it would announce a change on
            # every run (its nothing is never stored, so it never reads as complete).
            report["indexed" if n or old else "empty"] += 1
            report["chunks_added"] += n
            report["chunks_removed"] += len(old)
        pending.clear()

    for done, path in enumerate(files, 1):
        rel = path.relative_to(notes_dir).as_posix()
        display = f"{notes_dir.name}/{rel}"
        seen.add(rel)
        try:
            data = read_bytes(path)
            file_hash = hashlib.sha256(data).hexdigest()
            versions = indexed.get(rel, _FileVersions())
            if versions.complete(file_hash):
                stale = versions.ids_except(file_hash)  # left by a run killed mid-replace
                with writes():
                    store.delete_ids(col, limit, stale)
                report["chunks_removed"] += len(stale)
                report["unchanged"] += 1
            else:
                chunks = chunk_segments(load_segments(path, data), embedder)
                if not chunks:
                    warn(f"{display}: no text found")
                pending.append(_Pending(rel, display, file_hash, chunks))
                if sum(len(p.chunks) for p in pending) >= FLUSH_CHUNKS:
                    flush()
        except LoadError as exc:
            kept = " (its earlier chunks are kept)" if rel in indexed else ""
            warn(f"skipped {display}: {exc}{kept}")
            report["skipped"].append({"path": display, "reason": str(exc)})
        if progress:
            progress(done, len(files), display)
    if pending:
        flush()
    for rel, versions in indexed.items():
        if rel not in seen:  # deleted from the folder (or the index moved to another folder)
            gone = versions.all_ids()
            with writes():
                store.delete_ids(col, limit, gone)
            report["removed"] += 1
            report["chunks_removed"] += len(gone)
    meta = dict(col.metadata or {})
    meta.update({"notes_dir": str(notes_dir), "complete": True,
                 "last_indexed": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    with writes():
        col.modify(metadata=meta)
    report["chunks_total"] = col.count()
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["embed_seconds"] = round(report["embed_seconds"], 3)
    return report
