"""Cloze options as parallel sequences in one decode (llama.cpp's multiple-choice scheme), and
several questions per decode, on the real default GGUF.

Why the tolerances: llama.cpp's CPU numbers for this model move with how tokens are split
into decodes and what else a decode holds (seen: up to ~0.3 nats on a six-token option
between the sequential path and one decode of the same tokens, a path with no batching at
all). Where the layout of an option's tokens is the same, the numbers are identical; where
only its neighbours change, they stay within that noise, far below what an option that saw
a sibling's tokens would get (the leak test measures that effect on a deliberately broken
layout).
"""

from __future__ import annotations

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import render_cloze_prefix, render_letter_prompt
from probllms_tui.core.readers import read_bank
from probllms_tui.engine.batching import layout, picked_logprobs
from probllms_tui.engine.scoring import ClozeItem

pytestmark = pytest.mark.slow

# A code no model predicts (about -90 nats over 15 tokens) unless it can copy it from a
# sibling option that contains it: then about -7. A leak cannot hide in the tolerance.
TARGET = "zqx7 vbn3 kqp9 wrt2 lmo5"
SHORT = MCQ("Which code opens the safe?", (TARGET, "1234", "the red one"))
LEAKY = MCQ("Which code opens the safe?", (TARGET, TARGET + " again", "the code " + TARGET))
NOISE_NATS = 0.5  # split/neighbour numerics (module docstring)


@pytest.fixture(scope="module")
def arc(shared_data):
    path = shared_data / "ARC-Easy_mcqa.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    head = read_bank(path).questions[:40]
    return sorted(head, key=lambda q: len(render_letter_prompt(q)))[:4]


def alone(engine, q: MCQ, option: str) -> float:
    """``option`` as the only option of ``q`` (an MCQ needs two, so below the public API)."""
    sums, _ = engine.continuation_logprobs([engine.cloze_request(render_cloze_prefix(q), (option,))])
    return sums[0][0][0]


def one_sequence(engine, item: ClozeItem, k: int) -> float:
    """Option k scored as one plain sequence: prefix + option in one decode, no batching."""
    cont = item.conts[k]
    sc = engine._scoring
    sc.clear()
    rows = sc.decode_one_sequence(list(item.prefix) + list(cont[:-1]), 0, len(item.prefix) - 1)
    return float(picked_logprobs(rows, range(len(cont)), cont).sum())


def test_an_option_alone_in_a_batch_equals_one_plain_sequence(default_engine):
    """The scheme itself adds no error: same layout of the option's tokens, same numbers."""
    item = default_engine.cloze_request(render_cloze_prefix(SHORT), (TARGET,))
    got = alone(default_engine, SHORT, TARGET)
    assert got == pytest.approx(one_sequence(default_engine, item, 0), abs=1e-3)


def test_options_do_not_see_each_other(default_engine):
    by_itself = alone(default_engine, SHORT, TARGET)
    beside_short = default_engine.cloze_likelihoods(SHORT)["A"].logprob
    beside_leaky = default_engine.cloze_likelihoods(LEAKY)["A"].logprob
    print(f"alone {by_itself:.4f} beside short {beside_short:.4f} beside leaky {beside_leaky:.4f}")
    assert beside_short == pytest.approx(by_itself, abs=NOISE_NATS)
    assert beside_leaky == pytest.approx(by_itself, abs=NOISE_NATS)

    # What a leak looks like: the target's tokens decoded after a sibling's, attending to it.
    item = default_engine.cloze_request(render_cloze_prefix(LEAKY), LEAKY.options)
    sibling, target = item.conts[1], item.conts[0]
    seen = list(item.prefix) + list(sibling)
    sc = default_engine._scoring
    sc.clear()
    rows = sc.decode_one_sequence(seen + list(target[:-1]), 0, len(seen) - 1)
    leaked = float(picked_logprobs(rows, range(len(target)), target).sum())
    print(f"leaked {leaked:.4f}")
    assert leaked - by_itself > 20 * NOISE_NATS


