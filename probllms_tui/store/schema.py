"""Schema versions of the SQLite store and the migrations between them.

The version lives in ``PRAGMA user_version``. Each migration moves the database one version
forward inside a transaction and only ever adds: tables, columns, rows derived from what is
there. Nothing a student answered is dropped or rewritten, so an old database always opens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 2

# v1: the first release kept answers and settings only.
V1 = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    chosen TEXT NOT NULL,
    correct INTEGER NOT NULL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_question ON answers(question_id);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# v2: FSRS cards (one per question) and the model's pick next to each answer.
V2 = """
CREATE TABLE IF NOT EXISTS cards (
    question_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL DEFAULT '',
    due TEXT NOT NULL,
    card_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_due ON cards(due);
ALTER TABLE answers ADD COLUMN model_answer TEXT;
ALTER TABLE answers ADD COLUMN source TEXT NOT NULL DEFAULT '';
"""


def _run(con: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would COMMIT the migration's transaction early.
    for stmt in filter(str.strip, script.split(";")):
        con.execute(stmt)


def _to_v1(con: sqlite3.Connection) -> None:
    _run(con, V1)


def _to_v2(con: sqlite3.Connection) -> None:
    _run(con, V2)
    # Rebuild the schedule of a v1 history by replaying its answers through FSRS, so a
    # student upgrading keeps their due dates instead of starting over.
    from probllms_tui.store.srs import replay

    rows = con.execute(
        "SELECT question_id, subject, correct, answered_at FROM answers ORDER BY id").fetchall()
    for question_id, subject, card in replay(rows):
        con.execute("INSERT OR REPLACE INTO cards(question_id, subject, due, card_json) VALUES (?,?,?,?)",
                    (question_id, subject, card.due.isoformat(), card.to_json()))


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _to_v1, 2: _to_v2}


def migrate(con: sqlite3.Connection) -> int:
    """Bring ``con`` up to SCHEMA_VERSION; returns the version it started at."""
    start = con.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"database schema v{start} is newer than this program (v{SCHEMA_VERSION}); upgrade probllms")
    for version in range(start + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](con)
            con.execute(f"PRAGMA user_version = {version}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return start
