"""Shared helpers for the benchmark scripts: where the real data lives, and statistics."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """../shared/data relative to the repo root, or $PROBLLMS_SHARED_DATA."""
    return Path(os.environ.get("PROBLLMS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def require_shared_file(name: str) -> Path | None:
    """The shared data file, or None after printing why the benchmark skips it."""
    path = shared_data_dir() / name
    if not path.is_file():
        print(f"skip: {path} not found (set PROBLLMS_SHARED_DATA to the real data folder)",
              file=sys.stderr)
        return None
    return path


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion k/n (good at small n, unlike p +/- 2se)."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]
