"""Index the notes in a child process that the app can stop, or abandon, at any moment.

Why a process and not a thread: embedding a batch (torch) and writing it (Chroma) cannot be
interrupted in-process, and on a busy 2-core laptop one batch takes seconds to a minute.
Quitting the app used to wait for it. Now the app sends SIGTERM and leaves at once; the child
stops at once unless a Chroma write is in flight, which it finishes first, so nothing is left
half-written. If the app itself is killed, the child notices (its parent changes) and stops
the same way. The indexer is incremental, so the next start carries on from there.

Protocol: the child prints one JSON object per line on stdout: ``{"progress": [done, total,
path]}``, then ``{"report": {...}}``, ``{"error": "..."}`` or ``{"stopped": true}``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from probllms_tui.core.errors import ProbLLMsError

EXIT_STOPPED = 3
LOCK_WAIT_S = 60.0  # an abandoned child of the previous run may still be finishing its batch


class IndexingStopped(Exception):
    """The indexing child was asked to stop (the app is quitting) before it finished."""


class IndexingFailed(ProbLLMsError):
    """The indexing child reported an error or died; the message is one line."""


# --- the child -------------------------------------------------------------------------------
class _StopPoint:
    """Where the child may stop: at once outside a Chroma write, right after one inside it.

    Embedding a batch (and importing torch first) takes tens of seconds on a loaded machine and
    writes nothing, so stopping there loses only work the next run redoes; stopping inside a
    write could leave Chroma's files half-written, so a write in flight always finishes first.
    """

    def __init__(self, say):
        self.say = say
        self.writing = 0
        self.requested = False

    @contextmanager
    def writes(self):
        self.writing += 1
        try:
            yield
        finally:
            self.writing -= 1
            if self.requested and not self.writing:
                self.leave()

    def request(self, *_args) -> None:  # a signal handler: runs between bytecodes of the main thread
        self.requested = True
        if not self.writing:
            self.leave()

    def leave(self) -> None:
        self.say({"stopped": True})
        os._exit(EXIT_STOPPED)


def _watch_parent(parent: int) -> None:
    # The app was killed (kill -9, a closed terminal): stop as if it had asked.
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _child(argv: list[str]) -> int:
    notes_dir, data_dir = Path(argv[0]), Path(argv[1])
    rebuild = "--rebuild" in argv[2:]
    parent = os.getppid()

    def say(obj: dict) -> None:
        try:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):  # the app is gone; the watchdog stops us
            pass

    stop = _StopPoint(say)
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's ctrl+c belongs to the app
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()

    def progress(done: int, total: int, path: str) -> None:
        say({"progress": [done, total, path]})

    from probllms_tui.rag.indexer import build_index
    from probllms_tui.rag.store import IndexBusyError

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            report = build_index(notes_dir, data_dir, rebuild=rebuild, progress=progress, writes=stop.writes)
            break
        except IndexBusyError as exc:
            if time.monotonic() > deadline:
                say({"error": exc.message})
                return 2
            time.sleep(0.5)
        except ProbLLMsError as exc:
            say({"error": exc.message})
            return 2
        except Exception as exc:  # noqa: BLE001  reported as one line, the log has the trace
            import traceback

            traceback.print_exc()
            from probllms_tui.core.errors import one_line

            say({"error": f"{type(exc).__name__}: {one_line(exc)}"})
            return 1
    say({"report": report})
    return 0


# --- the parent ------------------------------------------------------------------------------
class IndexJob:
    """One indexing child: start it, relay its progress, stop it without waiting."""

    def __init__(self, notes_dir: Path, data_dir: Path, *, rebuild: bool = False):
        log_dir = Path(data_dir) / "notes_index"
        log_dir.mkdir(parents=True, exist_ok=True)
        # The child's stderr (torch warnings, a traceback) goes to a file, never the app's
        # terminal, which Textual is drawing on.
        self.log_path = log_dir / "indexer.log"
        cmd = [sys.executable, "-m", "probllms_tui.rag.background", str(notes_dir), str(data_dir)]
        if rebuild:
            cmd.append("--rebuild")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)
        self._buffer = b""
        self.last_progress: tuple[int, int, str] | None = None  # what the child last reported

    def stop(self) -> None:
        """Ask the child to stop at its next file boundary; does not wait for it."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    def wait(self, progress: Callable[[int, int, str], None] | None = None,
             should_stop: Callable[[], bool] = lambda: False, poll_s: float = 0.1) -> dict:
        """Relay progress until the child ends; returns its report.

        Raises IndexingStopped (after signalling the child, without waiting for it) when
        ``should_stop()`` turns true or ``progress`` raises, IndexingFailed on an error.
        """
        fd = self.proc.stdout.fileno()
        result: dict | None = None
        while True:
            if should_stop():
                self.stop()
                raise IndexingStopped
            ready, _, _ = select.select([fd], [], [], poll_s)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if "progress" in msg:
                    self.last_progress = tuple(msg["progress"])
                if "progress" in msg and progress is not None:
                    try:
                        progress(*msg["progress"])
                    except Exception:
                        self.stop()
                        raise
                elif "progress" not in msg:
                    result = msg
        code = self.proc.wait()
        if result is None:
            raise IndexingFailed(f"the indexer stopped unexpectedly (exit {code}); see {self.log_path}")
        if "error" in result:
            raise IndexingFailed(result["error"])
        if result.get("stopped"):
            raise IndexingStopped
        return result["report"]


def index_in_child(notes_dir: Path, data_dir: Path, *, rebuild: bool = False,
                   progress: Callable[[int, int, str], None] | None = None,
                   should_stop: Callable[[], bool] = lambda: False,
                   started: Callable[[IndexJob], None] | None = None) -> dict:
    """Index in a child process; ``started(job)`` lets the caller keep it to stop on exit."""
    job = IndexJob(notes_dir, data_dir, rebuild=rebuild)
    if started is not None:
        started(job)
    return job.wait(progress, should_stop)


if __name__ == "__main__":
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    sys.exit(_child(sys.argv[1:]))
