"""`probllms-tui notes ...` end to end in-process (the session's embedder is reused)."""

from __future__ import annotations

import json
import sys

import pytest

pytestmark = pytest.mark.slow


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from probllms_tui.cli.main import run

    monkeypatch.setattr(sys, "argv", ["probllms-tui", *args])
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_index_search_status(monkeypatch, capsys, notes, tmp_path, embedder):
    home = str(tmp_path / "home")
    (notes / "fake.md").write_bytes(b"\x00\x01binary")
    code, out, err = _cli(monkeypatch, capsys, "notes", "index", str(notes), "--data-dir", home)
    assert code == 1 and "indexed 4 file(s)" in out and "1 skipped" in out  # non-zero: a note is missing
    assert "warning: skipped notes/fake.md: binary content" in err
    assert "error: skipped notes/fake.md: binary content" in err

    code, out, _ = _cli(monkeypatch, capsys, "notes", "search", "Dijkstra shortest paths", "--k", "2",
                        "--json", "--all", "--data-dir", home)
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2  # --all: the second, off-topic passage is shown too
    assert set(hits[0]) == {"path", "lines", "heading", "score", "similarity", "relevant", "text"}
    assert hits[0]["relevant"] and not hits[1]["relevant"]
    assert hits[0]["path"] == "notes/graphs.tex" and "Dijkstra" in hits[0]["text"]

    code, out, _ = _cli(monkeypatch, capsys, "notes", "status", "--json", "--data-dir", home)
    status = json.loads(out)
    assert status["files"] == 4 and status["chunker"] and status["last_indexed"]

    monkeypatch.setenv("PROBLLMS_HOME", home)  # the data dir from the environment, --notes from the app
    (notes / "extra.txt").write_text("Eigenvalues of a symmetric matrix are real.\n")
    code, out, _ = _cli(monkeypatch, capsys, "--notes", str(notes), "notes", "index")
    assert code == 1 and "indexed 1 file(s), 4 unchanged" in out  # fake.md is still skipped


def test_errors_are_one_line(monkeypatch, capsys, tmp_path):
    code, _, err = _cli(monkeypatch, capsys, "notes", "search", "x", "--data-dir", str(tmp_path))
    assert code == 2 and err.strip() == "error: no notes index yet: run `probllms-tui notes index` first"
    code, _, err = _cli(monkeypatch, capsys, "notes", "index", str(tmp_path / "missing"), "--data-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: notes folder not found") and err.count("\n") == 1
    code, out, _ = _cli(monkeypatch, capsys, "notes", "status", "--data-dir", str(tmp_path))
    assert code == 0 and "no notes index" in out
