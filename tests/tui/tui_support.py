"""Constants and helpers the app tests share (a plain module: `from conftest import` is fragile)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BANK = DATA / "bank.jsonl"
BAD_BANK = DATA / "bad_bank.jsonl"
FIXED_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


async def settle(app, pilot, seconds: float = 0.05) -> None:
    """Let the workers finish and the UI process what they posted."""
    await pilot.pause(seconds)
    await app.workers.wait_for_complete()
    await pilot.pause(seconds)
