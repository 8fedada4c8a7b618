"""How cloze scores turn into one number per option (the normalisation).

Cloze scoring reads the log-likelihood of each option's own text after the question. A raw
sum favours short options (every token costs probability), so harnesses normalise it:

- ``sum``:   the raw log-likelihood (lm-evaluation-harness ``acc``).
- ``token``: per-token mean (the length in the model's own tokens).
- ``byte``:  per-byte of the option text (lm-evaluation-harness ``acc_norm``).
- ``pmi``:   log P(option | question) - log P(option | "Answer:"): calibrates away how
  likely the option is on its own, whatever the question (Holtzman et al., 2021).

The default is chosen by measurement (benchmarks/scoring_methods.py, numbers in
``probllms_tui/core/registry.py``). Every normalisation is rescaled so that a softmax over
the options reads as a probability on the scale of one typical option, not of one token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CLOZE_NORMS = ("sum", "token", "byte", "pmi")


@dataclass(frozen=True)
class OptionLikelihood:
    """What the model said about one option's text: everything any normalisation needs."""

    logprob: float  # sum of log P(token | everything before it) over the option's tokens
    n_tokens: int
    n_bytes: int
    unconditional: float | None = None  # the same sum after the neutral prefix (pmi only)


def normalise(options: Mapping[str, OptionLikelihood], norm: str) -> dict[str, float]:
    """Per-option score under ``norm``; a softmax over these gives the probabilities."""
    if norm not in CLOZE_NORMS:
        raise ValueError(f"unknown cloze normalisation {norm!r}; use one of {', '.join(CLOZE_NORMS)}")
    if norm == "sum":
        return {k: o.logprob for k, o in options.items()}
    if norm == "pmi":
        if any(o.unconditional is None for o in options.values()):
            raise ValueError("pmi normalisation needs the unconditional log-likelihoods")
        return {k: o.logprob - o.unconditional for k, o in options.items()}  # type: ignore[operator]
    # Per-unit means, rescaled to the mean option length so the softmax reads as
    # "probability if every option were equally long" (the argmax is the per-unit mean).
    length = {k: max(1, o.n_tokens if norm == "token" else o.n_bytes) for k, o in options.items()}
    mean_len = sum(length.values()) / len(length)
    return {k: o.logprob / length[k] * mean_len for k, o in options.items()}
