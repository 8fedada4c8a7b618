"""Fixtures for the bench tests: small question banks written here, a tiny HF model built
from a config in seconds, and a helper that runs `probllms-train` as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Four easy questions in the seed layout and one in the structured layout (real readers).
SEED_ROWS = [
    {"subject": "arithmetic", "question": "Question: What is 2 + 2?\n\nOptions:\nA. 3\nB. 4\nC. 5\nD. 22\n\nAnswer:", "answer": "B"},
    {"subject": "geography", "question": "Question: What is the capital of France?\n\nOptions:\nA. Berlin\nB. Madrid\nC. Paris\nD. Rome\n\nAnswer:", "answer": "C"},
    {"subject": "biology", "question": "Question: Which animal barks?\n\nOptions:\nA. dog\nB. cat\nC. fish\nD. snake\n\nAnswer:", "answer": "A"},
    {"subject": "physics", "question": "Question: Water freezes at how many degrees Celsius?\n\nOptions:\nA. 100\nB. 50\nC. 10\nD. 0\n\nAnswer:", "answer": "D"},
]
STRUCTURED_ROW = {"question": "Which colour is the sky on a clear day?", "choices": ["green", "blue", "red"],
                  "answer": 2, "subject": "geography"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_bank(tmp_path) -> Path:
    return write_jsonl(tmp_path / "small.jsonl", SEED_ROWS + [STRUCTURED_ROW])


@pytest.fixture
def degenerate_bank(tmp_path) -> Path:
    """Like MATH-test_mcqa: the right option is the same string in every row."""
    rows = []
    for i in range(20):
        pos = i % 4
        opts = [str(i + 3 + 5 * j) for j in range(4)]
        opts[pos] = r"\frac{1}{100}"
        rows.append({"question": f"Compute value number {i}.", "choices": opts, "answer": "ABCD"[pos]})
    return write_jsonl(tmp_path / "degenerate.jsonl", rows)


def probllms_train(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from probllms_train.cli import run; run()", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory) -> Path:
    from probllms_train.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_hf, tmp_path_factory) -> Path:
    """The tiny HF model as an F16 GGUF (llama.cpp's converter, as `export` runs it): the same
    weights behind both scoring backends."""
    from probllms_train.export.convert import convert_to_f16

    return convert_to_f16(tiny_hf, tmp_path_factory.mktemp("tiny-gguf") / "tiny-f16.gguf", model_name="tiny")
