"""`probllms-tui ask` and `probllms-tui models` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "probllms-tui"
QUESTION = "Which gas do plants take in for photosynthesis? A) oxygen B) carbon dioxide C) helium"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    models.mkdir()
    return {**os.environ, "PROBLLMS_HOME": str(home), "PROBLLMS_MODELS": str(models),
            "PROBLLMS_THREADS": "1,2", "PROBLLMS_DISCOVER": "off"}  # none of this machine's Ollama etc.


def run(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    if not BIN.exists():
        pytest.skip(f"{BIN} not installed (pip install -e .)")
    return subprocess.run([str(BIN), *args], input=stdin, capture_output=True, env=env, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert len(lines[0]) < 300
    assert proc.stdout == b""


@pytest.mark.slow
def test_ask_json_has_exactly_the_documented_shape(env):
    proc = run(["ask", "--json", QUESTION], env)
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert set(out) == {"answer", "probabilities", "calibrated", "confidence_band", "method", "model",
                        "latency_ms", "sources", "evidence"}
    # the default model ships a calibration: its probabilities are calibrated and banded
    assert out["calibrated"] is True and out["confidence_band"] in ("confident", "unsure", "guessing")
    assert out["evidence"] is None  # no notes index, so no evidence
    assert out["answer"] in ("A", "B", "C")
    assert list(out["probabilities"]) == ["A", "B", "C"]
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=2e-4)
    assert out["answer"] == max(out["probabilities"], key=out["probabilities"].get)
    assert out["method"] == "cloze" and out["model"] == "gemma3-270m-q4_k_m"
    assert isinstance(out["latency_ms"], (int, float)) and out["latency_ms"] > 0
    assert out["sources"] == []  # no notes index in a fresh data dir


@pytest.mark.slow
def test_ask_reads_stdin_dash_and_explains(env):
    text = "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9\n"
    proc = run(["ask", "-", "--json", "--explain", "--max-tokens", "8", "--method", "letter", "--no-rag"],
               env, stdin=text.encode())
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert set(out) == {"answer", "probabilities", "calibrated", "confidence_band", "method", "model",
                        "latency_ms", "sources", "evidence", "explanation"}
    assert out["method"] == "letter" and list(out["probabilities"]) == ["A", "B", "C", "D"]
    assert out["explanation"].endswith("\u2026 (length limit: --max-tokens)")  # 8 tokens: cut, and said


@pytest.mark.slow
def test_ask_heads_the_explanation_with_what_the_pick_is_worth(env):
    text = "Which number is prime?\nA) 4\nB) 6\nC) 7\nD) 9\n"
    proc = run(["ask", "-", "--explain", "--max-tokens", "4", "--no-rag"], env, stdin=text.encode())
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    first = out.splitlines()[0]
    if first.startswith("Not sure: the model is guessing"):
        assert "\nExplanation of a guess (the model is near chance here" in out
    elif "unsure" in first:
        assert "\nExplanation (the model is unsure of its pick):" in out
    else:
        assert first.startswith("Answer: ") and "\nExplanation:" in out


@pytest.mark.slow
def test_ask_cites_notes_that_answer_and_none_for_off_topic_questions(env, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "graphs.md").write_text("# Graphs\n\n## Shortest paths\n\nDijkstra's algorithm computes shortest "
                                     "paths from one source when every edge weight is non-negative.\n")
    indexed = run(["notes", "index", str(notes)], env)
    assert indexed.returncode == 0, indexed.stderr.decode()
    on = json.loads(run(["ask", "--json", "Which algorithm computes shortest paths when edge weights are "
                                          "non-negative? A) Dijkstra's algorithm B) Bubble sort C) Binary search "
                                          "D) Huffman coding"], env).stdout)
    assert [s["citation"] for s in on["sources"]] == ["notes/graphs.md:5-5"]
    if on["confidence_band"] != "confident":  # evidence first when the model is not sure
        assert on["evidence"]["citation"] == on["sources"][0]["citation"] and "Dijkstra" in on["evidence"]["text"]
    off = json.loads(run(["ask", "--json", "Which organelle makes ATP in eukaryotic cells? A) mitochondrion "
                                           "B) ribosome C) Golgi apparatus D) lysosome"], env).stdout)
    assert off["sources"] == [] and off["evidence"] is None
    text = run(["ask", "Which organelle makes ATP? A) mitochondrion B) ribosome C) lysosome"], env).stdout.decode()
    assert "No relevant notes for this question." in text


@pytest.mark.parametrize("stdin,fragment", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"Which is prime? A) 4 B) 6\n" * 40_000, "characters"),
    (bytes(range(256)) * 64, "binary"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00", "binary"),
    (b"Which number is prime? Explain why.", "no options"),
    (b"Which number is prime?\nA) 7", "only one option"),
], ids=["empty", "blank", "1MB-text", "binary-bytes", "elf-header", "no-options", "one-option"])
def test_bad_input_exits_2_with_one_line(env, stdin, fragment):
    assert_one_line_error(run(["ask", "--json", "-"], env, stdin=stdin), fragment)


def test_empty_argument_exits_2(env):
    assert_one_line_error(run(["ask", ""], env), "empty")


@pytest.mark.parametrize("content,fragment", [
    (b"not a model at all\n" * 100, "not a GGUF model file"),
    (b"GGUF\x03\x00\x00\x00" + b"\xff" * 64, "GGUF"),
], ids=["text-file", "damaged-header"])
def test_corrupt_model_exits_2_with_one_line(env, tmp_path, content, fragment):
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(content)
    assert_one_line_error(run(["ask", "--json", "--model", str(bad), QUESTION], env), fragment)


def test_unknown_model_name_exits_2(env):
    assert_one_line_error(run(["ask", "--model", "no-such-model", QUESTION], env), "unknown model")


def test_models_json_lists_the_default(env, tmp_path):
    dropped = Path(env["PROBLLMS_MODELS"]) / "mine.gguf"
    dropped.write_bytes(b"GGUF" + b"\x00" * 60)
    proc = run(["models", "--json"], env)
    assert proc.returncode == 0, proc.stderr.decode()
    rows = json.loads(proc.stdout)
    default = rows[0]
    assert default["name"] == "gemma3-270m-q4_k_m" and default["default"] is True
    assert default["quantization"] == "Q4_K_M" and default["scoring_method"] == "cloze"
    assert default["size_bytes"] > 200_000_000 and Path(default["path"]).is_file()
    assert [r["name"] for r in rows[1:]] == ["mine"]  # a dropped-in file shows, unregistered
    assert rows[1]["registered"] is False


def test_unknown_method_exits_2(env):
    assert_one_line_error(run(["ask", "--method", "vibes", QUESTION], env), "is not one of")


@pytest.mark.parametrize("args,fragment", [
    (["ask", "--bogus"], "No such option: --bogus"),
    (["notes", "search", "x", "--mode", "nope"], "'nope' is not one of 'hybrid', 'vector', 'bm25'"),
    (["models", "add", "--scoring", "vibes", "x.gguf"], "'vibes' is not one of 'letter', 'cloze'"),
], ids=["unknown-option", "bad-search-mode", "bad-scoring-choice"])
def test_usage_errors_are_one_line_too(env, args, fragment):
    """Typer's own usage errors (unknown option, a value not on a choice list) come out as
    one `error:` line and exit 2, like ours, not as a drawn box."""
    assert_one_line_error(run(args, env), fragment)


def test_app_options_before_a_subcommand_reach_it_or_are_refused(env, tmp_path):
    """`probllms-tui --model X ask ...` once answered with the default model in silence, and
    `--notes DIR ask` ignored DIR: an app option now reaches the subcommand's own option."""
    assert_one_line_error(run(["--model", "no-such-model", "ask", QUESTION], env), "unknown model 'no-such-model'")
    assert_one_line_error(run(["--notes", str(tmp_path / "absent"), "ask", QUESTION], env), "notes folder not found")
    assert_one_line_error(run(["--bank", "x.gift", "ask", QUESTION], env), "--bank is an option of the app, not of `ask`")
    assert_one_line_error(run(["--model", "m", "models"], env), "--model is an option of the app, not of `models`")


