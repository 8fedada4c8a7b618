"""Thread counts for llama.cpp, chosen from what is measured now rather than "all cores".

Measured on this project's 2-core machines with Gemma 270M Q4_K_M:
- a quiet machine (benchmarks/engine_speed.py, raw llama-cpp-python): generation 79 tok/s with 1 thread, 20 with 2; prompt
  processing 500 tok/s with 1 thread, 970 with 2.
- benchmarks/engine_speed.py (--parts threads), 2026-11-25, load average ~20 on 2 cores:
  generation 3.4 tok/s with 1 thread vs 0.6 with 2 (0.18x); prompt 37 tok/s with 1 thread
  vs 15 with 2 (0.41x). A thread that waits for a descheduled sibling spins at the barrier.
- benchmarks/engine_speed.py, 2026-11-26, idle machine (load average 0.0): generation
  27.5 tok/s with 1 thread vs 39.3 with 2 (1.43x); prompt 247 vs 328 tok/s (1.33x).

Why generation still uses half the cores: two threads win 1.4x only on an idle machine,
lose 4-5x as soon as anything else runs (a browser, the indexer, the app's own UI thread
rendering the streamed Markdown), and the load seen when the model opens says little about
the load a minute later. The downside is far larger than the upside.

Prompt processing (scoring) is compute-bound and scales on an idle machine but loses on a
busy one, so its thread count is chosen by measurement when the engine opens: a short timed
decode with each candidate count (``probe``). Without a probe it follows what other
processes use right now (Linux /proc/stat over a short window, minus this process's own CPU
time). The 1-minute load average used before counted this program's own previous work: a
benchmark started right after another ran on one thread while a core stayed idle.
``PROBLLMS_THREADS=gen,batch`` overrides both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

# A larger count must win by this much: extra threads also take a core from the app's UI
# thread and from other programs, which a tie does not repay.
MARGIN = 1.10


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS/Windows
        return max(1, os.cpu_count() or 1)


def _env_override() -> tuple[int, int] | None:
    env = os.environ.get("PROBLLMS_THREADS")
    if not env:
        return None
    try:
        gen, _, batch = env.partition(",")
        g = max(1, int(gen))
        return g, max(1, int(batch or g))
    except ValueError:
        return None  # a malformed override falls back to the measured default


def _busy_seconds() -> float | None:
    """CPU seconds all processes have used (Linux), or None where /proc/stat is absent."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_busy_cores(window: float = 0.25) -> float | None:
    """Cores other processes kept busy over the next ``window`` seconds (None: unknown)."""
    a, own_a, t_a = _busy_seconds(), sum(os.times()[:2]), time.monotonic()
    if a is None:
        return None
    time.sleep(window)
    b, own_b, t_b = _busy_seconds(), sum(os.times()[:2]), time.monotonic()
    return max(0.0, ((b - a) - (own_b - own_a)) / max(1e-6, t_b - t_a))


def pick_fastest(probe: Callable[[int], float], candidates: list[int], rounds: int = 2,
                 clear_win: float = 1.5) -> tuple[int, dict[int, float]]:
    """Run ``probe(n)`` (a rate, e.g. tokens/s, with ``n`` threads) for each candidate and
    keep each one's best. Further rounds (interleaved, so a burst of load hits all alike)
    run only while no count wins by ``clear_win``: on a busy machine one round of a slow
    count is already expensive and tells enough. Returns the chosen count (a larger one
    only when MARGIN faster) and the rates."""
    rates: dict[int, float] = {}
    for _ in range(rounds):
        for n in candidates:
            rates[n] = max(rates.get(n, 0.0), probe(n))
        ordered = sorted(rates.values())
        if ordered[-1] >= ordered[-2] * clear_win:
            break
    best = candidates[0]
    for n in candidates[1:]:
        if rates[n] >= rates[best] * MARGIN:
            best = n
    return best, rates


def choose_threads_explained(probe: Callable[[int], float] | None = None) -> tuple[int, int, str]:
    """(generation threads, prompt threads, how the prompt count was chosen)."""
    override = _env_override()
    if override:
        return (*override, "PROBLLMS_THREADS")
    cores = usable_cores()
    gen = max(1, cores // 2)
    if cores == 1:
        return 1, 1, "one core"
    if probe is not None:
        best, rates = pick_fastest(probe, sorted({gen, cores}))
        timed = ", ".join(f"{n}: {rates[n]:.0f}" for n in sorted(rates))
        return gen, best, f"measured at open (tokens/s by threads {timed})"
    busy = others_busy_cores()
    if busy is None:
        return gen, cores, "all cores (load unknown)"
    batch = gen if busy >= cores / 2 else cores
    return gen, batch, f"other processes use {busy:.1f} of {cores} cores"


def choose_threads(probe: Callable[[int], float] | None = None) -> tuple[int, int]:
    """Return (generation_threads, batch_threads)."""
    gen, batch, _ = choose_threads_explained(probe)
    return gen, batch
