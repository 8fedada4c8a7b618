"""kill -9 in the middle of indexing, and a real `chroma run` server behind --chroma-url."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from probllms_tui.rag import store
from probllms_tui.rag.retrieve import open_retriever
from probllms_tui.rag.service import build_index, index_status

pytestmark = pytest.mark.slow

INDEXER = """
import sys
from pathlib import Path
from probllms_tui.rag import indexer
indexer.FLUSH_CHUNKS = 1  # write after every file so the kill lands between and inside writes
indexer.build_index(Path(sys.argv[1]), Path(sys.argv[2]),
                    progress=lambda done, total, path: print(done, flush=True))
"""


def _write_course(folder: Path, version: str, n_files: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        paras = [f"Lecture {i} {version}, part {j}: the topic is item{i}x{j} and its properties "
                 f"are discussed at length with example {i * 10 + j}." for j in range(3)]
        (folder / f"lecture{i:02d}.md").write_text(f"# Lecture {i}\n\n" + "\n\n".join(paras) + "\n")


def _metas(data: Path) -> list[dict]:
    store.wipe_cache()  # see what is on disk now, not this process's cached view
    col = store.connect(data, None).get_collection(store.COLLECTION, embedding_function=None)
    return [m for _, m, _ in store.iter_records(col, ["metadatas"])]


def test_kill_9_while_replacing_then_rerun_is_consistent(tmp_path, embedder):
    notes, data = tmp_path / "notes", tmp_path / "home"
    _write_course(notes, "old")
    build_index(notes, data)
    old_hashes = {m["rel"]: m["file_hash"] for m in _metas(data)}
    _write_course(notes, "new")  # every file changed: each must be replaced, never lost

    proc = subprocess.Popen([sys.executable, "-c", INDEXER, str(notes), str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if int(line) == 2:  # a reader while the writer runs: not blocked, and sees whole files
                store.wipe_cache()
                hits = open_retriever(data).search("item5x1 properties", k=3)
                assert hits and all(h.meta["path"].startswith("notes/lecture") for h in hits)
            if int(line) >= 4:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    at_kill = _metas(data)
    # nothing lost: every file still has a complete version (old or new) in the index
    per_version = Counter((m["rel"], m["file_hash"]) for m in at_kill)
    complete = {rel for (rel, h), n in per_version.items()
                if n == next(m["n_chunks"] for m in at_kill if m["rel"] == rel and m["file_hash"] == h)}
    assert complete == set(old_hashes)
    assert any(h != old_hashes[rel] for rel, h in per_version)  # the kill came mid-run

    report = build_index(notes, data)
    metas = _metas(data)
    assert Counter((m["rel"], m["chunk_index"]) for m in metas).most_common(1)[0][1] == 1
    assert {m["rel"] for m in metas} == set(old_hashes)
    assert all(m["file_hash"] != old_hashes[m["rel"]] for m in metas)
    assert report["chunks_total"] == len(metas) == sum(m["n_chunks"] for m in metas if m["chunk_index"] == 0)
    assert "new" in open_retriever(data).search("item7x1 properties", k=1)[0].text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("the `chroma` CLI is not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path_factory.mktemp("server")),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start listening in 30 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_chroma_server_index_and_search(chroma_server, notes, tmp_path, embedder):
    data = tmp_path / "home"
    report = build_index(notes, data, chroma_url=chroma_server)
    assert report["indexed"] == 4
    assert not store.local_index_exists(data)  # the vectors live on the server
    assert index_status(data, chroma_url=chroma_server)["files"] == 4
    # another student's machine: its own empty data dir, same server
    other = open_retriever(tmp_path / "elsewhere", chroma_url=chroma_server)
    top = other.search("Dijkstra shortest paths", k=2)
    assert top[0].citation.startswith("notes/graphs.tex:")
    again = build_index(notes, data, chroma_url=chroma_server)
    assert again["unchanged"] == 4 and again["chunks_total"] == report["chunks_total"]


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(store.NotesIndexError, match="cannot reach the Chroma server"):
        open_retriever(tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}")
