"""Search the notes index: vectors (Chroma) and BM25 (bm25s), fused by reciprocal rank.

Vectors find paraphrases; BM25 finds the exact terms students type (a theorem's name, a
symbol); reciprocal-rank fusion needs no score calibration between the two. The BM25 index
is built in memory from the collection's own documents when the retriever opens, so it can
never disagree with the vectors (and works the same against a Chroma server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from probllms_tui.core.errors import one_line
from probllms_tui.core.prompt import Passage
from probllms_tui.rag import store
from probllms_tui.rag.embedder import Embedder, default_embedder

Mode = Literal["hybrid", "vector", "bm25"]
RRF_K = 60  # the constant of Cormack et al. (2009); ranks past ~60 barely move the fused score
CANDIDATES = 50  # per retriever, before fusion


def _bm25_tokens(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def citation(meta: dict) -> str:
    if "page" in meta:
        return f"{meta['path']} p.{meta['page']}"
    if "lines" in meta:
        return f"{meta['path']}:{meta['lines']}"
    return str(meta.get("path", "?"))


class Retriever:
    def __init__(self, col, where: str, embedder: Embedder):
        import bm25s

        self._col = col
        self._where = where
        self.embedder = embedder
        self.ids: list[str] = []
        self.metas: list[dict] = []
        self.texts: list[str] = []
        for cid, meta, doc in store.iter_records(col, ["metadatas", "documents"]):
            self.ids.append(cid)
            self.metas.append(meta)
            self.texts.append(doc or "")
        self._row = {cid: i for i, cid in enumerate(self.ids)}
        self._bm25 = None
        if self.ids:
            self._bm25 = bm25s.BM25()
            self._bm25.index(_bm25_tokens([f"{m.get('heading', '')}\n{t}" for m, t in zip(self.metas, self.texts)]),
                             show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def unfinished_notes_dir(self) -> Path | None:
        """The folder of a build that was killed or stopped part-way, else None (indexer.py)."""
        meta = self._col.metadata or {}
        return Path(meta["notes_dir"]) if meta.get("complete") is False and meta.get("notes_dir") else None

    def similarities(self, query_vec: np.ndarray, rows: list[int]) -> list[float]:
        """Cosine of each row's chunk to the query: the absolute relevance that rank fusion
        lacks ("is this passage about the question at all?", rag/question_notes.py).

        The few passages found are embedded again (as the indexer embedded them: heading, then
        text) rather than read back from Chroma: reading stored vectors goes through the HNSW
        segment, which fails while another process is writing the index (Chroma is not
        process-safe), and k short passages embed in milliseconds.
        """
        if not rows:
            return []
        texts = [f"{self.metas[r].get('heading')}\n{self.texts[r]}" if self.metas[r].get("heading") else self.texts[r]
                 for r in rows]
        vectors = self.embedder.encode(texts)
        return [float(x) for x in np.asarray(vectors, dtype=np.float32) @ np.asarray(query_vec, dtype=np.float32).reshape(-1)]

    def vector_ranking_for(self, vec: np.ndarray, n: int) -> list[int]:
        try:
            got = self._col.query(query_embeddings=vec, n_results=min(n, len(self.ids)), include=[])
        except Exception as exc:
            raise store.NotesIndexError(f"the notes index at {self._where} failed a search "
                                        f"({one_line(exc, 120)}); {store.REBUILD_HINT}") from None
        return [self._row[i] for i in got["ids"][0] if i in self._row]

    def bm25_ranking(self, query: str, n: int) -> list[int]:
        tokens = _bm25_tokens([query])
        if self._bm25 is None or not tokens.vocab:
            return []
        docs, scores = self._bm25.retrieve(tokens, k=min(n, len(self.ids)), show_progress=False, n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def search(self, query: str, k: int = 5, mode: Mode = "hybrid") -> list[Passage]:
        if not self.ids or k <= 0 or not query.strip():
            return []
        n = max(CANDIDATES, k)
        vec = self.embedder.encode([query])  # also for BM25-only search: the relevance needs it
        rankings = []
        if mode in ("hybrid", "vector"):
            rankings.append(self.vector_ranking_for(vec, n))
        if mode in ("hybrid", "bm25"):
            rankings.append(self.bm25_ranking(query, n))
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, row in enumerate(ranking, 1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        sims = self.similarities(vec, [row for row, _ in best])
        return [self._passage(row, score, sim) for (row, score), sim in zip(best, sims)]

    def _passage(self, row: int, score: float, similarity: float) -> Passage:
        m = self.metas[row]
        meta = {"path": m.get("path", ""), "heading": m.get("heading", ""), "score": round(score, 6),
                "similarity": round(similarity, 4)}
        if "page" in m:
            meta["page"] = m["page"]
        elif "lines" in m:
            meta["lines"] = m["lines"]
        return Passage(text=self.texts[row], citation=citation(m), meta=meta)


def open_retriever(data_dir: Path | None = None, chroma_url: str | None = None,
                   embedder: Embedder | None = None) -> Retriever | None:
    """The notes retriever, or None when no index was built (a stat; chromadb is not imported)."""
    if not chroma_url and not store.local_index_exists(data_dir):
        return None
    from probllms_tui.rag.indexer import expected_metadata

    embedder = embedder or default_embedder()
    expected = expected_metadata(embedder)
    expected.pop("chunker")  # older chunk boundaries still search fine with the same vectors
    client = store.connect(data_dir, chroma_url)
    col = store.open_collection(client, store.where(data_dir, chroma_url), expected, create=False)
    if col is None:
        return None
    return Retriever(col, store.where(data_dir, chroma_url), embedder)
