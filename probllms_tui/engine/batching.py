"""Options as parallel sequences: how cloze questions are laid out in one llama.cpp batch.

The layout is llama.cpp's own multiple-choice scheme (tools/perplexity, multiple_choice_score):
a question's prefix tokens are decoded once and carry the sequence ids of all its options;
each option's tokens carry only its own id, so an option attends to the prefix and to itself,
never to a sibling option's own tokens. Here the scheme is taken one step further: every
(question, option) sequence of a batch goes into one prefix tree, and a cell is decoded once
for all sequences whose tokens up to it are the same. Options that begin alike share cells
(a sixth fewer logit rows on university-science options, half or more on numeric ones), and
so do questions that open alike ("Question: Which of the following ..."; plan_batches orders
questions by their prefix so that these meet in one batch). A cell sees exactly the tokens
on its path from the root, so this is the same computation as one sequence per option.
Logits are asked only where scoring reads them: the last token of a question's prefix (it
predicts every option's first token) and each option token but the last.

Pure Python and numpy: the llama.cpp calls live in engine/llama_adapter.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probllms_tui.engine.scoring import ClozeItem


@dataclass(frozen=True)
class Limits:
    """What one decode may hold. ``tokens``: the unified KV cache is cleared per batch, so a
    batch's tokens must fit the context; past a few hundred tokens attention over the other
    questions' (masked) cells costs more than a further decode call saves. ``outputs``: each
    logit row is n_vocab floats (1 MB for Gemma's 262k vocabulary)."""

    tokens: int
    seqs: int
    outputs: int

    def fits(self, item: ClozeItem) -> bool:
        return (item.n_tokens <= self.tokens and len(item.conts) <= self.seqs
                and item.n_outputs <= self.outputs)


def plan_batches(items: Sequence[ClozeItem], limits: Limits) -> list[list[int]]:
    """Greedy packing of item indices into batches within ``limits``, in the order of the
    items' prefixes (stable), so that questions that open alike meet in one batch and share
    those cells (``layout``).

    An item over the limits gets a batch of its own: the caller has checked that it fits the
    context alone (a long question with notes is still one decode, not a failure).
    """
    batches: list[list[int]] = []
    cur: list[int] = []
    tokens = seqs = outputs = 0
    for i in sorted(range(len(items)), key=lambda i: items[i].prefix):
        item = items[i]
        if cur and (tokens + item.n_tokens > limits.tokens or seqs + len(item.conts) > limits.seqs
                    or outputs + item.n_outputs > limits.outputs):
            batches.append(cur)
            cur, tokens, seqs, outputs = [], 0, 0, 0
        cur.append(i)
        tokens += item.n_tokens
        seqs += len(item.conts)
        outputs += item.n_outputs
    if cur:
        batches.append(cur)
    return batches


@dataclass
class BatchLayout:
    """Parallel per-token arrays for llama_batch, and where each item's logit rows are."""

    tokens: list[int]
    pos: list[int]
    seq_ids: list[tuple[int, ...]]
    logits: list[bool]
    # per item: per continuation, (row indices predicting its tokens, the tokens predicted)
    reads: list[list[tuple[list[int], tuple[int, ...]]]]

    @property
    def n_outputs(self) -> int:
        return sum(self.logits)


def layout(items: Sequence[ClozeItem]) -> BatchLayout:
    """Lay ``items`` out as one batch: one prefix tree over all their sequences (see the
    module docstring). Sequence ids are numbered item by item, option by option."""
    out = BatchLayout([], [], [], [], [])
    child: dict[tuple[int, int], int] = {}  # (parent cell or -1 for the root, token) -> cell
    read_at: set[int] = set()  # cells whose logits a read needs
    per_item: list[list[tuple[list[int], tuple[int, ...]]]] = []
    seq = 0
    for item in items:
        mine = []
        for cont in item.conts:
            # The cells this sequence holds: its prefix and every option token but the last.
            # Walking each path from the root puts parents before children, so a cell never
            # lands in an earlier micro-batch than the cells it attends to when llama.cpp
            # splits the batch.
            cell, cells = -1, []
            for p, tok in enumerate(item.prefix + cont[:-1]):
                nxt = child.get((cell, tok))
                if nxt is None:
                    nxt = child[(cell, tok)] = len(out.tokens)
                    out.tokens.append(tok)
                    out.pos.append(p)
                    out.seq_ids.append(())
                out.seq_ids[nxt] += (seq,)
                cell = nxt
                cells.append(cell)
            # Token j of the option is predicted by the cell at position len(prefix) - 1 + j.
            reads = cells[len(item.prefix) - 1:]
            read_at.update(reads)
            mine.append((reads, cont))
            seq += 1
        per_item.append(mine)
    out.logits = [c in read_at for c in range(len(out.tokens))]
    row_of = {c: r for r, c in enumerate(c for c in range(len(out.tokens)) if out.logits[c])}
    out.reads = [[([row_of[c] for c in cells], cont) for cells, cont in mine] for mine in per_item]
    return out


def picked_logprobs(rows: np.ndarray, row_idx: Sequence[int], targets: Sequence[int],
                    chunk: int = 4) -> np.ndarray:
    """log softmax(rows[row_idx[k]])[targets[k]] for every k, in float64.

    The normaliser is computed once per row (a prefix's last row serves every option of its
    question). Over Gemma's 262k vocabulary this is a tenth of cloze scoring's time, so it
    is done in place in one reused ``chunk`` x n_vocab float32 buffer (small enough to stay
    in cache) and summed in float32 by numpy's pairwise summation: 2.7x faster than fresh
    temporaries with a float64 sum, and within 1e-7 of a float64 log-sum-exp.
    """
    n = len(rows)
    top = np.empty(n, dtype=np.float32)
    log_total = np.empty(n, dtype=np.float64)
    buf = np.empty((min(chunk, n), rows.shape[1]), dtype=np.float32)
    for s in range(0, n, chunk):
        block = rows[s:s + chunk]
        m = block.max(axis=1)
        top[s:s + chunk] = m
        e = buf[:len(block)]
        np.subtract(block, m[:, None], out=e)
        np.exp(e, out=e)
        log_total[s:s + chunk] = np.log(e.sum(axis=1).astype(np.float64))
    r = np.asarray(row_idx, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    return (rows[r, t] - top[r]).astype(np.float64) - log_total[r]
