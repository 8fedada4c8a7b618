"""Exact and near-duplicate removal, and the train/test leakage check.

Exact: the same normalized text (NFKC, case-folded, whitespace collapsed).
Near: word 3-gram shingles, Jaccard similarity >= threshold. Why MinHash: exact pairwise
Jaccard is quadratic (SE + Camel are tens of thousands of pairs); datasketch's MinHash LSH
finds candidates in about linear time, and every candidate is then confirmed with the exact
Jaccard of its shingles, so the result has no false positives and does not depend on
hash luck beyond which candidates are looked at (seeded permutations: deterministic).
Shingles of words, not characters, so a renamed variable or a changed number still counts
as a near copy while a different answer to the same prompt does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE = 3


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", normalize(text))
    if len(words) < SHINGLE:
        return {" ".join(words)}
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)  # permutations drawn once: per text they are the slow part


def _minhash(sh: set[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    m.update_batch([s.encode() for s in sorted(sh)])
    return m


@dataclass(frozen=True)
class Sketch:
    key: str           # normalized text (exact matches)
    shingles: set[str]
    minhash: MinHash


def sketch(text: str) -> Sketch:
    sh = shingles(text)
    return Sketch(normalize(text), sh, _minhash(sh))


@dataclass
class NearIndex:
    """Texts seen so far; ``match(sketch)`` gives the index of an exact or near copy, or None."""

    threshold: float
    _exact: dict[str, int] = field(default_factory=dict)
    _shingles: list[set[str]] = field(default_factory=list)
    _lsh: MinHashLSH | None = None

    def __post_init__(self) -> None:
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)

    def match(self, sk: Sketch) -> tuple[int, str] | None:
        """(index of the earlier text, "exact" | "near") or None."""
        if sk.key in self._exact:
            return self._exact[sk.key], "exact"
        for cand in sorted(self._lsh.query(sk.minhash)):
            if jaccard(sk.shingles, self._shingles[cand]) >= self.threshold:
                return cand, "near"
        return None

    def add(self, sk: Sketch) -> int:
        idx = len(self._shingles)
        self._exact.setdefault(sk.key, idx)
        self._shingles.append(sk.shingles)
        self._lsh.insert(idx, sk.minhash)
        return idx


def dedup(items: Sequence, text_of: Callable[[object], str], threshold: float):
    """Keep the first of each group of exact/near copies. Returns (kept, [(item, kind, kept_item)])."""
    index = NearIndex(threshold)
    kept: list = []
    removed: list = []
    for item in items:
        sk = sketch(text_of(item))
        hit = index.match(sk)
        if hit is None:
            index.add(sk)
            kept.append(item)
        else:
            removed.append((item, hit[1], kept[hit[0]]))
    return kept, removed


def leaks(train: Sequence, test_texts: Sequence[str], text_of: Callable[[object], str], threshold: float):
    """Train items whose text is an exact or near copy of a test text: [(item, kind, test_index)]."""
    index = NearIndex(threshold)
    for t in test_texts:
        index.add(sketch(t))
    out = []
    for item in train:
        hit = index.match(sketch(text_of(item)))
        if hit is not None:
            out.append((item, hit[1], hit[0]))
    return out
