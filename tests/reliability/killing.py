"""Start a real child process and kill -9 it at a random point.

How many kills a test makes: PROBLLMS_KILL_RUNS (the suite keeps it small; run it once with
20 to check "20 in a row", see docs/measurements.md). The random seed is printed and can be
fixed with PROBLLMS_KILL_SEED to replay a failure.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def kill_runs(default: int) -> int:
    return int(os.environ.get("PROBLLMS_KILL_RUNS", default))


def seeded() -> random.Random:
    seed = int(os.environ.get("PROBLLMS_KILL_SEED", time.time_ns() % 2**32))
    print(f"PROBLLMS_KILL_SEED={seed}")
    return random.Random(seed)


def start(args: list[str], log: Path, *, watch: str = "stdout") -> subprocess.Popen:
    """The child with ``watch`` (stdout or stderr) readable as ``proc.stdout``; the other to ``log``."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with log.open("ab") as other:
        if watch == "stdout":
            return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=other, env=env,
                                    text=True, cwd=REPO_ROOT)
        proc = subprocess.Popen([sys.executable, *args], stdout=other, stderr=subprocess.PIPE, env=env,
                                text=True, cwd=REPO_ROOT)
    proc.stdout = proc.stderr
    return proc


def kill_after_lines(proc: subprocess.Popen, lines: int, extra_s: float, timeout: float = 600) -> list[str]:
    """kill -9 ``extra_s`` seconds after the child printed ``lines`` lines (or when it ends)."""
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        seen.append(line)
        if len(seen) >= lines or time.monotonic() > deadline:
            break
    time.sleep(extra_s)
    if proc.poll() is None:
        # The child may still end on its own between poll() and the signal: a zombie ignores
        # SIGKILL, so the exit code is then its own. Either way it has stopped, which is all
        # the callers rely on; they read proc.returncode to tell the two apart.
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return seen


def kill_after_seconds(proc: subprocess.Popen, seconds: float) -> bool:
    """kill -9 after ``seconds`` unless it ended first; True when it was killed."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode == -signal.SIGKILL
