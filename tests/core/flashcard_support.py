"""Cards and a tiny embedder the flashcard tests share (a plain module, like tui_support.py)."""

from __future__ import annotations

import hashlib

import numpy as np

CAPITALS = [("Capital of France", "Paris"), ("Capital of Germany", "Berlin"), ("Capital of Italy", "Rome"),
            ("Capital of Spain", "Madrid"), ("Largest ocean on Earth", "the Pacific"),
            ("Speed of light in vacuum", "about 300,000 km/s")]


class TrigramEmbedder:
    """Deterministic and instant: hashed character trigrams, unit length. Texts sharing words
    ("Capital of ...") come out similar, which is all the distractor choice needs."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for row, t in enumerate(texts):
            t = f"  {t.lower()}  "
            for i in range(len(t) - 2):
                out[row, int(hashlib.md5(t[i:i + 3].encode()).hexdigest()[:6], 16) % 256] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)