@pytest.mark.slow
def test_ask_notes_brings_the_folder_into_the_index_and_cites_it(env, tmp_path):
    notes = tmp_path / "thermo notes"
    notes.mkdir()
    (notes / "carnot.md").write_text("# Heat engines\n\nThe Carnot efficiency 1 - Tc/Th bounds every heat engine "
                                     "working between two reservoirs.\n")
    question = ("What bounds the efficiency of a heat engine between two reservoirs? A) The Carnot efficiency "
                "B) Ohm's law C) Bernoulli's principle D) Hooke's law")
    proc = run(["ask", "--json", "--notes", str(notes), question], env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert [s["citation"] for s in json.loads(proc.stdout)["sources"]] == ["thermo notes/carnot.md:3-3"]
    assert "indexed 1 note file(s)" in proc.stderr.decode()
    again = run(["--notes", str(notes), "ask", "--json", question], env)  # unchanged: nothing embedded
    assert json.loads(again.stdout)["sources"][0]["path"] == "thermo notes/carnot.md"
    assert "indexed" not in again.stderr.decode()


@pytest.mark.slow
def test_ask_without_a_notes_index_says_how_to_get_one(env):
    out = run(["ask", QUESTION], env).stdout.decode()
    assert "No notes index yet: `probllms-tui notes index DIR`" in out
    assert "No notes index" not in run(["ask", "--no-rag", QUESTION], env).stdout.decode()
