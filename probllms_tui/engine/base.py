"""The engine boundary: what the UI, the CLI and the benchmark may ask of a model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage

METHODS = ("letter", "cloze")


@dataclass
class ScoreResult:
    answer: str  # the chosen letter
    probabilities: dict[str, float]  # letter -> probability, sums to 1
    method: str
    model: str
    latency_ms: float
    scores: dict[str, float] = field(default_factory=dict)  # raw log-likelihood per letter
    prompt_tokens: int = 0


@runtime_checkable
class Engine(Protocol):
    name: str
    quantization: str
    n_ctx: int
    default_method: str

    def score(self, q: MCQ, passages: Sequence[Passage] = (), method: str | None = None) -> ScoreResult:
        ...

    def stream_explanation(
        self,
        q: MCQ,
        letter: str,
        passages: Sequence[Passage] = (),
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[str]:
        ...

    def count_tokens(self, text: str) -> int:
        ...

    def close(self) -> None:
        ...
