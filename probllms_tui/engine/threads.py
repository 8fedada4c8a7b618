"""Thread counts for llama.cpp, chosen from what was measured rather than "all cores".

Measured on this project's 2-core machines (shared/NOTES.md, benchmarks/engine_speed.py):
token-by-token generation is memory-bound and suffers from contention, so on a busy 2-core
box 1 generation thread ran ~4x faster than 2 (79 vs 20 tok/s, Gemma 270M Q4_K_M); prompt
processing is compute-bound and does scale (500 -> 970 tok/s from 1 to 2 threads).
So: prompt (batch) threads = usable cores; generation threads = half the cores (at least 1),
leaving room for the UI thread and the OS. ``PROBLLMS_THREADS=gen,batch`` overrides both.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS/Windows
        return max(1, os.cpu_count() or 1)


def choose_threads() -> tuple[int, int]:
    """Return (generation_threads, batch_threads)."""
    env = os.environ.get("PROBLLMS_THREADS")
    if env:
        try:
            gen, _, batch = env.partition(",")
            g = max(1, int(gen))
            return g, max(1, int(batch or g))
        except ValueError:
            pass  # a malformed override falls back to the measured default
    cores = usable_cores()
    return max(1, cores // 2), cores
