"""kill -9 anywhere, nothing lost: a real child process is killed at a random point, several
times, and what it leaves behind is checked (killing.py sets how many times and the seed).

- an answer: the answer and its schedule are stored together or not at all;
- indexing: after a restart the index equals a fresh build (same chunk ids, same count);
- export: no partial GGUF is ever registered, and a rerun registers the model;
- a data build: the output is whole or absent, and a rerun gives identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from killing import REPO_ROOT, kill_after_lines, kill_after_seconds, kill_runs, seeded, start  # noqa: E402

# --- answers -----------------------------------------------------------------------------------
ANSWERER = """
import sys
from pathlib import Path
from probllms_tui.store import Store
store = Store.open(Path(sys.argv[1]))
print("ready", flush=True)
i = int(sys.argv[2])
while True:  # answer as fast as the store allows, as the app does one key press at a time
    qid = f"q{i:06d}"
    store.record_answer(qid, "math", "A", i % 3 == 0, source="kill9")
    store.set_model_answer(qid, "B")
    i += 1
"""


def _answers_and_cards(home: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(home / "probllms.sqlite3") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        answers = [r[0] for r in con.execute("SELECT question_id FROM answers")]
        cards = {r[0] for r in con.execute("SELECT question_id FROM cards")}
    assert len(answers) == len(set(answers))  # one answer per question in this test
    return set(answers), cards


def test_kill_9_while_answering_never_leaves_half_an_answer(tmp_path):
    rng, home = seeded(), tmp_path / "home"
    for run in range(kill_runs(3)):
        before, _ = _answers_and_cards(home) if (home / "probllms.sqlite3").exists() else (set(), set())
        proc = start(["-c", ANSWERER, str(home), str(run * 1_000_000)], tmp_path / "answer.log")
        kill_after_lines(proc, 1, rng.uniform(0.05, 0.5))
        answers, cards = _answers_and_cards(home)
        assert answers == cards, f"run {run}: answers without a schedule or schedules without an answer"
        assert answers >= before
        print(f"answers run {run}: killed after {len(answers) - len(before)} committed answers")
    from probllms_tui.store import Store

    store = Store.open(home)  # and the store still takes answers
    store.record_answer("after", "math", "A", True)
    assert store.card("after") is not None and not store.problem
    store.close()


# --- indexing ------------------------------------------------------------------------------------
INDEXER = """
import sys
from probllms_tui.rag import background, indexer
indexer.FLUSH_CHUNKS = 6  # many small writes, so a kill lands inside and between them
sys.exit(background._child(sys.argv[1:]))
"""


def _write_course(folder: Path, n_files: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        paras = [f"Lecture {i}, part {j}: item{i}x{j} and its properties, with example {i * 10 + j}."
                 for j in range(4)]
        (folder / f"lecture{i:02d}.md").write_text(f"# Lecture {i}\n\n" + "\n\n".join(paras) + "\n")
    return folder


def _chunk_ids(data: Path) -> list[str]:
    from probllms_tui.rag import store

    store.wipe_cache()  # what is on disk now, not this process's cached view
    col = store.connect(data, None).get_collection(store.COLLECTION, embedding_function=None)
    return sorted(cid for cid, _, _ in store.iter_records(col, ["metadatas"]))


def _check_marked_if_cut_short(data: Path, notes: Path, fresh: list[str], run: int) -> None:
    """A build cut short says so in the index, for the next start to finish it (app/services/notes.py)."""
    from probllms_tui.rag import store
    from probllms_tui.rag.retrieve import open_retriever

    store.wipe_cache()
    try:
        retriever = open_retriever(data)
    except store.NotesIndexError:
        return  # killed while Chroma created its files: the restart rebuilds (checked below)
    if retriever is None or sorted(retriever.ids) == fresh:
        return
    assert retriever.unfinished_notes_dir() == notes.resolve(), f"run {run}: cut short but not marked"


@pytest.fixture(scope="module")
def course_and_fresh_ids(tmp_path_factory):
    from probllms_tui.rag.service import build_index

    root = tmp_path_factory.mktemp("course")
    notes = _write_course(root / "notes")
    build_index(notes, root / "fresh")
    return notes, _chunk_ids(root / "fresh")


def test_kill_9_while_indexing_then_restart_equals_a_fresh_build(tmp_path, course_and_fresh_ids):
    from probllms_tui.rag.service import build_index

    notes, fresh = course_and_fresh_ids
    rng, cut_short = seeded(), []
    for run in range(kill_runs(1)):  # each kill restarts torch in a child: seconds; the script does 20
        data = tmp_path / f"home{run}"  # from scratch each time: a complete index would make the kill moot
        proc = start(["-c", INDEXER, str(notes), str(data)], tmp_path / "index.log")
        # after a random number of files (each a possible write), plus a little
        lines = kill_after_lines(proc, rng.randint(1, 12), rng.uniform(0, 0.3))
        cut_short.append(not any('"report"' in line for line in lines) and proc.returncode == -9)
        _check_marked_if_cut_short(data, notes, fresh, run)
        report = build_index(notes, data)  # the restart
        assert _chunk_ids(data) == fresh, f"run {run}"
        assert report["chunks_total"] == len(fresh)
    print(f"indexing killed part-way in {sum(cut_short)} of {len(cut_short)} runs")


# --- export ----------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _registered(models: Path) -> dict[str, dict]:
    manifest = models / "manifest.json"
    if not manifest.exists():
        return {}
    return {e["name"]: e for e in json.loads(manifest.read_text())["models"]}


@pytest.mark.slow
def test_kill_9_while_exporting_never_registers_a_partial_gguf(tmp_path):
    from probllms_train.tiny_model import build_tiny_model

    source = build_tiny_model(tmp_path / "tiny-llama", seed=0)
    rng, models = seeded(), tmp_path / "models"
    args = ["-m", "probllms_train.cli", "export", str(source), "--models-dir", str(models), "--name", "tiny",
            "--quant", "q8_0", "--report-n", "0"]
    killed = []
    for run in range(kill_runs(1)):
        # the export logs each step (check, convert, quantize, publish) on stderr
        proc = start(args, tmp_path / "export.log", watch="stderr")
        kill_after_lines(proc, rng.randint(1, 3), rng.uniform(0, 1.5))
        killed.append(proc.returncode == -9)
        for name, entry in _registered(models).items():  # whatever is registered is whole
            assert _sha256(models / entry["file"]) == entry["sha256"], f"run {run}: {name}"
    print(f"export killed part-way in {sum(killed)} of {len(killed)} runs")
    proc = start(args, tmp_path / "export.log")
    proc.stdout.read()
    assert proc.wait() == 0
    entry = _registered(models)["tiny-q8_0"]
    assert _sha256(models / entry["file"]) == entry["sha256"]
    from probllms_tui.engine.gguf_check import check_gguf

    check_gguf(models / entry["file"])


# --- a data build ----------------------------------------------------------------------------------
def test_kill_9_during_a_data_build_then_rerun_gives_identical_bytes(tmp_path):
    rows = REPO_ROOT / "tests" / "train_data" / "fixtures" / "mmlu.jsonl"

    def build(out: Path) -> list[str]:
        return ["-m", "probllms_train.cli", "data", "mcqa", "--source", "mmlu-science", "--split", "test",
                "--from", str(rows), "--out", str(out), "--allow-degenerate", "--seed", "3"]

    import time

    reference = tmp_path / "reference" / "mcq.jsonl"
    t0 = time.monotonic()
    proc = start(build(reference), tmp_path / "data.log")
    proc.stdout.read()
    assert proc.wait() == 0
    took = time.monotonic() - t0
    expected = reference.read_bytes()
    rng, out, killed = seeded(), tmp_path / "killed" / "mcq.jsonl", []
    for run in range(kill_runs(2)):
        proc = start(build(out), tmp_path / "data.log")
        killed.append(kill_after_seconds(proc, rng.uniform(0.3, 1.0) * took))  # most of it is start-up
        assert not out.exists() or out.read_bytes() == expected, f"run {run}: a half-written file"
    print(f"data build killed part-way in {sum(killed)} of {len(killed)} runs")
    proc = start(build(out), tmp_path / "data.log")
    proc.stdout.read()
    assert proc.wait() == 0
    assert out.read_bytes() == expected
