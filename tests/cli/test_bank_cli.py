"""`probllms-tui bank show` and `probllms-tui export` as a user runs them (real subprocesses
for the exit codes and streams; the export's content through the same function in-process)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from probllms_tui.cli.bank import run_export
from probllms_tui.core.errors import InputError
from probllms_tui.core.readers import read_bank
from probllms_tui.store import DB_NAME, Store

REPO = Path(__file__).resolve().parents[2]
BANKS = REPO / "tests" / "core" / "fixtures" / "banks"


def cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    # The worktree's code, whatever copy of the package the environment has installed.
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROBLLMS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "probllms_tui.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO)


def test_bank_show_json_one_object_a_line_and_summary_on_stderr(tmp_path):
    proc = cli(["bank", "show", "--json", str(BANKS / "course.xml"), str(BANKS / "course.gift")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 11
    assert set(rows[0]) == {"stem", "options", "answer", "topic", "explanation", "source", "id"}
    assert rows[0]["source"] == "course.xml:11" and rows[0]["answer"] == "B" and rows[0]["topic"] == "Physics"
    assert rows[2]["explanation"] is None
    err = proc.stderr.splitlines()
    assert f"{BANKS / 'course.xml'}: read 5 question(s); skipped 5:" in err[5]
    assert "1 multi-answer multichoice" in err[5]
    assert err[0] == f"{BANKS / 'course.xml'}:43: skipped (multi-answer multichoice): multichoice with several right answers (<single>false</single>)"
    assert err[-1].startswith(f"{BANKS / 'course.gift'}: read 6 question(s); skipped 6:")


@pytest.mark.parametrize("name,content,where", [
    ("cut.xml", b'<?xml version="1.0"?>\n<quiz>\n<question type="truefalse">\n', "cut.xml:4: malformed XML"),
    ("open.gift", b"::Q:: Which? {\n=a ~b\n\n", "open.gift:1: '{' opens an answer block"),
    ("zip.apkg", None, "zip.apkg: a zip without collection.anki2"),
])
def test_malformed_files_exit_2_with_one_line(tmp_path, name, content, where):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "not a deck")
    else:
        path.write_bytes(content)
    proc = cli(["bank", "show", str(path)], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: ") and where in proc.stderr


# --- export --------------------------------------------------------------------------------

@pytest.fixture
def history(tmp_path) -> tuple[Path, Path, list]:
    """A data dir where three GIFT-bank questions were answered: two wrong last time."""
    home = tmp_path / "home"
    bank = BANKS / "course.gift"
    questions = read_bank(bank).questions
    store = Store.open(home)
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    store.record_answer(questions[0].id, questions[0].subject, "B", False, when=when)
    store.record_answer(questions[1].id, questions[1].subject, "B", True, when=when)
    store.record_answer(questions[2].id, questions[2].subject, "B", False, when=when)
    store.record_answer(questions[0].id, questions[0].subject, "A", True, when=when)  # fixed later
    store.record_answer(questions[5].id, questions[5].subject, "A", False, when=when)
    store.record_answer("not-in-any-bank", "", "A", False, when=when)
    store.close()
    return home, bank, questions


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_export_mistakes_as_gift_reads_back_and_leaves_the_store_alone(history, tmp_path, capsys):
    home, bank, questions = history
    before = fingerprint(home)
    out = tmp_path / "mistakes.gift"
    assert run_export(True, "gift", out, [bank], home) == 0
    assert fingerprint(home) == before
    again = read_bank(out, strict=True).questions
    assert [q.id for q in again] == [questions[2].id, questions[5].id]
    key = lambda q: (q.stem, q.options, q.answer, q.subject, q.explanation)  # noqa: E731
    assert [key(q) for q in again] == [key(questions[2]), key(questions[5])]
    err = capsys.readouterr().err
    assert "1 of 3 mistakes are in no bank read here" in err and "wrote 2 mistakes as gift" in err


def test_export_all_as_csv_reads_back(history, tmp_path):
    home, bank, questions = history
    out = tmp_path / "all.csv"
    assert run_export(False, "csv", out, [bank], home) == 0
    again = read_bank(out, strict=True).questions
    assert [q.id for q in again] == [questions[i].id for i in (0, 1, 2, 5)]
    assert again[0].explanation == questions[0].explanation and again[0].subject == "Biology"


def test_export_apkg_updates_instead_of_duplicating(history, tmp_path):
    home, bank, questions = history
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    assert run_export(False, "apkg", first, [bank], home) == 0
    assert run_export(False, "apkg", second, [bank], home) == 0

    def notes(path: Path) -> list[tuple]:
        with zipfile.ZipFile(path) as z:
            (tmp_path / "col").write_bytes(z.read("collection.anki2"))
        con = sqlite3.connect(tmp_path / "col")
        rows = con.execute("SELECT guid, mid, flds FROM notes ORDER BY guid").fetchall()
        con.close()
        return rows

    a, b = notes(first), notes(second)
    assert len(a) == 4 and [r[:2] for r in a] == [r[:2] for r in b]  # same guids and note type
    import genanki

    assert {r[0] for r in a} == {genanki.guid_for(questions[i].id) for i in (0, 1, 2, 5)}
    fields = next(r[2] for r in a if r[0] == genanki.guid_for(questions[0].id)).split("\x1f")
    assert fields[0] == "Which molecule carries amino acids to the ribosome?"
    assert "tRNA ✓" in fields[1] and fields[2] == "tRNA = transfer RNA."


def test_our_apkg_export_reads_back_as_the_same_questions(history, tmp_path):
    """Read as flashcards, each option became a whole option list with the tick on it, and the
    ids changed, so the answer history no longer mapped: our note type is read as MCQs."""
    home, bank, questions = history
    out = tmp_path / "all.apkg"
    assert run_export(False, "apkg", out, [bank], home) == 0
    again = read_bank(out, strict=True).questions
    key = lambda q: (q.id, q.stem, q.options, q.answer, q.subject, q.explanation)  # noqa: E731
    assert sorted(map(key, again)) == sorted(key(questions[i]) for i in (0, 1, 2, 5))


def test_export_command_line(history, tmp_path):
    home, bank, _ = history
    out = tmp_path / "m.gift"
    proc = cli(["export", "--mistakes", "--out", str(out), "--bank", str(bank), "--data-dir", str(home)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(read_bank(out).questions) == 2
    proc = cli(["export", "--out", str(out)], tmp_path)
    assert proc.returncode == 2 and proc.stderr == "error: choose what to export: --mistakes or --all\n"


def test_export_refusals(history, tmp_path, capsys):
    home, bank, _ = history
    with pytest.raises(InputError, match="unknown export format 'doc'"):
        run_export(False, "doc", tmp_path / "x.doc", [bank], home)
    with pytest.raises(InputError, match="does not exist"):
        run_export(False, "gift", tmp_path / "no" / "x.gift", [bank], home)
    assert run_export(True, "gift", tmp_path / "e.gift", [], tmp_path / "new") == 1
    assert "nothing to export" in capsys.readouterr().err
    assert not (tmp_path / "e.gift").exists()
    assert not (tmp_path / "new" / DB_NAME).exists()  # reading an empty history creates nothing
