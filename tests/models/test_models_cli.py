"""`probllms-tui models`, `models add`, `models pull` and `ask --model <found name>` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stores import ollama_store
from hub_server import HubServer, Repo, repo_with

QUESTION = "Which gas do plants take in for photosynthesis? A) oxygen B) carbon dioxide C) helium"


@pytest.fixture
def env(tmp_path, default_gguf, tiny) -> dict[str, str]:
    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    models.mkdir()
    store = ollama_store(tmp_path / "ollama", {"library/gemma3/270m": default_gguf,
                                               "library/gone/latest": None})
    return {**os.environ, "PROBLLMS_HOME": str(home), "PROBLLMS_MODELS": str(models),
            "PROBLLMS_THREADS": "1,2", "OLLAMA_MODELS": str(store), "PROBLLMS_DISCOVER": "ollama",
            "HF_HOME": str(tmp_path / "hf")}


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "probllms_tui.cli.main", *args], capture_output=True,
                          env=env, timeout=300, text=True)


def one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert fragment in lines[0], lines[0]
    return lines[0]


def test_models_json_lists_the_ollama_store_in_place(env, default_gguf):
    proc = cli(["models", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    gemma = rows["ollama:gemma3:270m"]
    assert gemma["source"] == "ollama" and gemma["usable"] and gemma["architecture"] == "gemma3"
    assert gemma["quantization"] == "Q4_K_M" and gemma["size_bytes"] == default_gguf.stat().st_size
    assert Path(gemma["path"]).resolve() == default_gguf.resolve()
    assert not rows["ollama:gone:latest"]["usable"] and "missing" in rows["ollama:gone:latest"]["problem"]
    text = cli(["models"], env)
    assert "ollama:gemma3:270m" in text.stdout and "unusable: blob" in text.stdout


@pytest.mark.slow
def test_ask_answers_with_a_model_found_in_ollama(env):
    proc = cli(["ask", "--json", "--no-rag", "--model", "ollama:gemma3:270m", QUESTION], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == "ollama:gemma3:270m" and list(out["probabilities"]) == ["A", "B", "C"]
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=2e-4)
    # The probe's verdict is kept: the file is not probed again on the next start.
    probes = json.loads((Path(env["PROBLLMS_HOME"]) / "model-probes.json").read_text())
    assert [v["problem"] for v in probes.values()] == [""]


@pytest.mark.parametrize("kind,fragment", [
    ("truncated", "truncated GGUF file"),
    ("three_tokens", "broken vocabulary: 3 tokens"),
    ("unknown_arch", "unknown model architecture: 'frobnicator'"),
])
def test_ask_with_a_broken_model_is_one_line_and_exit_2(env, tiny, kind, fragment):
    one_line_error(cli(["ask", "--json", "--no-rag", "--model", str(tiny[kind]), QUESTION], env), fragment)


def test_models_add_checks_then_registers_by_reference(env, tiny):
    proc = cli(["models", "add", str(tiny["ok"]), "--name", "tiny-ok", "--scoring", "letter"], env)
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads((Path(env["PROBLLMS_MODELS"]) / "manifest.json").read_text())["models"]
    assert entry["name"] == "tiny-ok" and entry["file"] == str(tiny["ok"].resolve())
    assert entry["scoring_method"] == "letter"
    assert not (Path(env["PROBLLMS_MODELS"]) / tiny["ok"].name).exists()  # not copied
    one_line_error(cli(["models", "add", str(tiny["three_tokens"])], env), "broken vocabulary")
    one_line_error(cli(["models", "add", str(tiny["ok"]), "--name", "ollama:x"], env), "not a plain name")
    rows = json.loads(cli(["models", "--json"], env).stdout)
    assert [r["name"] for r in rows if r["source"] == "registry"] == ["tiny-ok"]


def test_pull_downloads_verifies_and_registers(env, tiny):
    with HubServer({"test/tiny-GGUF": repo_with(tiny["ok"], "tiny-q4_k_m.gguf"),
                    "test/tampered": repo_with(tiny["ok"], recorded_sha={"tiny.gguf": "0" * 64})}) as hub:
        hub_env = {**env, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0"}
        proc = cli(["models", "pull", "test/tiny-GGUF"], hub_env)
        assert proc.returncode == 0, proc.stderr
        assert "verified" in proc.stdout
        pulled = Path(env["PROBLLMS_MODELS"]) / "tiny-q4_k_m.gguf"
        assert pulled.read_bytes() == tiny["ok"].read_bytes()
        [entry] = json.loads((Path(env["PROBLLMS_MODELS"]) / "manifest.json").read_text())["models"]
        assert entry["file"] == "tiny-q4_k_m.gguf" and entry["base_model"] == "test/tiny-GGUF"
        assert len(entry["sha256"]) == 64
        line = one_line_error(cli(["models", "pull", "test/tampered"], hub_env), "does not match")
        assert "removed" in line and not (Path(env["PROBLLMS_MODELS"]) / "tiny.gguf").exists()
        one_line_error(cli(["models", "pull", "test/tiny-GGUF", "other.gguf"], hub_env), "has no file 'other.gguf'")
        one_line_error(cli(["models", "pull", "test/nope"], hub_env), "no repository 'test/nope'")
        assert all(r.split()[1].startswith(("/api/", "/test/")) for r in hub.requests)
        one_line_error(cli(["models", "pull", "test/tiny-GGUF"], {**hub_env, "HF_HUB_OFFLINE": "1"}), "offline")
    # The server is gone: nothing listens on that port any more.
    one_line_error(cli(["models", "pull", "test/tiny-GGUF"], hub_env), "cannot reach")
