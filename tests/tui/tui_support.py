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


async def until_model_ready(app, pilot, seconds: float = 10.0) -> None:
    """The model is loaded and what its arrival starts (indexing, for the data dir's owner)
    is over."""
    for _ in range(int(seconds / 0.05)):
        if app.model_state == "ready":
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)
    await app.workers.wait_for_complete()