def test_questions_that_open_alike_share_cells_but_not_what_follows(default_engine):
    """Two questions in one decode share their common opening (engine/batching.py); the one
    that does not give the code must not see the one that does."""
    told = MCQ("Which code opens the safe? It is " + TARGET + ".", ("1234", "the red one"))
    items = [default_engine.cloze_request(render_cloze_prefix(q), q.options) for q in (told, SHORT)]
    assert len(layout(items).tokens) < sum(i.n_tokens for i in items)  # they do share
    by_itself = alone(default_engine, SHORT, TARGET)
    packed = default_engine.cloze_likelihoods_many([told, SHORT])[1]["A"].logprob
    print(f"alone {by_itself:.4f} packed after the told question {packed:.4f}")
    assert packed == pytest.approx(by_itself, abs=NOISE_NATS)


def test_batched_agrees_with_the_sequential_path(default_engine, arc):
    default_engine.batch_options = False
    try:
        sequential = [default_engine.cloze_likelihoods(q) for q in arc]
    finally:
        default_engine.batch_options = True
    batched = [default_engine.cloze_likelihoods(q) for q in arc]
    packed = default_engine.cloze_likelihoods_many(arc)
    for s, b, p in zip(sequential, batched, packed):
        assert {k: v.n_tokens for k, v in s.items()} == {k: v.n_tokens for k, v in b.items()}
        for k in s:
            assert b[k].logprob == pytest.approx(s[k].logprob, abs=NOISE_NATS)
            assert p[k].logprob == pytest.approx(b[k].logprob, abs=NOISE_NATS)
    results = default_engine.score_many(arc, method="cloze")
    seq_answers = [max(s, key=lambda k: s[k].logprob / s[k].n_tokens) for s in sequential]
    assert [r.answer for r in results] == seq_answers  # the default normalisation: per token
    assert all(r.latency_ms > 0 and r.method == "cloze" for r in results)


def test_a_question_too_long_fails_alone(default_engine):
    long_q = MCQ("Consider this. " + "The cat sat on the mat. " * 400 + "Where?", ("mat", "hat"))
    ok = MCQ("Which number is prime?", ("4", "6", "7", "9"))
    out = default_engine.cloze_likelihoods_many([ok, long_q, ok])
    assert isinstance(out[1], InputError) and "context holds" in out[1].message
    assert set(out[0]) == set(out[2]) == {"A", "B", "C", "D"}
    for k in out[0]:  # the same question twice in one batch: only the neighbour numerics differ
        assert out[2][k].logprob == pytest.approx(out[0][k].logprob, abs=NOISE_NATS)
    scored = default_engine.score_many([ok, long_q], method="cloze")
    assert isinstance(scored[1], InputError) and scored[0].answer in ok.letters


def test_pmi_scores_through_the_batch(default_engine, monkeypatch):
    monkeypatch.setattr(default_engine, "cloze_norm", "pmi")
    qs = [SHORT, MCQ("Which gas do plants take in?", ("oxygen", "carbon dioxide", "helium"))]
    many = default_engine.score_many(qs, method="cloze")
    for q, r in zip(qs, many):
        assert r.answer == default_engine.score(q, method="cloze").answer


def test_options_that_begin_alike_score_as_if_alone(default_engine):
    """Shared leading tokens are decoded once for all the options that begin with them
    (engine/batching.py); each option's number must still be its own."""
    q = MCQ("What is 12 + 6?", ("18", "180", "1800", "81", "the number 18", "the number 81"))
    item = default_engine.cloze_request(render_cloze_prefix(q), q.options)
    assert item.n_tokens < len(item.prefix) + sum(len(c) - 1 for c in item.conts)  # they do share
    got = default_engine.cloze_likelihoods(q)
    for letter, option, cont in zip(q.letters, q.options, item.conts):
        by_itself = one_sequence(default_engine, ClozeItem(item.prefix, (cont,)), 0)
        print(f"{option!r}: batched {got[letter].logprob:.4f} alone {by_itself:.4f}")
        assert got[letter].logprob == pytest.approx(by_itself, abs=NOISE_NATS)
