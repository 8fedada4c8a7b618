"""Build, update, search and break a real Chroma notes index in a temp data dir."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from probllms_tui.rag import store
from probllms_tui.rag.retrieve import open_retriever
from probllms_tui.rag.service import build_index, index_status

pytestmark = pytest.mark.slow  # loads the sentence-transformers embedder (once per session)


def _chunks(data_dir: Path) -> list[dict]:
    client = store.connect(data_dir, None)
    col = client.get_collection(store.COLLECTION, embedding_function=None)
    return [m for _, m, _ in store.iter_records(col, ["metadatas"])]


def test_build_status_and_search_with_citations(notes, tmp_path, embedder):
    data = tmp_path / "home"
    assert open_retriever(data) is None  # nothing built yet: cheap None
    seen = []
    report = build_index(notes, data, progress=lambda d, t, p: seen.append((d, t, p)))
    assert report["indexed"] == 4 and report["skipped"] == []
    assert [d for d, _, _ in seen] == [1, 2, 3, 4] and all(t == 4 for _, t, _ in seen)
    status = index_status(data)
    assert status["files"] == 4 and status["chunks"] == report["chunks_total"] > 4
    assert status["embedder"] == embedder.id and status["dimension"] == 384
    assert status["notes_dir"] == str(notes.resolve()) and status["problem"] is None

    r = open_retriever(data)
    top = r.search("shortest paths with non-negative edge weights", k=3)
    assert top[0].citation.startswith("notes/graphs.tex:") and "Dijkstra" in top[0].text
    assert top[0].meta["heading"] == "Graphs > Search" and top[0].meta["lines"] == "8-8"  # the text, not its \subsection line
    page = r.search("validation loss rises while training loss falls", k=1)[0]
    assert page.citation == "notes/ml-slides.pdf p.2" and page.meta["page"] == 2
    bayes = r.search("Bayes posterior prior likelihood", k=1)[0]
    assert bayes.citation.startswith("notes/probability.md:") and bayes.meta["heading"] == "Probability > Bayes' rule"
    scores = [p.meta["score"] for p in r.search("Markov chain", k=5)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    # each retriever alone still works (the benchmark compares them)
    assert "Markov" in r.search("memoryless", k=1, mode="bm25")[0].text
    assert "Markov" in r.search("the future depends only on the present", k=1, mode="vector")[0].text


def test_incremental_unchanged_changed_deleted(notes, tmp_path, embedder, monkeypatch):
    data = tmp_path / "home"
    first = build_index(notes, data)
    ids_before = {m["rel"]: m["file_hash"] for m in _chunks(data)}

    calls = []
    original = type(embedder).encode
    monkeypatch.setattr(type(embedder), "encode", lambda self, texts: calls.append(len(texts)) or original(self, texts))
    again = build_index(notes, data)
    assert again["indexed"] == 0 and again["unchanged"] == 4 and calls == []
    assert again["chunks_total"] == first["chunks_total"]

    (notes / "chains.txt").write_text("Hidden Markov models add emissions to a Markov chain.\n")
    (notes / "graphs.tex").unlink()
    third = build_index(notes, data)
    assert third["indexed"] == 1 and third["removed"] == 1 and third["unchanged"] == 2
    metas = _chunks(data)
    assert "graphs.tex" not in {m["rel"] for m in metas}
    chains = [m for m in metas if m["rel"] == "chains.txt"]
    assert len(chains) == 1 and chains[0]["file_hash"] != ids_before["chains.txt"]
    assert "Hidden Markov" in open_retriever(data).search("emissions", k=1)[0].text


def test_bad_files_are_skipped_with_a_warning_naming_them(notes, tmp_path, monkeypatch):
    from fixtures import make_pdf

    (notes / "broken.pdf").write_bytes(make_pdf(["x"])[:120])
    (notes / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 50)
    with (notes / "huge.txt").open("wb") as f:
        f.truncate(50 * 2**20)
    locked = notes / "locked.md"
    locked.write_text("private")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root ignores permissions: make the read fail the same way
        real = Path.read_bytes
        monkeypatch.setattr(Path, "read_bytes", lambda p: (_ for _ in ()).throw(PermissionError(13, "denied"))
                            if p.name == "locked.md" else real(p))
    warnings: list[str] = []
    report = build_index(notes, tmp_path / "home", warn=warnings.append)
    locked.chmod(0o644)
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"notes/broken.pdf", "notes/image.md", "notes/huge.txt", "notes/locked.md"}
    assert "PDF" in skipped["notes/broken.pdf"] and "binary" in skipped["notes/image.md"]
    assert "too large" in skipped["notes/huge.txt"] and "permission" in skipped["notes/locked.md"]
    for name in skipped:
        assert any(name in w for w in warnings)
    assert report["indexed"] == 4  # the good files all went in
    assert {m["rel"] for m in _chunks(tmp_path / "home")} == {"probability.md", "chains.txt", "graphs.tex", "ml-slides.pdf"}


def test_empty_folder_warns(tmp_path):
    (tmp_path / "empty").mkdir()
    warnings: list[str] = []
    report = build_index(tmp_path / "empty", tmp_path / "home", warn=warnings.append)
    assert report["files_seen"] == 0 and report["chunks_total"] == 0
    assert any("no notes found" in w for w in warnings)


def test_other_embedder_or_chunker_is_refused_until_rebuild(notes, tmp_path):
    data = tmp_path / "home"
    build_index(notes, data)
    col = store.connect(data, None).get_collection(store.COLLECTION, embedding_function=None)
    col.modify(metadata={**col.metadata, "embedder": "someone/else-768", "dimension": 768})
    with pytest.raises(store.NotesIndexError, match=r"someone/else-768.*--rebuild"):
        build_index(notes, data)
    with pytest.raises(store.NotesIndexError, match="--rebuild"):
        open_retriever(data)
    assert "someone/else-768" in index_status(data)["problem"]
    report = build_index(notes, data, rebuild=True)
    assert report["indexed"] == 4 and index_status(data)["problem"] is None


def test_damaged_chroma_dir_gives_clear_message_and_rebuild_works(notes, tmp_path):
    data = tmp_path / "home"
    build_index(notes, data)
    count = index_status(data)["chunks"]
    store.wipe_cache()
    db = store.chroma_dir(data) / "chroma.sqlite3"
    with db.open("r+b") as f:  # a disk that scribbled over the pages after the header
        f.seek(4096)
        f.write(bytes(range(256)) * 160)
    with pytest.raises(store.NotesIndexError, match=r"damaged.*--rebuild"):
        open_retriever(data)
    assert "damaged" in index_status(data)["problem"]
    report = build_index(notes, data, rebuild=True)
    assert report["chunks_total"] == count
    assert open_retriever(data).search("Dijkstra", k=1)[0].citation.startswith("notes/graphs.tex")


def test_one_writer_at_a_time_readers_keep_working(notes, tmp_path):
    from filelock import FileLock

    data = tmp_path / "home"
    build_index(notes, data)
    with FileLock(str(store.index_dir(data) / "index.lock")):
        with pytest.raises(store.NotesIndexError, match="another `notes index`"):
            build_index(notes, data)
        assert open_retriever(data).search("Markov", k=1)  # reading is not blocked


def test_no_duplicates_per_file_location(notes, tmp_path):
    data = tmp_path / "home"
    build_index(notes, data)
    build_index(notes, data)
    keys = Counter((m["rel"], m["chunk_index"]) for m in _chunks(data))
    assert keys and max(keys.values()) == 1


def test_an_empty_note_is_not_reported_as_indexed_on_every_run(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Heaps\nA binary heap is built bottom-up in linear time.\n")
    (notes / "empty.md").write_text("")
    first = build_index(notes, tmp_path / "home", warn=lambda m: None)
    assert first["indexed"] == 1 and first["empty"] == 1 and first["skipped"] == []
    again = build_index(notes, tmp_path / "home", warn=lambda m: None)
    assert again["indexed"] == 0 and again["unchanged"] == 1 and again["empty"] == 1
    (notes / "a.md").write_text("")  # emptied: its old passages go, and it is counted once
    emptied = build_index(notes, tmp_path / "home", warn=lambda m: None)
    assert emptied["indexed"] == 1 and emptied["chunks_total"] == 0
