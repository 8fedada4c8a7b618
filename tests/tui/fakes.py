"""A scripted engine at the Engine boundary (probllms_tui.engine.base.Engine): nothing else is faked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from probllms_tui.core.errors import ModelLoadError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage
from probllms_tui.engine.base import ScoreResult

EXPLANATION = ["Because ", "the ", "option ", "fits ", "best: ", "$\\alpha$ ", "wins."]


class FakeEngine:
    """Picks the last option with 70%, streams EXPLANATION one piece per 'token'.

    ``gate``: when given, each piece waits for it (tests hold a generation open to stop it).
    """

    default_method = "cloze"

    def __init__(self, name: str = "fake-model", quantization: str = "Q4_K_M", n_ctx: int = 2048,
                 pieces: Sequence[str] = EXPLANATION, delay: float = 0.0,
                 gate: threading.Event | None = None, band: str | None = None, top: float = 0.7):
        self.name, self.quantization, self.n_ctx = name, quantization, n_ctx
        self.pieces, self.delay, self.gate = list(pieces), delay, gate
        # band None: an uncalibrated model; else a calibrated one whose pick has ``top``
        self.band, self.top = band, top
        self.scored: list[tuple[MCQ, tuple[Passage, ...]]] = []
        self.streamed_pieces = 0
        self.closed = False

    def score(self, q: MCQ, passages: Sequence[Passage] = (), method: str | None = None) -> ScoreResult:
        self.scored.append((q, tuple(passages)))
        n = len(q.options)
        rest = (1 - self.top) / (n - 1)
        probs = {l: (self.top if i == n - 1 else rest) for i, l in enumerate(q.letters)}
        return ScoreResult(answer=q.letters[-1], probabilities=probs, method=method or "cloze",
                           model=self.name, latency_ms=12.0, calibrated=self.band is not None,
                           confidence_band=self.band)

    def stream_explanation(self, q: MCQ, letter: str, passages: Sequence[Passage] = (), *,
                           max_tokens: int = 256, temperature: float = 0.2,
                           should_stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
        for piece in self.pieces[:max_tokens]:
            if self.gate is not None:
                while not self.gate.wait(0.01):
                    if should_stop():
                        return
            if self.delay:
                time.sleep(self.delay)
            self.streamed_pieces += 1
            yield piece
            if should_stop():
                return

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed = True


class FakeRetriever:
    """Returns its passages in order; a passage without a similarity gets ``similarity``
    (above the relevance floor by default), as the real retriever gives every passage one."""

    def __init__(self, passages: Sequence[Passage], similarity: float = 0.8):
        self.passages = [p if "similarity" in p.meta else
                         Passage(p.text, p.citation, {**p.meta, "similarity": similarity}) for p in passages]
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, k: int) -> list[Passage]:
        self.queries.append((query, k))
        return self.passages[:k]


def engine_factory(engine: FakeEngine | None = None, fail: str | None = None):
    """An AppConfig.engine_factory that returns ``engine`` (or raises ModelLoadError(fail))."""
    opened: list[tuple[str | None, int]] = []

    def factory(name, models_dir, n_ctx):
        opened.append((name, n_ctx))
        if fail and (name or "") == fail or fail == "*":
            raise ModelLoadError(f"cannot load {name or 'default'}: not a GGUF file")
        return engine if engine is not None else FakeEngine(name=name or "fake-model", n_ctx=n_ctx)

    factory.opened = opened
    return factory
