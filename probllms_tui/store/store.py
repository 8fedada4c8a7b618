"""The SQLite store: answers, the FSRS schedule and settings, in the user's data dir.

Durability: WAL journal, ``synchronous=FULL`` and one committed transaction per answer, so a
``kill -9`` right after answering loses nothing. When the data dir cannot be written (read-only
media, permissions) the store keeps working in memory, seeded from the existing database if
it can be read, and says so in ``problem``: the app shows a banner instead of crashing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from probllms_tui.store import srs
from probllms_tui.store.schema import migrate
from probllms_tui.store.settings import BANKS_KEY, Settings, bank_paths_from_json

DB_NAME = "probllms.sqlite3"


@dataclass
class TopicStats:
    subject: str
    answered: int = 0
    correct: int = 0
    streak: int = 0  # consecutive right answers, most recent first
    due: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    con = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False, timeout=5)
    con.execute("PRAGMA foreign_keys = ON")
    return con


class Store:
    def __init__(self, con: sqlite3.Connection, path: Path | None, problem: str = ""):
        self.con = con
        self.path = path  # None: in memory only
        self.problem = problem  # why answers are not being saved, "" when they are

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path) -> "Store":
        path = Path(data_dir) / DB_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = _connect(str(path))
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = FULL")
            migrate(con)
            version = con.execute("PRAGMA user_version").fetchone()[0]
            con.execute(f"PRAGMA user_version = {version}")  # a real write: fails if read-only
            return cls(con, path)
        except (OSError, sqlite3.Error) as exc:
            return cls._in_memory(path, f"cannot save to {path.parent} ({exc}); "
                                        "answers this session are kept in memory only")

    @classmethod
    def memory(cls) -> "Store":
        con = _connect(":memory:")
        migrate(con)
        return cls(con, None)

    @classmethod
    def _in_memory(cls, path: Path, problem: str) -> "Store":
        mem = cls.memory()
        if path.exists():
            try:  # keep showing the student's history even when we cannot add to it
                copy = _connect(":memory:")
                src = _connect(f"file:{path}?mode=ro&immutable=1", uri=True)
                src.backup(copy)
                src.close()
                migrate(copy)
                mem.con.close()
                mem.con = copy
            except sqlite3.Error:  # unreadable or from a newer version: start empty
                pass
        mem.problem = problem
        return mem

    @classmethod
    def read_only(cls, data_dir: Path) -> "Store":
        """A copy in memory of the stored history, for reports and exports.

        Nothing is written to the data dir, not even a schema upgrade: an export must leave
        what the student has stored exactly as it was.
        """
        path = Path(data_dir) / DB_NAME
        mem = cls.memory()
        if not path.exists():
            return mem
        # Without a -wal file the database file is complete: "immutable" reads it without
        # creating the -wal/-shm files that even a read-only WAL connection leaves behind.
        # With one (the app is running) those files exist already and hold recent answers.
        wal = path.with_name(path.name + "-wal").exists()
        try:
            src = _connect(f"file:{path}?mode=ro" + ("" if wal else "&immutable=1"), uri=True)
            copy = _connect(":memory:")
            src.backup(copy)
            src.close()
            migrate(copy)
        except sqlite3.Error as exc:
            raise sqlite3.DatabaseError(f"cannot read {path}: {exc}") from None
        mem.con.close()
        mem.con = copy
        return mem

    def close(self) -> None:
        self.con.close()

    # --- answers and schedule -----------------------------------------------------------
    def record_answer(self, question_id: str, subject: str, chosen: str, correct: bool,
                      *, source: str = "", when: datetime | None = None) -> None:
        """Store the answer and the question's next review, committed before returning."""
        when = when or srs.now()
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "INSERT INTO answers(question_id, subject, chosen, correct, answered_at, source) "
                "VALUES (?,?,?,?,?,?)",
                (question_id, subject, chosen, int(correct), when.isoformat(), source))
            card = self.card(question_id) or srs.new_card(question_id)
            card = srs.review(card, correct, when)
            con.execute("INSERT OR REPLACE INTO cards(question_id, subject, due, card_json) VALUES (?,?,?,?)",
                        (question_id, subject, card.due.isoformat(), card.to_json()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def set_model_answer(self, question_id: str, letter: str) -> None:
        """The model's pick on the student's latest answer to this question (for later review)."""
        self.con.execute(
            "UPDATE answers SET model_answer = ? WHERE id = "
            "(SELECT MAX(id) FROM answers WHERE question_id = ?)", (letter, question_id))

    def card(self, question_id: str):
        row = self.con.execute("SELECT card_json FROM cards WHERE question_id = ?", (question_id,)).fetchone()
        return srs.load_card(row[0]) if row else None

    def due_ids(self, when: datetime | None = None) -> list[str]:
        """Questions whose review is due, most overdue first."""
        when = when or srs.now()
        rows = self.con.execute("SELECT question_id FROM cards WHERE due <= ? ORDER BY due, question_id",
                                (when.isoformat(),)).fetchall()
        return [r[0] for r in rows]

    def seen_ids(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT question_id FROM cards")}

    def mistake_ids(self) -> list[str]:
        """Questions whose latest answer was wrong, oldest mistake first."""
        rows = self.con.execute(
            "SELECT a.question_id FROM answers a JOIN "
            "(SELECT question_id, MAX(id) AS last FROM answers GROUP BY question_id) l "
            "ON a.id = l.last WHERE a.correct = 0 ORDER BY a.id").fetchall()
        return [r[0] for r in rows]

    def answered_ids(self) -> list[str]:
        """Every question answered at least once, in the order first answered."""
        rows = self.con.execute(
            "SELECT question_id FROM answers GROUP BY question_id ORDER BY MIN(id)").fetchall()
        return [r[0] for r in rows]

    def question_stats(self, ids: list[str]) -> tuple[int, int]:
        """(answered, right on the latest answer) among ``ids``: a bank's progress."""
        wanted = set(ids)
        answered = right = 0
        for question_id, correct in self.con.execute(
                "SELECT a.question_id, a.correct FROM answers a JOIN "
                "(SELECT MAX(id) AS last FROM answers GROUP BY question_id) l ON a.id = l.last"):
            if question_id in wanted:
                answered += 1
                right += correct
        return answered, right

    # --- question banks the student opened in the app -------------------------------------
    def load_bank_paths(self) -> list[str]:
        row = self.con.execute("SELECT value FROM settings WHERE key = ?", (BANKS_KEY,)).fetchone()
        return bank_paths_from_json(row[0]) if row else []

    def save_bank_paths(self, paths: list[str]) -> None:
        self.con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                         (BANKS_KEY, json.dumps(list(paths))))

    def answer_count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def topic_stats(self, when: datetime | None = None) -> list[TopicStats]:
        when = when or srs.now()
        stats: dict[str, TopicStats] = {}
        for subject, correct in self.con.execute("SELECT subject, correct FROM answers ORDER BY id DESC"):
            s = stats.setdefault(subject or "general", TopicStats(subject or "general"))
            s.answered += 1
            s.correct += correct
            if s.streak == s.answered - 1 and correct:
                s.streak += 1
        for subject, n in self.con.execute("SELECT subject, COUNT(*) FROM cards WHERE due <= ? GROUP BY subject",
                                           (when.isoformat(),)):
            stats.setdefault(subject or "general", TopicStats(subject or "general")).due = n
        return sorted(stats.values(), key=lambda s: s.subject)

    # --- one-time notices ---------------------------------------------------------------
    # Kept in the settings table under a prefix Settings never reads, so a notice the student
    # has seen ("this model is near chance on ...") is not shown again on every start.
    def notice_seen(self, key: str) -> bool:
        return self.con.execute("SELECT 1 FROM settings WHERE key = ?", (f"notice:{key}",)).fetchone() is not None

    def mark_notice_seen(self, key: str) -> None:
        with self.con:
            self.con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, 'true')", (f"notice:{key}",))

    # --- settings -----------------------------------------------------------------------
    def load_settings(self) -> tuple[Settings, list[str]]:
        rows, problems = {}, []
        for key, value in self.con.execute("SELECT key, value FROM settings"):
            try:
                rows[key] = json.loads(value)
            except (TypeError, ValueError):  # a hand-edited or damaged row: its default, reported
                problems.append(f"setting {key}={str(value)[:40]!r} ignored: not valid JSON "
                                f"(in {self.path or 'memory'})")
        settings, more = Settings.from_rows(rows)
        return settings, problems + more

    def save_settings(self, settings: Settings) -> None:
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            for key, value in settings.as_dict().items():
                con.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, json.dumps(value)))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
