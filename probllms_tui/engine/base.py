"""The engine boundary: what the UI, the CLI and the benchmark may ask of a model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from probllms_tui.core.calibration import Calibration, option_kind, served_label
from probllms_tui.core.choices import METHODS
from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.prompt import Passage


@dataclass
class ScoreResult:
    answer: str  # the chosen letter
    probabilities: dict[str, float]  # letter -> probability, sums to 1
    method: str
    model: str
    latency_ms: float
    scores: dict[str, float] = field(default_factory=dict)  # raw log-likelihood per letter
    prompt_tokens: int = 0
    # True: ``probabilities`` went through this model's fitted calibration and mean what they
    # say; False: a plain softmax of the scores, which the UI marks as uncalibrated.
    calibrated: bool = False
    confidence_band: str | None = None  # confident | unsure | guessing (calibrated only)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.answer]


class OptionScorer:
    """``score`` for anything that can score options by letter and by cloze.

    The GGUF engine and the benchmark's transformers scorer share it, so both turn per-option
    scores into an answer and probabilities by the same rule (softmax, argmax).
    Subclasses set ``name`` and ``default_method`` and implement the two ``_score_*``
    methods, each returning (scores by letter, prompt tokens). ``calibrations`` (method ->
    Calibration, core/calibration.py) turns scores into calibrated probabilities; a method
    without one gets the plain softmax, marked ``calibrated=False``.

    ``method_by_kind`` (option kind -> method, from the model's calibration record) serves a
    question by the method measured best for its kind of options when no method is asked
    for; ``default_method`` serves the kinds it does not name.
    """

    name: str
    default_method: str
    method_by_kind: dict[str, str] = {}
    calibrations: dict[str, Calibration] = {}
    calibration_record: dict = {}  # what was stored with the model: fitted where, measured how

    def method_for(self, q: MCQ, method: str | None = None) -> str:
        """The method that scores ``q``: the one asked for, else its option kind's, else the default."""
        return method or self.method_by_kind.get(option_kind(q.options)) or self.default_method

    @property
    def method_label(self) -> str:
        """How questions are scored when no method is asked for (core/calibration.py)."""
        return served_label(self.default_method, self.method_by_kind)

    def _score_letter(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        raise NotImplementedError

    def _score_cloze(self, q: MCQ, passages: Sequence[Passage]) -> tuple[dict[str, float], int]:
        raise NotImplementedError

    def score(self, q: MCQ, passages: Sequence[Passage] = (), method: str | None = None) -> ScoreResult:
        method = self.method_for(q, method)
        t0 = time.perf_counter()
        if method == "letter":
            scores, n_prompt = self._score_letter(q, passages)
        elif method == "cloze":
            scores, n_prompt = self._score_cloze(q, passages)
        else:
            raise InputError(f"unknown scoring method {method!r}; use one of {', '.join(METHODS)}")
        return scored(q, scores, method=method, model=self.name,
                      calibration=self.calibrations.get(method),
                      latency_ms=(time.perf_counter() - t0) * 1000.0, prompt_tokens=n_prompt)


def scored(q: MCQ, scores: dict[str, float], *, method: str, model: str,
           calibration: Calibration | None, latency_ms: float = 0.0, prompt_tokens: int = 0) -> ScoreResult:
    """Per-option scores -> the answer and its probabilities, calibrated when the model has
    a calibration for this method. The one rule for the engine, the HF scorer and the
    benchmark's re-scoring of stored samples."""
    if calibration is not None:
        probabilities = calibration.probabilities(q.stem, q.options, q.letters, scores)
    else:
        probabilities = softmax(scores)
    answer = max(probabilities, key=probabilities.get)
    return ScoreResult(answer=answer, probabilities=probabilities, method=method, model=model,
                       latency_ms=latency_ms, scores=scores, prompt_tokens=prompt_tokens,
                       calibrated=calibration is not None,
                       confidence_band=(calibration.band(probabilities[answer], len(q.options))
                                        if calibration is not None else None))


def score_each(scorer, questions: Sequence[MCQ], passages_list: Sequence[Sequence[Passage]],
               method: str | None) -> list[ScoreResult | InputError]:
    """``scorer.score`` per question; a question that cannot be scored (longer than the
    context) gets its InputError in its place, so one long question never stops a run."""
    out: list[ScoreResult | InputError] = []
    for q, passages in zip(questions, passages_list):
        try:
            out.append(scorer.score(q, passages, method))
        except InputError as exc:
            out.append(exc)
    return out


def softmax(scores: dict[str, float]) -> dict[str, float]:
    # Plain math over 2..10 options: this module is on the app's first-frame import path,
    # which stays free of numpy.
    top = max(scores.values())
    exps = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exps.values())
    return {k: e / total for k, e in exps.items()}


def hit_length_limit(engine: object, pieces: int, max_tokens: int) -> bool:
    """Did the last explanation end at its length limit (mid-sentence)? llama.cpp says so
    itself (``finish_reason == "length"``, also when the limit was clamped to the context
    left); counting pieces undercounts there (empty and whitespace pieces are not passed on),
    so the count is only for engines that do not say."""
    reason = getattr(engine, "last_finish_reason", None)
    return reason == "length" if reason is not None else pieces >= max_tokens


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
