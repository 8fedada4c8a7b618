"""Run the real app (real model, real notes indexer) into one state, then wait for a quit key.

Not run on its own: benchmarks/quit_latency.py and tests/reliability/test_quit.py start it on
a pseudo-terminal. When the state is reached it writes ``{"ready": ...}`` (with the pids of any
indexing children) to the report file; the parent then types the quit key into the terminal
and times how long the process takes to end. The app runs through the same ``run_then_exit``
as `probllms-tui`, so the whole exit path is measured.

    python benchmarks/quit_driver.py STATE DATA_DIR REPORT [--notes DIR] [--wait S]

STATE: loading | scoring | streaming | indexing | rebuild | idle
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

STATES = ("idle", "loading", "scoring", "streaming", "indexing", "rebuild")


def main(argv: list[str]) -> None:
    state, data_dir, report = argv[0], Path(argv[1]), Path(argv[2])
    notes = Path(argv[argv.index("--notes") + 1]) if "--notes" in argv else None
    max_wait = float(argv[argv.index("--wait") + 1]) if "--wait" in argv else 0.0
    if state not in STATES:
        raise SystemExit(f"unknown state {state!r}; one of {', '.join(STATES)}")

    from probllms_tui.app.app import ProbLLMsApp
    from probllms_tui.app.config import AppConfig, index_real_notes
    from probllms_tui.app.lifecycle import run_then_exit
    from probllms_tui.app.widgets.answer_panel import AnswerPanel

    config = AppConfig(data_dir=data_dir, notes_dir=notes, rag=state in ("indexing", "rebuild"),
                       use_builtin_bank=True, notes_indexer=index_real_notes)
    app = ProbLLMsApp(config)

    def say(**fields) -> None:
        with report.open("a") as fh:
            fh.write(json.dumps(fields) + "\n")

    async def until(condition, timeout: float = float(os.environ.get("PROBLLMS_DRIVER_TIMEOUT", 300))) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                # What the app showed instead, so a state that never comes can be diagnosed.
                say(error=f"state {state} not reached in {timeout:.0f} s (model {app.model_state}, "
                          f"screen {type(app.screen).__name__}, pick {_safe(pick_text)!r})")
                app.exit(return_code=9)
                return
            await asyncio.sleep(0.005)

    def _safe(fn):
        try:
            return fn()
        except Exception as exc:  # the widget may not exist in this state
            return f"<{type(exc).__name__}>"

    def pick_text() -> str:
        return str(app.screen.query_one(AnswerPanel).query_one("#pick").render())

    def running_job():
        return next((j for j in app.notes.index_jobs if j.proc.poll() is None), None)

    async def pilot_fn(pilot) -> None:
        if state == "loading":
            await until(lambda: app.model_state == "loading")
        elif state in ("scoring", "streaming"):
            await until(lambda: app.model_state == "ready")
            await pilot.press("a")
            panel = app.screen.query_one(AnswerPanel)
            if state == "scoring":
                await until(lambda: "scoring" in pick_text())
            else:
                # A short explanation can arrive and end between two looks (the citation guard
                # holds its first words until it can judge them): then try the next question.
                def answered() -> bool:
                    return not panel.running and pick_text().startswith(("Model", "Not sure"))

                for _ in range(5):
                    await until(lambda: panel._stream is not None or answered())
                    if panel._stream is not None:
                        break
                    await pilot.press("n")
                    await pilot.pause(0.3)
                    await pilot.press("a")
                    await pilot.pause(0.3)
                await until(lambda: panel._stream is not None)
        elif state == "indexing":
            # The child has reported a file: the embedder is loading or a batch is being embedded.
            await until(lambda: running_job() is not None and running_job().last_progress is not None)
        elif state == "rebuild":
            # After the start-up check of the index (an incremental pass with --notes) is over.
            await until(lambda: app.model_state == "ready" and not any(
                w.group == "retriever" and w.is_running for w in app.workers))
            await pilot.press("f5")
            await pilot.pause(0.2)
            await pilot.press("ctrl+r")
            await until(lambda: running_job() is not None and running_job().last_progress is not None)
        if max_wait:  # land anywhere inside the state, not always at its first moment
            await asyncio.sleep(random.uniform(0, max_wait))
        job = running_job()
        say(ready=time.monotonic(), state=state, index_pids=[job.proc.pid] if job else [],
            key="q" if state != "rebuild" else "ctrl+q")

    run_then_exit(app, auto_pilot=pilot_fn)


if __name__ == "__main__":
    main(sys.argv[1:])
