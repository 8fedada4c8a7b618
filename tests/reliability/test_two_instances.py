"""Two instances on one data dir: the second works and says why it does not index notes;
neither corrupts the other's SQLite store or Chroma index.

The first instance is a real process holding the app's lock and answering questions into the
shared store as fast as it can; the second is the real app, run with Pilot in this process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from textual.widgets import Static

from probllms_tui.app.app import ProbLLMsApp
from probllms_tui.app.config import AppConfig

REPO_ROOT = Path(__file__).resolve().parents[2]

FIRST = """
import sys
import time
from pathlib import Path
from probllms_tui.app.lifecycle import InstanceLock
from probllms_tui.store import Store
home = Path(sys.argv[1])
lock = InstanceLock(home)  # what ProbLLMsApp takes first thing
store = Store.open(home)
print("owner" if lock.owner else "not owner", flush=True)
i = 0
while True:
    store.record_answer(f"first{i:06d}", "math", "A", True)
    i += 1
    # Hundreds of answers a second, yet a gap between them: with no gap at all, SQLite's
    # busy handler let this loop starve the other writer on a loaded machine, which no
    # student's app does.
    time.sleep(0.002)
"""


sys.path.insert(0, str(REPO_ROOT / "tests" / "tui"))
from fakes import FakeEngine, engine_factory  # noqa: E402  the scripted engine at the Engine boundary
from tui_support import until_model_ready  # noqa: E402


def _app(home: Path, bank: Path, indexed: list) -> ProbLLMsApp:
    def indexer(notes_dir, data_dir, progress=None, **kw):  # records a call the second must not make
        indexed.append(notes_dir)
        return {"indexed": 0, "removed": 0, "skipped": []}

    config = AppConfig(data_dir=home, banks=[bank], use_builtin_bank=False, notes_dir=REPO_ROOT / "notes",
                       engine_factory=engine_factory(FakeEngine()), retriever_factory=lambda d: None,
                       notes_indexer=indexer)
    return ProbLLMsApp(config)


async def test_a_second_instance_practises_but_leaves_the_index_to_the_first(tmp_path):
    home, bank = tmp_path / "home", tmp_path / "bank.jsonl"
    bank.write_text(json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": "B"}) + "\n")
    first = subprocess.Popen([sys.executable, "-c", FIRST, str(home)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        assert first.stdout.readline().strip() == "owner"
        indexed: list = []
        app = _app(home, bank, indexed)
        async with app.run_test(size=(100, 30)) as pilot:
            await until_model_ready(app, pilot)
            messages = [n.message for n in app._notifications]
            assert any("another ProbLLMs is running on" in m and "does not index notes" in m for m in messages)
            assert app.model_state == "ready"  # the point where the owner starts indexing
            assert indexed == [] and not app.instance.owner
            await pilot.press("b")  # practising still works, into the same store as the first
            await pilot.pause(0.2)
            assert "Correct" in str(app.screen.query_one("#feedback", Static).render())
            await pilot.press("f5")
            await pilot.pause(0.2)
            await pilot.press("ctrl+r")
            await pilot.pause(0.1)
            assert any(m.startswith("Not rebuilt: another ProbLLMs") for m in (n.message for n in app._notifications))
            app.workers.cancel_all()
    finally:
        first.send_signal(signal.SIGKILL)  # the first instance dies mid-answer: the lock goes with it
        first.wait()
    with sqlite3.connect(home / "probllms.sqlite3") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        firsts = con.execute("SELECT COUNT(*) FROM answers WHERE question_id LIKE 'first%'").fetchone()[0]
        ours = con.execute("SELECT COUNT(*) FROM answers WHERE question_id NOT LIKE 'first%'").fetchone()[0]
        cards = con.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
    assert firsts > 0 and ours == 1 and cards == firsts + ours

    indexed = []
    app = _app(home, bank, indexed)  # the next start owns the data dir again
    async with app.run_test(size=(100, 30)) as pilot:
        await until_model_ready(app, pilot)
        assert app.instance.owner and indexed == [REPO_ROOT / "notes"]
