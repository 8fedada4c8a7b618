"""Speed of the notes index against the raw libraries, measured in the same run.

    python benchmarks/rag_speed.py                      # ~800 real paragraphs, 10k chunks for queries
    python benchmarks/rag_speed.py --paragraphs 300 --query-chunks 5000 --queries 50

1. Index throughput: `build_index` on a fresh data dir (read, chunk, hash, embed, write to
   Chroma) against raw `SentenceTransformer.encode` of the very same chunk texts, same model
   object, same batch size. Goal: ratio (raw time / build time) >= 0.8.
2. Re-index of the unchanged corpus as a share of the full build. Goal: <= 5%.
3. Query latency at --query-chunks chunks (default 10k), hybrid search including the query
   embedding, p50/p95 over --queries real questions; also each part alone. The 10k index
   reuses the built chunks' vectors with a little noise (new ids, new paths) so it does not
   spend minutes embedding; BM25 sees the texts as written.

The paragraphs are real text nobody here wrote: cs_theoryQA answers (chosen and rejected) and
ARC-Easy questions from the evaluation data folder ($PROBLLMS_SHARED_DATA); the script skips when it is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, require_shared_file  # noqa: E402


def real_paragraphs(limit: int) -> list[str] | None:
    qa, arc = require_shared_file("cs_theoryQA.jsonl"), require_shared_file("ARC-Easy_mcqa.jsonl")
    if qa is None or arc is None:
        return None
    paras: list[str] = []
    for line in qa.read_text().splitlines():
        row = json.loads(line)
        paras += [" ".join(row["chosen"].split()), " ".join(row["rejected"].split())]
    for line in arc.read_text().splitlines():
        if len(paras) >= limit:
            break
        paras.append(" ".join(json.loads(line)["question"].replace("Answer:", "").split()))
    return paras[:limit]


def write_corpus(paras: list[str], folder: Path, per_file: int = 40) -> None:
    folder.mkdir(parents=True)
    for f in range(0, len(paras), per_file):
        (folder / f"part{f // per_file:03d}.md").write_text(
            f"# Part {f // per_file}\n\n" + "\n\n".join(paras[f:f + per_file]) + "\n")


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paragraphs", type=int, default=800)
    ap.add_argument("--query-chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    paras = real_paragraphs(args.paragraphs)
    if paras is None:
        return 0

    from probllms_tui.rag import store
    from probllms_tui.rag.chunking import chunk_segments
    from probllms_tui.rag.embedder import default_embedder
    from probllms_tui.rag.loaders import discover, load_segments
    from probllms_tui.rag.retrieve import open_retriever
    from probllms_tui.rag.service import build_index

    embedder = default_embedder()
    model = embedder.model  # loaded before any clock starts
    model.encode(["warm up the kernels"] * 8, batch_size=embedder.batch_size)
    tmp = Path(tempfile.mkdtemp(prefix="rag_speed_"))
    notes = tmp / "notes"
    write_corpus(paras, notes)
    texts = [c.embed_text for p in discover(notes) for c in chunk_segments(load_segments(p, p.read_bytes()), embedder)]

    t_raw, _ = timed(model.encode, texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
    t_build, report = timed(build_index, notes, tmp / "home")
    assert report["chunks_total"] == len(texts), (report["chunks_total"], len(texts))
    t_again, again = timed(build_index, notes, tmp / "home")
    print(f"corpus: {len(paras)} real paragraphs in {report['files_seen']} files -> {len(texts)} chunks")
    print(f"raw sentence-transformers encode : {t_raw:7.2f} s  ({len(texts) / t_raw:6.1f} chunks/s)")
    print(f"build_index (read..Chroma write) : {t_build:7.2f} s  ({len(texts) / t_build:6.1f} chunks/s, "
          f"of which encode {report['embed_seconds']:.2f} s)")
    print(f"  throughput ratio raw/build     : {t_raw / t_build:7.2f}x   (goal >= 0.8x)")
    print(f"re-index unchanged               : {t_again:7.2f} s = {t_again / t_build:.1%} of the full build "
          f"(goal <= 5%; {again['unchanged']} files unchanged, {again['indexed']} re-embedded)")

    # --- query latency at --query-chunks chunks ---
    src = store.connect(tmp / "home", None).get_collection(store.COLLECTION, embedding_function=None)
    got = src.get(include=["embeddings", "documents", "metadatas"])
    base_vecs = np.asarray(got["embeddings"], dtype=np.float32)
    big_home = tmp / "big"
    store.wipe_cache()
    client = store.connect(big_home, None)
    from probllms_tui.rag.indexer import expected_metadata

    col = store.open_collection(client, str(big_home), expected_metadata(embedder), create=True)
    rng = np.random.default_rng(0)
    limit = store.batch_size(client)
    total, copy = 0, 0
    t_fill = time.perf_counter()
    while total < args.query_chunks:
        n = min(len(got["ids"]), args.query_chunks - total)
        vecs = base_vecs[:n] + rng.normal(0, 0.02, size=(n, base_vecs.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        metas = [{**m, "path": f"copy{copy}/{m['path']}", "rel": f"copy{copy}/{m['rel']}"} for m in got["metadatas"][:n]]
        store.upsert(col, limit, [f"c{copy}-{i}" for i in got["ids"][:n]], vecs, got["documents"][:n], metas)
        total += n
        copy += 1
    print(f"\nquery index: {col.count()} chunks (filled in {time.perf_counter() - t_fill:.1f} s)")
    t_open, retriever = timed(open_retriever, big_home)
    print(f"open_retriever (load texts + build BM25): {t_open:.2f} s")
    qa = require_shared_file("cs_theoryQA.jsonl")
    queries = [json.loads(line)["prompt"].removeprefix("Question:").strip()
               for line in qa.read_text().splitlines()][: args.queries]
    rows = {
        "raw encode (1 query)": lambda q: model.encode([q], normalize_embeddings=True, show_progress_bar=False),
        "raw chroma query (k=50)": None,
        "bm25 alone": lambda q: retriever.search(q, k=5, mode="bm25"),
        "vector alone (+embed)": lambda q: retriever.search(q, k=5, mode="vector"),
        "hybrid k=5 (+embed)": lambda q: retriever.search(q, k=5),
    }
    vec = embedder.encode(["probe"])
    rows["raw chroma query (k=50)"] = lambda q: col.query(query_embeddings=vec, n_results=50, include=[])
    times: dict[str, list[float]] = {name: [] for name in rows}
    for q in queries:  # interleaved, so a burst of load on the shared machine hits every row alike
        for name, fn in rows.items():
            t, _ = timed(fn, q)
            times[name].append(t * 1000)
    for name, ms in times.items():
        print(f"  {name:26} p50 {percentile(ms, 50):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   n={len(ms)}")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
