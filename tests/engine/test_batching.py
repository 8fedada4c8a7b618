"""How cloze requests are laid out in one llama.cpp batch (engine/batching.py), without a model.

The invariant that makes batching exact: every option sees exactly the question's prefix and
its own tokens, at consecutive positions, whatever it shares with its siblings.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from probllms_tui.engine.batching import Limits, layout, picked_logprobs, plan_batches
from probllms_tui.engine.scoring import ClozeItem


def seen_by(lay, seq: int) -> list[tuple[int, int]]:
    """(position, token) of every cell sequence ``seq`` holds, by position."""
    return sorted((p, t) for t, p, ids in zip(lay.tokens, lay.pos, lay.seq_ids) if seq in ids)


def test_options_that_begin_alike_share_cells_and_rows():
    item = ClozeItem((1, 2), ((5, 6, 7), (5, 6, 8), (5, 9), (4,)))
    lay = layout([item])
    assert lay.tokens == [1, 2, 5, 6]  # plain layout: 1 2 | 5 6 | 5 6 | 5 | (nothing): 7 tokens
    assert lay.pos == [0, 1, 2, 3]
    assert lay.seq_ids == [(0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2), (0, 1)]
    assert lay.logits == [False, True, True, True]
    assert lay.reads == [[([0, 1, 2], (5, 6, 7)), ([0, 1, 2], (5, 6, 8)), ([0, 1], (5, 9)), ([0], (4,))]]
    assert (item.n_tokens, item.n_outputs) == (4, 3) == (len(lay.tokens), lay.n_outputs)


def test_every_option_sees_exactly_the_prefix_and_its_own_tokens():
    rng = random.Random(7)
    items = []
    for _ in range(30):
        prefix = tuple(rng.randrange(1, 9) for _ in range(rng.randint(1, 5)))
        # a small alphabet so options often begin alike, and sometimes repeat outright
        conts = tuple(tuple(rng.randrange(1, 4) for _ in range(rng.randint(1, 5)))
                      for _ in range(rng.randint(2, 5)))
        items.append(ClozeItem(prefix, conts))
    lay = layout(items)
    seq = 0
    for item, reads in zip(items, lay.reads):
        for cont, (rows, targets) in zip(item.conts, reads):
            want = list(item.prefix) + list(cont[:-1])
            assert seen_by(lay, seq) == list(enumerate(want))  # its own tokens, positions 0..
            assert targets == cont and len(rows) == len(cont)
            seq += 1
    # Items with a common opening share it, so a batch holds at most what they hold alone;
    # every flagged row is read.
    assert sum(i.n_tokens for i in items) >= len(lay.tokens)
    assert sum(i.n_outputs for i in items) >= lay.n_outputs == max(r for rs in lay.reads for rw, _ in rs for r in rw) + 1
    # Parents before children: a cell's predecessor in its sequence is earlier in the batch,
    # so llama.cpp's split into micro-batches never puts a token before what it attends to.
    first = {}
    for i, (p, ids) in enumerate(zip(lay.pos, lay.seq_ids)):
        for s in ids:
            assert first.get(s, -1) == p - 1
            first[s] = p


def test_questions_that_open_alike_share_their_opening():
    a = ClozeItem((1, 2, 3, 4), ((7, 8), (9,)))
    b = ClozeItem((1, 2, 5), ((7,), (9, 9)))
    lay = layout([a, b])
    # 1 2 once for all four sequences; then each question's own cells
    assert lay.tokens == [1, 2, 3, 4, 7, 5, 9]
    assert lay.seq_ids[:2] == [(0, 1, 2, 3), (0, 1, 2, 3)]
    assert lay.seq_ids[2:] == [(0, 1), (0, 1), (0,), (2, 3), (3,)]
    assert lay.logits == [False, False, False, True, True, True, True]
    assert lay.reads == [[([0, 1], (7, 8)), ([0], (9,))], [([2], (7,)), ([2, 3], (9, 9))]]
    assert len(lay.tokens) == a.n_tokens + b.n_tokens - 2


def test_a_row_predicts_the_token_after_the_cells_it_was_read_at():
    """With logits that simply copy the last token seen + 1, each read row must name the
    option's previous token (or the prefix's last one for the first token)."""
    item = ClozeItem((3, 4), ((10, 11, 12), (10, 13), (20,)))
    lay = layout([item])
    flagged = [t for t, f in zip(lay.tokens, lay.logits) if f]
    for cont, (rows, _) in zip(item.conts, lay.reads[0]):
        assert [flagged[r] for r in rows] == [4, *cont[:-1]]


def test_packing_respects_every_limit():
    items = [ClozeItem((1,) * 10, ((2, 3), (4, 5), (6,))) for _ in range(9)]  # 12 tokens, 3 rows
    plan = plan_batches(items, Limits(tokens=40, seqs=100, outputs=100))
    assert [len(b) for b in plan] == [3, 3, 3]
    assert [len(b) for b in plan_batches(items, Limits(tokens=1000, seqs=7, outputs=100))] == [2, 2, 2, 2, 1]
    assert [len(b) for b in plan_batches(items, Limits(tokens=1000, seqs=100, outputs=7))] == [2, 2, 2, 2, 1]
    assert sum(plan, []) == list(range(9))


def test_packing_puts_questions_that_open_alike_together():
    a, b = ClozeItem((1, 2, 3), ((4,), (5,))), ClozeItem((7, 8), ((4,), (5,)))
    # a b a b in, each batch holding two: the two a's meet, then the two b's
    assert plan_batches([a, b, a, b], Limits(tokens=1000, seqs=4, outputs=100)) == [[0, 2], [1, 3]]


@pytest.mark.parametrize("n_rows", [1, 3, 9])
def test_picked_logprobs_matches_a_float64_log_softmax(n_rows):
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((n_rows, 50_000)) * 4).astype(np.float32)
    idx = rng.integers(0, n_rows, size=12)
    targets = rng.integers(0, 50_000, size=12)
    x = rows.astype(np.float64)
    ref = x - (np.log(np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) + x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(picked_logprobs(rows, idx, targets), ref[idx, targets], atol=1e-5)
