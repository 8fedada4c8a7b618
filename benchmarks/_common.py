"""Shared helpers for the benchmark scripts: where the real data lives, and statistics."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# One statistics module for the benchmarks and `probllms-train bench`: the same Wilson
# interval (scipy) and the same percentile (numpy, linear interpolation) in every table.
from probllms_train.bench.stats import percentile, wilson_interval  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The real evaluation data folder: $PROBLLMS_SHARED_DATA (configuration, not a path this
    repository assumes), or None."""
    value = os.environ.get("PROBLLMS_SHARED_DATA")
    return Path(value) if value else None


def require_shared_file(name: str) -> Path | None:
    """The shared data file, or None after printing why the benchmark skips it."""
    folder = shared_data_dir()
    if folder is None:
        print(f"skip: {name}: set PROBLLMS_SHARED_DATA to the real data folder", file=sys.stderr)
        return None
    path = folder / name
    if not path.is_file():
        print(f"skip: {path} not found (set PROBLLMS_SHARED_DATA to the real data folder)",
              file=sys.stderr)
        return None
    return path
