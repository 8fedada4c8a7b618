"""Start and end of the app's process: one owner per data dir, and a quit that never waits.

Why quitting waited (13-17 s on a busy 2-core machine): Textual runs thread workers in
asyncio's default executor, and ``asyncio.run`` joins that executor's threads on the way
out, as does the interpreter at exit. A thread inside llama.cpp (scoring a prompt) or torch
(embedding a batch) cannot be interrupted, so the terminal came back only when it finished.

Now the app runs on a loop we own (no executor join), closes the store in ``on_unmount``,
and the process leaves with ``os._exit``: abandoned threads only ever read (the model, the
notes index); every write (answers, settings) happens on the UI thread and is committed, and
the notes are indexed in a child process (rag/background.py) that stops cleanly on its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import NoReturn

LOCK_NAME = "app.lock"


class InstanceLock:
    """Who owns a data dir: the first app holds ``app.lock`` (flock) for its lifetime.

    The owner indexes the notes; a second app on the same dir still practises and saves
    answers (SQLite handles two writers) but never writes the notes index, because Chroma is
    not safe for two writing processes on one directory. The kernel drops the lock when its
    holder dies, kill -9 included, so a stale lock never locks a student out.
    """

    def __init__(self, data_dir: Path):
        from filelock import FileLock, Timeout

        self.path = Path(data_dir) / LOCK_NAME
        self.owner = False
        self.problem = ""
        self._lock = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.path))
            lock.acquire(timeout=0)
        except Timeout:
            self.problem = (f"another ProbLLMs is running on {self.path.parent}: this one practises and saves "
                            "answers but does not index notes (answers use the index as it is)")
        except OSError as exc:
            self.problem = f"cannot lock {self.path} ({exc.strerror}): notes will not be indexed"
        else:
            self._lock, self.owner = lock, True

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock, self.owner = None, False


def run_then_exit(app, **run_options) -> NoReturn:
    """Run the Textual app, then end the process at once, whatever threads are still busy.

    ``run_options`` go to ``App.run`` (benchmarks/quit_driver.py passes an auto-pilot)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app.exit_at_once = True
    code = 1
    try:
        # With our own loop, App.run uses run_until_complete: no asyncio.run, no executor join.
        app.run(loop=loop, **run_options)
        code = app.return_code or 0
    except BaseException:  # noqa: BLE001  show a crash, then still leave without waiting
        import traceback

        traceback.print_exc()
    finally:
        _flush_and_exit(code)


def leave_now(app, code: int = 0) -> NoReturn:
    """Quit from the UI thread without Textual's teardown of every widget.

    That teardown is in-memory work only, but it costs 0.2 s of CPU, several times that on a
    loaded 2-core machine. Everything that matters is done here: the app releases the store,
    the model and its indexing children, the terminal is restored, and the process ends.
    """
    trace("quit")
    try:
        app.release(ending=True)
        trace("released")
    finally:
        driver = app._driver
        if driver is not None:
            try:
                driver.stop_application_mode()
                driver.close()  # the writer thread flushes the escape codes that restore the terminal
            except Exception:  # noqa: BLE001  a vanished terminal must not keep us here
                pass
        trace("terminal restored")
        _flush_and_exit(code)


def trace(step: str) -> None:
    """Append ``step monotonic-time`` to $PROBLLMS_QUIT_TRACE (benchmarks/quit_latency.py
    reads it to say where a slow quit spent its time); nothing when unset."""
    path = os.environ.get("PROBLLMS_QUIT_TRACE")
    if path:
        import time

        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{step} {time.monotonic()}\n")


def _flush_and_exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001  a closed terminal must not keep us here
            pass
    os._exit(code)
