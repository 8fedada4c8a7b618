"""Thread counts for llama.cpp, chosen from what was measured rather than "all cores".

Measured on this project's 2-core machines with Gemma 270M Q4_K_M:
- shared/NOTES.md, quiet machine: generation 79 tok/s with 1 thread, 20 with 2; prompt
  processing 500 tok/s with 1 thread, 970 with 2.
- benchmarks/engine_speed.py (--parts threads), 2026-11-25, load average ~20 on 2 cores:
  generation 3.4 tok/s with 1 thread vs 0.6 with 2 (0.18x); prompt 37 tok/s with 1 thread
  vs 15 with 2 (0.41x). A thread that waits for a descheduled sibling spins at the barrier.
- benchmarks/engine_speed.py, 2026-11-26, idle machine (load average 0.0): generation
  27.5 tok/s with 1 thread vs 39.3 with 2 (1.43x); prompt 247 vs 328 tok/s (1.33x).

Why generation still uses half the cores: two threads win 1.4x only on an idle machine,
lose 4-5x as soon as anything else runs (a browser, the indexer, the app's own UI thread
rendering the streamed Markdown), and the load average seen when the model opens says
little about the load a minute later. The downside is far larger than the upside.

Token-by-token generation is memory-bound and suffers from contention, so generation uses
half the cores (1 on 2 cores). Prompt processing is compute-bound and scales on an idle
machine, so it uses every core unless the machine is already busy (1-minute load average at
least half the cores), where fewer threads ran faster. ``PROBLLMS_THREADS=gen,batch``
overrides both.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS/Windows
        return max(1, os.cpu_count() or 1)


def machine_busy(cores: int) -> bool:
    """True when other work already keeps about half the cores busy (Unix load average)."""
    try:
        return os.getloadavg()[0] >= cores / 2
    except (AttributeError, OSError):  # Windows has no load average
        return False


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
    gen = max(1, cores // 2)
    return gen, (max(gen, cores // 2) if machine_busy(cores) else cores)
