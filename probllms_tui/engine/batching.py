"""Options as parallel sequences: how cloze questions are laid out in one llama.cpp batch.

The layout is llama.cpp's own multiple-choice scheme (tools/perplexity, multiple_choice_score):
a question's prefix tokens are decoded once and carry the sequence ids of all its options;
each option's tokens carry only its own id, so an option attends to the prefix and to itself,
never to a sibling option. Several questions share one batch on disjoint sequence ids, each
starting at position 0. Logits are asked only where scoring reads them: the prefix's last
token (it predicts every option's first token) and each option token but the last.

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
    """Greedy packing, in order, of item indices into batches within ``limits``.

    An item over the limits gets a batch of its own: the caller has checked that it fits the
    context alone (a long question with notes is still one decode, not a failure).
    """
    batches: list[list[int]] = []
    cur: list[int] = []
    tokens = seqs = outputs = 0
    for i, item in enumerate(items):
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
    """Lay ``items`` out as one batch (see the module docstring)."""
    out = BatchLayout([], [], [], [], [])
    seq = 0
    row = 0
    for item in items:
        ids = tuple(range(seq, seq + len(item.conts)))
        seq += len(item.conts)
        n = len(item.prefix)
        for p, tok in enumerate(item.prefix):
            out.tokens.append(tok)
            out.pos.append(p)
            out.seq_ids.append(ids)
            out.logits.append(p == n - 1)
        first_row = row
        row += 1
        reads = []
        for sid, cont in zip(ids, item.conts):
            # The option's last token predicts nothing we score: leave it out of the batch.
            rows = [first_row]
            for j, tok in enumerate(cont[:-1]):
                out.tokens.append(tok)
                out.pos.append(n + j)
                out.seq_ids.append((sid,))
                out.logits.append(True)
                rows.append(row)
                row += 1
            reads.append((rows, cont))
        out.reads.append(reads)
    return out


def picked_logprobs(rows: np.ndarray, row_idx: Sequence[int], targets: Sequence[int],
                    chunk: int = 16) -> np.ndarray:
    """log softmax(rows[row_idx[k]])[targets[k]] for every k, in float64.

    The normaliser is computed once per row (a prefix's last row serves every option of its
    question): exp in float32 (half the time over a 262k vocabulary), sums in float64,
    ``chunk`` rows at a time to bound the temporary to chunk x n_vocab floats.
    """
    n = len(rows)
    top = np.empty(n, dtype=np.float32)
    log_total = np.empty(n, dtype=np.float64)
    for s in range(0, n, chunk):
        block = rows[s:s + chunk]
        m = block.max(axis=1)
        top[s:s + chunk] = m
        log_total[s:s + chunk] = np.log(np.exp(block - m[:, None]).sum(axis=1, dtype=np.float64))
    r = np.asarray(row_idx, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    return (rows[r, t] - top[r]).astype(np.float64) - log_total[r]
