"""The SQLite store: answers survive kill -9, old schemas migrate without loss, bad dirs don't crash."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from probllms_tui.store import DB_NAME, Settings, Store
from probllms_tui.store.schema import SCHEMA_VERSION, V1

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def test_answers_commit_before_record_answer_returns_so_kill_9_loses_nothing(tmp_path):
    # A child process answers, prints "answered", then waits to be killed. SIGKILL gives
    # SQLite no chance to flush or close: only what was committed survives.
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from probllms_tui.store import Store
        store = Store.open(Path({str(tmp_path)!r}))
        assert not store.problem, store.problem
        store.record_answer("q1", "ml", "B", True)
        store.record_answer("q2", "ml", "A", False)
        print("answered", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "answered"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    store = Store.open(tmp_path)
    assert store.answer_count() == 2
    assert store.mistake_ids() == ["q2"]
    assert store.card("q1") is not None and store.card("q2") is not None
    assert store.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def make_v1_database(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(V1)
    rows = [("q-a", "ml", "B", 1, T0), ("q-b", "physics", "C", 0, T0),
            ("q-a", "ml", "A", 0, T0 + timedelta(days=1))]
    con.executemany("INSERT INTO answers(question_id, subject, chosen, correct, answered_at) VALUES (?,?,?,?,?)",
                    [(q, s, c, ok, t.isoformat()) for q, s, c, ok, t in rows])
    con.execute("INSERT INTO settings(key, value) VALUES ('temperature', '0.5')")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def test_a_v1_database_migrates_keeping_every_answer_and_rebuilding_the_schedule(tmp_path):
    make_v1_database(tmp_path / DB_NAME)
    store = Store.open(tmp_path)
    assert not store.problem
    assert store.con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = store.con.execute("SELECT question_id, chosen, correct, model_answer FROM answers ORDER BY id").fetchall()
    assert rows == [("q-a", "B", 1, None), ("q-b", "C", 0, None), ("q-a", "A", 0, None)]
    # the schedule is replayed from the history: q-a was missed last, on day 1
    card_a = store.card("q-a")
    assert card_a.last_review == T0 + timedelta(days=1)
    assert card_a.due < T0 + timedelta(days=1, hours=1)  # "Again": back within the hour
    assert store.mistake_ids() == ["q-b", "q-a"]
    assert store.load_settings()[0].temperature == 0.5
    store.close()
    # opening again is a no-op: nothing re-migrated, nothing duplicated
    store = Store.open(tmp_path)
    assert store.answer_count() == 3
    store.close()


def test_a_database_from_a_newer_version_is_left_alone(tmp_path):
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.execute("PRAGMA user_version = 99")
    con.close()
    store = Store.open(tmp_path)
    assert "newer than this program" in store.problem
    store.record_answer("q1", "ml", "A", True)  # this session still works, in memory
    assert store.answer_count() == 1
    assert sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA user_version").fetchone()[0] == 99


def test_due_queue_and_topic_stats(tmp_path):
    store = Store.open(tmp_path)
    store.record_answer("q1", "ml", "A", True, when=T0)
    store.record_answer("q2", "ml", "B", False, when=T0)
    store.record_answer("q3", "physics", "B", True, when=T0)
    later = T0 + timedelta(minutes=5)
    # FSRS learning steps: a miss comes back after 1 minute, a first right answer after 10
    assert store.due_ids(later) == ["q2"]
    assert store.due_ids(T0 + timedelta(minutes=11)) == ["q2", "q1", "q3"]  # most overdue first
    store.record_answer("q1", "ml", "A", True, when=T0 + timedelta(minutes=11))  # graduates
    assert "q1" not in store.due_ids(T0 + timedelta(hours=12))
    stats = {s.subject: s for s in store.topic_stats(later)}
    assert (stats["ml"].answered, stats["ml"].correct, stats["ml"].streak, stats["ml"].due) == (3, 2, 1, 1)
    assert (stats["physics"].accuracy, stats["physics"].streak) == (1.0, 1)
    store.close()


def test_settings_round_trip_and_bad_stored_values_fall_back(tmp_path):
    store = Store.open(tmp_path)
    store.save_settings(Settings(temperature=0.9, k=5, rag=False, model="mine"))
    store.con.execute("UPDATE settings SET value = '\"lots\"' WHERE key = 'max_tokens'")
    settings, problems = store.load_settings()
    assert (settings.temperature, settings.k, settings.rag, settings.model) == (0.9, 5, False, "mine")
    assert settings.max_tokens == Settings().max_tokens
    assert len(problems) == 1 and "max_tokens" in problems[0]
    store.close()


def test_an_unusable_data_dir_falls_back_to_memory_with_a_reason(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    store = Store.open(not_a_dir)
    assert "cannot save to" in store.problem and store.path is None
    store.record_answer("q1", "ml", "A", True)  # still works, in memory
    assert store.answer_count() == 1


def test_a_corrupt_database_is_reported_and_left_untouched(tmp_path):
    garbage = b"this is not sqlite" * 100
    (tmp_path / DB_NAME).write_bytes(garbage)
    store = Store.open(tmp_path)
    assert "not a database" in store.problem
    store.record_answer("q1", "ml", "A", True)  # the session goes on in memory
    assert (tmp_path / DB_NAME).read_bytes() == garbage  # never wiped or overwritten


def test_history_stays_visible_when_the_database_cannot_be_written(tmp_path):
    store = Store.open(tmp_path)
    store.record_answer("q1", "ml", "A", False)
    store.close()
    memory = Store._in_memory(tmp_path / DB_NAME, "read-only")
    assert memory.answer_count() == 1 and memory.mistake_ids() == ["q1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_data_dir_is_reported_not_fatal(tmp_path):
    store = Store.open(tmp_path)
    store.record_answer("q1", "ml", "A", True)
    store.close()
    tmp_path.chmod(0o555)
    (tmp_path / DB_NAME).chmod(0o444)
    try:
        store = Store.open(tmp_path)
        assert store.problem and store.answer_count() == 1
    finally:
        tmp_path.chmod(0o755)
        (tmp_path / DB_NAME).chmod(0o644)
