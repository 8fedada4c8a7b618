"""Quit latency: from the quit key to the end of the process, in each busy state, under load.

Each try starts the real app (benchmarks/quit_driver.py) on a pseudo-terminal with a fresh
data dir, lets it reach the state, types the quit key into the terminal and times how long
the process takes to exit. Meanwhile one busy-loop process per core keeps the CPUs loaded,
as a student's browser or a second program would. The goal is <= 1 s in every state.

It also checks what quitting must not break: the exit code is 0, the SQLite store passes
`PRAGMA integrity_check`, and an indexing child the app left behind stops by itself.

    python benchmarks/quit_latency.py [--tries 10] [--states loading,scoring,...] [--no-load]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import multiprocessing
import os
import pty
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, percentile  # noqa: E402

DRIVER = REPO_ROOT / "benchmarks" / "quit_driver.py"
STATES = ["loading", "scoring", "streaming", "indexing", "rebuild"]
KEYS = {"q": b"q", "ctrl+q": b"\x11"}


def _busy() -> None:
    while True:
        pass


def start_load(n: int | None = None) -> list[multiprocessing.Process]:
    procs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(n or os.cpu_count() or 1)]
    for p in procs:
        p.start()
    return procs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(pid, 0): read its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def quit_once(state: str, data_dir: Path, *, notes: Path | None = None, wait: float = 0.0,
              timeout: float = 300.0, child_timeout: float = 120.0, prefix: list[str] = (),
              env: dict | None = None) -> dict:
    """Start the app in ``state``, press its quit key, return the timings and checks."""
    report = data_dir.parent / f"{data_dir.name}.report.jsonl"
    report.unlink(missing_ok=True)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    cmd = [*prefix, sys.executable, str(DRIVER), state, str(data_dir), str(report)]  # prefix: e.g. unshare -rn
    if notes is not None:
        cmd += ["--notes", str(notes)]
    if wait:
        cmd += ["--wait", str(wait)]
    trace = data_dir.parent / f"{data_dir.name}.trace"
    trace.unlink(missing_ok=True)
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO_ROOT), "PROBLLMS_QUIT_TRACE": str(trace),
           **(env or {})}
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    screen = bytearray()

    def drain() -> None:  # the app blocks on a full terminal if nobody reads it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk[-4096:])
            del screen[:-8192]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    result: dict = {"state": state}
    try:
        deadline = time.monotonic() + timeout
        ready = None
        while ready is None and time.monotonic() < deadline and proc.poll() is None:
            if report.exists():
                for line in report.read_text().splitlines():
                    msg = json.loads(line)
                    if "error" in msg:
                        raise RuntimeError(msg["error"])
                    ready = msg if "ready" in msg else ready
            time.sleep(0.005)
        if ready is None:
            raise RuntimeError(f"{state}: the app never reached the state (exit {proc.poll()}): "
                               f"{bytes(screen[-600:]).decode('utf-8', 'replace')!r}")
        os.write(master, KEYS[ready["key"]])
        pressed = time.monotonic()
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{state}: the app did not exit within 60 s of {ready['key']}") from None
        ended = time.monotonic()
        result["latency_s"] = ended - pressed
        result["exit_code"] = code
        # Where the time went: key press -> quit action -> each release step -> process gone.
        steps, last = [], pressed
        for line in (trace.read_text().splitlines() if trace.exists() else []):
            name, _, t = line.rpartition(" ")
            steps.append(f"{name} +{float(t) - last:.3f}")
            last = float(t)
        steps.append(f"exit +{ended - last:.3f}")
        result["steps"] = ", ".join(steps)
        # The indexing child the app left behind must stop by itself (at its next file).
        left = [pid for pid in ready["index_pids"] if _alive(pid)]
        result["index_child_alive_at_exit"] = bool(left)
        t0 = time.monotonic()
        while any(_alive(p) for p in left) and time.monotonic() - t0 < child_timeout:
            time.sleep(0.05)
        result["index_child_stopped_after_s"] = round(time.monotonic() - t0, 2) if left else 0.0
        result["index_child_still_running"] = any(_alive(p) for p in left)
        db = data_dir / "probllms.sqlite3"
        if db.exists():
            with sqlite3.connect(db) as con:
                result["store_ok"] = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return result
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        os.close(master)


def prebuilt_index(workdir: Path, notes: Path | None) -> Path:
    """A data dir with the notes already indexed, copied for each rebuild try."""
    template = workdir / "template-home"
    if not template.exists():
        from probllms_tui.core.paths import default_notes_dir
        from probllms_tui.rag.background import index_in_child

        index_in_child(notes or default_notes_dir(), template)
    return template


def write_course(folder: Path, n_files: int = 40, paragraphs: int = 12) -> Path:
    """Notes big enough that indexing runs several embedding batches (the state to quit in)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        paras = [f"Lecture {i}, part {j}: the topic item{i}x{j} and its properties are discussed "
                 f"at length, with worked example {i * 100 + j} and a proof sketch." for j in range(paragraphs)]
        (folder / f"lecture{i:02d}.md").write_text(f"# Lecture {i}\n\n" + "\n\n".join(paras) + "\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=10)
    ap.add_argument("--states", default=",".join(STATES))
    ap.add_argument("--no-load", action="store_true", help="measure on an idle machine")
    ap.add_argument("--wait", type=float, default=1.0, help="random 0..S s inside each state before quitting")
    ap.add_argument("--json", type=Path, help="write every try here")
    args = ap.parse_args()
    states = args.states.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="quit-latency-"))
    load = [] if args.no_load else start_load()
    cores = os.cpu_count()
    print(f"quit latency, {args.tries} tries per state, {len(load)} busy-loop processes on {cores} cores")
    rows = []
    try:
        course = write_course(workdir / "notes")
        template = prebuilt_index(workdir, course) if "rebuild" in states else None
        for state in states:
            lat = []
            for i in range(args.tries):
                home = workdir / f"{state}-{i}"
                if state == "rebuild":
                    shutil.copytree(template, home)
                r = quit_once(state, home, notes=course if state in ("indexing", "rebuild") else None,
                              wait=0.0 if state in ("loading", "scoring") else args.wait)
                rows.append(r)
                lat.append(r["latency_s"])
                print(f"  {state:10} try {i + 1:2}: {r['latency_s']:.3f} s  exit {r['exit_code']}"
                      + (f"  indexer stopped {r['index_child_stopped_after_s']} s later"
                         if r["index_child_alive_at_exit"] else "")
                      + ("" if r.get("store_ok", True) else "  STORE DAMAGED")
                      + (f"  [{r['steps']}]" if r["latency_s"] > 1.0 else ""), flush=True)
                shutil.rmtree(home, ignore_errors=True)
            print(f"{state:10} p50 {percentile(lat, 50):.3f} s  max {max(lat):.3f} s  (n={len(lat)})", flush=True)
    finally:
        for p in load:
            p.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    bad = [r for r in rows if r["latency_s"] > 1.0 or r["exit_code"] != 0 or not r.get("store_ok", True)
           or r["index_child_still_running"]]
    print("all within 1 s, exit 0, store intact" if not bad else f"{len(bad)} tries failed the goal")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
