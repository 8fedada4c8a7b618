"""Thread choice: measured at open, the rule that picks a count, and the PROBLLMS_THREADS override."""

from __future__ import annotations

import pytest

from probllms_tui.engine import threads


def rates_probe(rates: dict[int, float], calls: list[int]):
    def probe(n: int) -> float:
        calls.append(n)
        return rates[n]
    return probe


@pytest.mark.parametrize("rates,expected", [
    ({1: 500.0, 2: 970.0}, 2),   # idle machine: two threads nearly double prompt speed
    ({1: 109.0, 2: 19.0}, 1),    # measured under load 16: the second thread spins at barriers
    ({1: 500.0, 2: 520.0}, 1),   # a tie does not repay taking a core from everything else
])
def test_the_faster_count_wins_by_a_margin(rates, expected):
    calls: list[int] = []
    best, seen = threads.pick_fastest(rates_probe(rates, calls), [1, 2])
    assert best == expected and seen == rates


def test_a_clear_winner_needs_no_second_round():
    calls: list[int] = []
    threads.pick_fastest(rates_probe({1: 109.0, 2: 19.0}, calls), [1, 2])
    assert calls == [1, 2]
    calls.clear()
    threads.pick_fastest(rates_probe({1: 500.0, 2: 600.0}, calls), [1, 2])
    assert calls == [1, 2, 1, 2]  # ambiguous: measured again, interleaved


def test_generation_uses_half_the_cores_and_prompt_what_the_probe_says(monkeypatch):
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    calls: list[int] = []
    gen, batch, how = threads.choose_threads_explained(rates_probe({4: 100.0, 8: 180.0}, calls))
    assert (gen, batch) == (4, 8) and set(calls) == {4, 8}
    assert how.startswith("measured at open") and "8: 180" in how


def test_one_core_is_not_probed(monkeypatch):
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    assert threads.choose_threads(lambda n: pytest.fail("probed")) == (1, 1)


def test_without_a_probe_the_load_of_other_processes_decides(monkeypatch):
    monkeypatch.delenv("PROBLLMS_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "others_busy_cores", lambda window=0.25: 1.5)
    assert threads.choose_threads() == (1, 1)
    monkeypatch.setattr(threads, "others_busy_cores", lambda window=0.25: 0.2)
    assert threads.choose_threads() == (1, 2)


@pytest.mark.parametrize("value,expected", [("1,2", (1, 2)), ("3", (3, 3)), ("0,0", (1, 1))])
def test_override(monkeypatch, value, expected):
    monkeypatch.setenv("PROBLLMS_THREADS", value)
    assert threads.choose_threads(lambda n: pytest.fail("probed")) == expected


def test_malformed_override_falls_back(monkeypatch):
    monkeypatch.setenv("PROBLLMS_THREADS", "many")
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert threads.choose_threads(rates_probe({1: 300.0, 2: 600.0}, [])) == (1, 2)
