"""SQLite store: answers, FSRS schedule and settings in the user's data dir."""

from probllms_tui.store.settings import Settings
from probllms_tui.store.store import DB_NAME, Store, TopicStats

__all__ = ["DB_NAME", "Settings", "Store", "TopicStats"]
