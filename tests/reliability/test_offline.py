"""No network at run time: `ask`, `notes` and `bench mcqa`, and the app, behave the same with
the network gone.

Offline means a new network namespace with no interfaces (`unshare -rn`: even loopback is
down), where every connect fails at once. Where unshare is not allowed, a sitecustomize
makes ``socket.connect`` raise for anything but loopback in the child instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BANK = REPO_ROOT / "tests" / "export" / "mcq_small.jsonl"
QUESTION = "Which gas do plants take in for photosynthesis?\nA. oxygen\nB. carbon dioxide\nC. nitrogen\nD. helium"

# Runs the three CLIs in one interpreter (start-up is the slow part) and prints what they said.
SESSION = """
import io, json, sys, contextlib
from pathlib import Path
from probllms_tui.cli.errors import run_cli
from probllms_tui.cli.main import app as tui
from probllms_train.cli import app as train
home, notes, bank, out, question = sys.argv[1:6]

def call(app, args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            run_cli(app, args=args, prog_name="x")
        except SystemExit as exc:
            assert not exc.code, (args, exc.code)
    return buf.getvalue()

ask = json.loads(call(tui, ["ask", question, "--json", "--no-rag", "--data-dir", home]))
index = json.loads(call(tui, ["notes", "index", notes, "--json", "--data-dir", home]))
hits = json.loads(call(tui, ["notes", "search", "Dijkstra shortest paths", "--json", "--data-dir", home]))
call(train, ["bench", "mcqa", "--model", "gemma3-270m-q4_k_m", "--data", bank, "--limit", "3",
             "--out", out, "--no-progress", "--threads", "1,1"])
bench = json.loads((Path(out) / "results.json").read_text())
print(json.dumps({"ask": {k: ask[k] for k in ("answer", "probabilities", "method", "model")},
                  "index": {k: index[k] for k in ("indexed", "chunks_total", "skipped")},
                  "hits": [(h["path"], h.get("lines"), round(h["score"], 6)) for h in hits],
                  "bench": [{k: r[k] for k in ("model", "n", "correct", "accuracy", "errors", "method")}
                            for r in bench["runs"]]}))
"""

BLOCK_CONNECT = """
import socket
_connect = socket.socket.connect
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(101, "Network is unreachable (blocked by the offline test)")
    return _connect(self, address)
socket.socket.connect = connect
"""


@cache
def offline_prefix(tmp: str) -> tuple[list[str], dict]:
    """How to start a child with no network: ``unshare -rn`` when allowed, else a sitecustomize."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"], {}
    site = Path(tmp) / "offline-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCK_CONNECT)
    return [], {"PYTHONPATH": f"{site}{os.pathsep}{REPO_ROOT}"}


def _session(tmp: Path, label: str, offline: bool) -> dict:
    sys.path.insert(0, str(REPO_ROOT / "tests" / "rag"))
    from fixtures import write_notes

    notes = write_notes(tmp / label / "notes")  # the same folder name: citations start with it
    prefix, env = offline_prefix(str(tmp)) if offline else ([], {})
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # as conftest sets for every test
    cmd = [*prefix, sys.executable, "-c", SESSION, str(tmp / f"home-{label}"), str(notes), str(BANK),
           str(tmp / f"bench-{label}"), QUESTION]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ask_notes_and_bench_behave_the_same_offline(tmp_path):
    if os.environ.get("PROBLLMS_OFFLINE_COMPARE"):  # the full comparison: twice the time
        online = _session(tmp_path, "online", False)
    else:  # what the same session gives online, checked in tests/cli, tests/rag and tests/bench
        online = None
    offline = _session(tmp_path, "offline", True)
    assert offline["ask"]["answer"] == "B" and offline["ask"]["model"] == "gemma3-270m-q4_k_m"
    assert abs(sum(offline["ask"]["probabilities"].values()) - 1) < 1e-3
    assert offline["index"]["indexed"] == 4 and offline["index"]["chunks_total"] > 0
    assert offline["hits"] and offline["hits"][0][0] == "notes/graphs.tex"
    assert offline["bench"][0]["n"] == 3 and offline["bench"][0]["errors"] == 0
    if online is not None:
        assert offline == online


@pytest.mark.slow
def test_the_app_streams_an_explanation_and_quits_offline(tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from quit_latency import quit_once

    prefix, env = offline_prefix(str(tmp_path))
    result = quit_once("streaming", tmp_path / "home", prefix=prefix, env=env, timeout=600)
    assert result["exit_code"] == 0 and result["store_ok"]
    assert result["latency_s"] < 5  # a hang guard; the speed goal lives in benchmarks/quit_latency.py
