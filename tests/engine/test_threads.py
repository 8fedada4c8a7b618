"""Thread choice: the measured defaults and the PROBLLMS_THREADS override."""

from __future__ import annotations

import pytest

from probllms_tui.engine import threads


@pytest.mark.parametrize("cores,busy,expected", [
    (2, False, (1, 2)), (2, True, (1, 1)), (8, False, (4, 8)), (8, True, (4, 4)), (1, False, (1, 1)),
])
def test_generation_uses_half_the_cores_and_prompt_all_unless_busy(monkeypatch, cores, busy, expected):
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(threads, "machine_busy", lambda n: busy)
    assert threads.choose_threads() == expected


def test_machine_busy_reads_the_load_average(monkeypatch):
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 0.0, 0.0))
    assert threads.machine_busy(2) and not threads.machine_busy(8)


@pytest.mark.parametrize("value,expected", [("1,2", (1, 2)), ("3", (3, 3)), ("0,0", (1, 1))])
def test_override(monkeypatch, value, expected):
    monkeypatch.setenv("PROBLLMS_THREADS", value)
    assert threads.choose_threads() == expected


def test_malformed_override_falls_back(monkeypatch):
    monkeypatch.setenv("PROBLLMS_THREADS", "many")
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "machine_busy", lambda n: False)
    assert threads.choose_threads() == (1, 2)
