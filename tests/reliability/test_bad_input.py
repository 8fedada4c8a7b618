"""The bad-input sweep (docs/bad-input.md): each kind of bad input gets one line saying what
and where, a non-zero exit, no traceback, and the app keeps running.

CLI rows run the real typer apps in this process (clirun.py); notes rows run `notes index`
once over a folder holding every kind of bad note; app rows run the real app with Pilot.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clirun import run  # noqa: E402
from tiny_gguf import write_gguf  # noqa: E402

QUESTION = "Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Mercury"
GOOD_ROW = {"question": "2+2?", "choices": ["3", "4"], "answer": "B", "subject": "math"}


def assert_one_line_error(outcome, *fragments: str) -> str:
    assert outcome.code != 0, outcome
    assert "Traceback" not in outcome.err + outcome.out, outcome.err
    lines = outcome.error_lines
    assert len(lines) == 1, outcome.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- pasted text: `probllms-tui ask` ------------------------------------------------------------
PASTES = {
    "paste-empty": ("   \n  ", "empty input"),
    "paste-stem-only": ("What is the largest planet?", "no options found"),
    "paste-one-option": ("What is 2+2?\nA. 4", "only one option"),
    "paste-too-many-options": ("Which is it?\n" + "\n".join(f"{i}. x{i}" for i in range(1, 13)), "at most"),
    "paste-no-stem": ("A. Mars\nB. Jupiter", "no question stem"),
    "paste-answer-not-an-option": ("Which is it?\nA. x\nB. y\nAnswer: F", "does not name one of the 2 options"),
    "paste-huge": ("x" * 70_000, "a question is at most"),
}


@pytest.mark.parametrize("row", list(PASTES))
def test_pasted_text(row):
    text, expected = PASTES[row]
    assert_one_line_error(run("probllms-tui", ["ask", text, "--no-rag"]), expected)


@pytest.mark.parametrize("row,data,expected", [
    ("paste-binary-stdin", b"\x00\x01\x02\x03binary\x00" * 20, "binary data"),
    ("paste-invalid-utf8-stdin", bytes(range(128, 256)) * 4, "binary data"),
    ("paste-empty-stdin", b"", "empty input"),
])
def test_pasted_on_stdin(row, data, expected):
    assert_one_line_error(run("probllms-tui", ["ask", "-", "--no-rag"], stdin=data), expected)


# --- question banks: `probllms-train data check FILE` ------------------------------------------
def _jsonl(*rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


BANKS: dict[str, tuple[str, bytes | None, str]] = {
    # row: (file name, content (None: special), expected fragment)
    "bank-jsonl-invalid-json": ("bank.jsonl", _jsonl('{"question": "x", "choices": ['), "invalid JSON"),
    "bank-jsonl-array-not-object": ("bank.jsonl", _jsonl([1, 2, 3]), "expected a JSON object"),
    "bank-jsonl-missing-question": ("bank.jsonl", _jsonl({"choices": ["a", "b"], "answer": "A"}), "'question'"),
    "bank-jsonl-choices-not-a-list": ("bank.jsonl", _jsonl({"question": "q", "choices": "a b", "answer": "A"}),
                                      "'choices' must be a list"),
    "bank-jsonl-answer-out-of-range": ("bank.jsonl", _jsonl({"question": "q", "choices": ["a", "b"], "answer": "E"}),
                                       "answer"),
    "bank-jsonl-not-utf8": ("bank.jsonl",
                            '{"question": "caf\xe9", "choices": ["a", "b"], "answer": "A"}\n'.encode("latin-1"),
                            "not a UTF-8 text file"),
    "bank-jsonl-binary": ("bank.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a UTF-8"),
    "bank-csv-missing-columns": ("bank.csv", b"stem,options\nq,a||b\n", "needs 'question' and 'answer'"),
    "bank-csv-oversized-field": ("bank.csv", b"question,choices,answer\n" + b"q" * 200_000 + b",a||b,A\n",
                                 "malformed CSV"),
    "bank-csv-not-utf8": ("bank.csv", "question,choices,answer\ncaf\xe9,a||b,A\n".encode("latin-1"), "not a UTF-8"),
    "bank-csv-one-option": ("bank.csv", b"question,choices,answer\nq,only one,A\n", "no valid questions"),
    "bank-unknown-extension": ("bank.xyz", b"question? a b\n", "unknown bank format"),
    "bank-txt-no-format": ("bank.txt", b"question? a b\n", "cannot tell the format of this .txt"),
    "bank-missing-file": ("nope.jsonl", None, "file not found"),
    "bank-is-a-folder": ("folder.jsonl", None, "is a folder"),
    "bank-dangling-symlink": ("link.jsonl", None, "file not found"),
}


@pytest.mark.parametrize("row", list(BANKS))
def test_bank_file(row, tmp_path):
    name, content, expected = BANKS[row]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    elif row == "bank-is-a-folder":
        path.mkdir()
    elif row == "bank-dangling-symlink":
        path.symlink_to(tmp_path / "gone.jsonl")
    assert_one_line_error(run("probllms-train", ["data", "check", str(path)]), expected, name)


# --- model files: `probllms-tui ask --model FILE` ----------------------------------------------
def _model_file(row: str, tmp: Path, default_gguf: Path) -> Path:
    path = tmp / f"{row}.gguf"
    if row == "model-missing":
        return path
    if row == "model-folder":
        path.mkdir()
    elif row == "model-text-file":
        path.write_text("these are my notes, not a model\n" * 10)
    elif row == "model-empty":
        path.write_bytes(b"")
    elif row == "model-truncated":
        with default_gguf.open("rb") as src:
            path.write_bytes(src.read(1 << 20))  # cut inside the vocabulary: found early
    elif row == "model-garbage-header":
        path.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    elif row == "model-3-token-vocabulary":
        write_gguf(path, n_vocab=3)
    elif row == "model-unknown-architecture":
        write_gguf(path, arch="notarealarch", n_vocab=300)
    return path


MODELS = {
    "model-missing": "not found",
    "model-folder": "is a folder",
    "model-text-file": "not a GGUF model file",
    "model-empty": "not a GGUF model file",
    "model-truncated": "truncated",
    "model-garbage-header": "GGUF",
    "model-3-token-vocabulary": "broken vocabulary: 3 tokens",
    "model-unknown-architecture": "unknown model architecture: 'notarealarch'",
}


@pytest.mark.parametrize("row", list(MODELS))
def test_model_file(row, tmp_path, default_gguf):
    path = _model_file(row, tmp_path, default_gguf)
    line = assert_one_line_error(run("probllms-tui", ["ask", QUESTION, "--no-rag", "--model", str(path)]),
                                 MODELS[row])
    assert path.name in line


def test_model_unknown_registry_name(tmp_path):
    assert_one_line_error(run("probllms-tui", ["ask", QUESTION, "--no-rag", "--model", "no-such-model",
                                               "--models-dir", str(tmp_path)]), "unknown model 'no-such-model'")


# --- training recipes: `probllms-train train show --recipe FILE` --------------------------------
RECIPES = {
    "recipe-missing-file": (None, [], "recipe file not found"),
    "recipe-not-yaml": ("model: [unclosed\n", [], "not valid YAML"),
    "recipe-a-list": ("- a\n- b\n", [], "YAML mapping"),
    "recipe-unknown-key": ("inherit: tiny-cpu\nwarp_speed: 9\n", [], "warp_speed: unknown key"),
    "recipe-wrong-type": ("inherit: tiny-cpu\ndpo:\n  max_steps: many\n", [], "dpo.max_steps"),
    "recipe-bad-override": ("inherit: tiny-cpu\n", ["max_steps"], "is not key=value"),
    "recipe-inherits-itself": ("inherit: recipe\n", [], "inherits from itself"),
}


@pytest.mark.parametrize("row", list(RECIPES))
def test_recipe(row, tmp_path):
    text, overrides, expected = RECIPES[row]
    path = tmp_path / "recipe.yaml"
    if text is not None:
        path.write_text(text)
    argv = ["train", "show", "--recipe", str(path)] + [a for o in overrides for a in ("--set", o)]
    assert_one_line_error(run("probllms-train", argv), expected)


def test_recipe_data_file_missing_stops_training_not_show(tmp_path):
    """`train show` reads a recipe before its data exists (it notes the missing file); training
    is what needs the data, and refuses with one line before anything is built."""
    path = tmp_path / "recipe.yaml"
    path.write_text("inherit: tiny-cpu\ndata:\n  train: nowhere.jsonl\n")
    assert_one_line_error(run("probllms-train", ["train", "dpo", "--recipe", str(path), "--output",
                                                 str(tmp_path / "run")]), "data.train: file not found")
    assert not (tmp_path / "run").exists()


# --- datasets: the data builders and the benchmark ---------------------------------------------
def test_dataset_rows_malformed(tmp_path):
    rows = tmp_path / "arc.jsonl"
    rows.write_text('{"id": "1", "question": {"stem": "q"}}\nnot json at all\n')
    argv = ["data", "mcqa", "--source", "arc-easy", "--split", "train", "--from", str(rows),
            "--out", str(tmp_path / "out.jsonl")]
    assert_one_line_error(run("probllms-train", argv), "arc.jsonl:1:")


def test_dataset_preference_student_file_not_json(tmp_path):
    bad = tmp_path / "student.json"
    bad.write_text("[{\"prompt\": \"unterminated")
    argv = ["data", "preference", "--out", str(tmp_path / "pairs"), "--student", str(bad)]
    assert_one_line_error(run("probllms-train", argv), "student.json:1: invalid JSON")


def test_dataset_bench_bank_not_utf8(tmp_path, default_gguf):
    bank = tmp_path / "eval.jsonl"
    bank.write_bytes(b"\xff\xfe" + "{}".encode("utf-16-le"))
    argv = ["bench", "mcqa", "--model", "gemma3-270m-q4_k_m", "--data", str(bank), "--out", str(tmp_path / "res")]
    assert_one_line_error(run("probllms-train", argv), "eval.jsonl")


# --- notes: `probllms-tui notes index DIR`, every bad kind in one folder -------------------------
NOTES = {
    "notes-binary-md": ("binary.md", "binary content"),
    "notes-huge-file": ("huge.txt", "too large"),
    "notes-wrong-encoding": ("latin1.txt", "not UTF-8"),
    "notes-symlink-loop": ("loop.md", "symbolic links"),
    "notes-dangling-symlink": ("dangling.md", "No such file"),
    "notes-fake-pdf": ("slides.pdf", "corrupt PDF"),
    "notes-truncated-pdf": ("cut.pdf", "corrupt PDF"),
    "notes-unreadable-folder-entry": ("locked.md", "cannot read"),
}


def _bad_notes(folder: Path) -> Path:
    folder.mkdir()
    (folder / "binary.md").write_bytes(b"\x00\x01\x02 not text" * 100)
    with (folder / "huge.txt").open("wb") as fh:  # sparse: 21 MB on paper, nothing on disk
        fh.truncate(21 * 2**20)
    (folder / "latin1.txt").write_bytes("Th\xe9or\xe8me de Bayes\n".encode("latin-1"))
    (folder / "loop.md").symlink_to("loop.md")
    (folder / "dangling.md").symlink_to(folder / "gone.md")
    (folder / "slides.pdf").write_text("this is not a PDF\n")
    (folder / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    locked = folder / "locked.md"  # a folder named like a note: unreadable as a file
    locked.symlink_to(folder / "loop.md")
    sub = folder / "sub"  # a folder link back up: walking it must not loop
    sub.mkdir()
    (sub / "up").symlink_to(folder)
    return folder


@pytest.fixture(scope="module")
def notes_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("badnotes")
    folder = _bad_notes(root / "notes")
    return run("probllms-tui", ["notes", "index", str(folder), "--data-dir", str(root / "home")])


@pytest.mark.parametrize("row", list(NOTES))
def test_notes_file(row, notes_run):
    name, expected = NOTES[row]
    assert_one_line_error(notes_run, "error: skipped")
    warned = [line for line in notes_run.err.splitlines() if line.startswith(f"warning: skipped notes/{name}:")]
    assert len(warned) == 1 and expected in warned[0], notes_run.err


@pytest.mark.parametrize("row,make,expected", [
    ("notes-folder-missing", lambda tmp: tmp / "nope", "notes folder not found"),
    ("notes-folder-is-a-file", lambda tmp: (tmp / "notes.md").write_text("x") and tmp / "notes.md",
     "notes folder not found"),
])
def test_notes_folder(row, make, expected, tmp_path):
    folder = make(tmp_path)
    assert_one_line_error(run("probllms-tui", ["notes", "index", str(folder), "--data-dir", str(tmp_path / "h")]),
                          expected, folder.name)


# --- the app: bad banks, settings, store and model; it must keep running -------------------------
@dataclass
class AppRow:
    setup: Callable[[Path], dict]
    message: str


def _bank_with_a_bad_file(tmp: Path) -> dict:
    good = tmp / "good.jsonl"
    good.write_bytes(_jsonl(GOOD_ROW))
    bad = tmp / "bad.csv"
    bad.write_bytes(b"question,choices,answer\n" + b"q" * 200_000 + b",a||b,A\n")
    return {"banks": [bad, good]}


def _bad_settings(tmp: Path) -> dict:
    from probllms_tui.store import Store

    store = Store.open(tmp / "home")
    with store.con:
        store.con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('temperature', '\"hot\"')")
        store.con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('k', '{not json')")
    store.close()
    return {}


def _garbage_store(tmp: Path) -> dict:
    (tmp / "home").mkdir()
    (tmp / "home" / "probllms.sqlite3").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    return {}


def _newer_store(tmp: Path) -> dict:
    (tmp / "home").mkdir()
    with sqlite3.connect(tmp / "home" / "probllms.sqlite3") as con:
        con.execute("PRAGMA user_version = 99")
    return {}


def _data_dir_is_a_file(tmp: Path) -> dict:
    (tmp / "home").write_text("not a folder")
    return {}


def _broken_model(tmp: Path) -> dict:
    return {"model": str(write_gguf(tmp / "broken.gguf", n_vocab=3))}


APP_ROWS = {
    "app-bank-malformed": AppRow(_bank_with_a_bad_file, "bad.csv:2: malformed CSV"),
    "app-settings-bad-values": AppRow(_bad_settings, "setting temperature='hot' ignored"),
    "app-settings-not-json": AppRow(_bad_settings, "setting k='{not json' ignored: not valid JSON"),
    "app-store-garbage": AppRow(_garbage_store, "answers this session are kept in memory only"),
    "app-store-newer-schema": AppRow(_newer_store, "newer than this program"),
    "app-data-dir-is-a-file": AppRow(_data_dir_is_a_file, "cannot save to"),
    "app-model-3-token-vocabulary": AppRow(_broken_model, "broken vocabulary: 3 tokens"),
}


def _no_model(name, models_dir, n_ctx):
    from probllms_tui.core.errors import ModelLoadError

    raise ModelLoadError("no model in this test")


@pytest.mark.parametrize("row", list(APP_ROWS))
async def test_app_keeps_running(row, tmp_path):
    from textual.widgets import Static

    from probllms_tui.app.app import ProbLLMsApp
    from probllms_tui.app.config import AppConfig

    spec = APP_ROWS[row]
    good = tmp_path / "questions.jsonl"
    good.write_bytes(_jsonl(GOOD_ROW))
    options = {"banks": [good], **spec.setup(tmp_path)}
    if "model" not in options:
        # Not about the model: skip loading the real one (seconds on a busy machine).
        options["engine_factory"] = _no_model
    config = AppConfig(data_dir=tmp_path / "home", models_dir=tmp_path / "models", rag=False,
                       use_builtin_bank=False, **options)
    app = ProbLLMsApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.1)
        if row == "app-model-3-token-vocabulary":
            while app.model_state == "loading":
                await pilot.pause(0.05)
        notes = [n.message for n in app._notifications]
        shown = [m for m in notes if spec.message in m]
        assert len(shown) == 1 and "\n" not in shown[0] and "Traceback" not in shown[0], notes
        await pilot.press("b")  # still practising: the answer is taken and judged
        await pilot.pause(0.1)
        assert "Correct" in str(app.screen.query_one("#feedback", Static).render())
        assert app.is_running
        app.workers.cancel_all()
