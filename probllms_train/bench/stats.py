"""Statistics for benchmark tables: Wilson intervals, McNemar's test, latency percentiles,
and the checks that notice a degenerate dataset before its accuracy is reported.

scipy does the distributions (binomial, chi-square); only the textbook formulas that
combine them live here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from probllms_tui.core.mcq import MCQ

# Below this many discordant pairs McNemar's chi-square approximation is poor; use the exact
# binomial test instead (the usual rule of thumb, e.g. Fagerland et al. 2013 use 25).
EXACT_MCNEMAR_BELOW = 25


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good at small n and near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest

    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


@dataclass
class McNemar:
    only_a: int  # A right, B wrong
    only_b: int  # A wrong, B right
    both_right: int
    both_wrong: int
    statistic: float | None  # chi-square statistic (None for the exact test)
    p_value: float
    method: str  # "exact-binomial" | "chi2-continuity"

    def to_json(self) -> dict:
        return dict(self.__dict__)


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemar:
    """McNemar's test on paired right/wrong outcomes of two systems on the same questions."""
    if len(a_correct) != len(b_correct):
        raise ValueError("paired outcomes must have the same length")
    pairs = Counter((bool(a), bool(b)) for a, b in zip(a_correct, b_correct))
    b, c = pairs[(True, False)], pairs[(False, True)]
    n_disc = b + c
    if n_disc == 0:
        stat, p, method = None, 1.0, "exact-binomial"
    elif n_disc < EXACT_MCNEMAR_BELOW:
        from scipy.stats import binomtest

        stat, p, method = None, float(binomtest(b, n_disc, 0.5).pvalue), "exact-binomial"
    else:
        from scipy.stats import chi2

        stat = (abs(b - c) - 1) ** 2 / n_disc
        p, method = float(chi2.sf(stat, 1)), "chi2-continuity"
    return McNemar(b, c, pairs[(True, True)], pairs[(False, False)], stat, min(1.0, p), method)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


@dataclass
class DatasetCheck:
    degenerate: bool = False
    flags: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"degenerate": self.degenerate, "flags": self.flags}


def check_dataset(questions: Sequence[MCQ]) -> DatasetCheck:
    """Is this set's accuracy a measure of skill? The one degenerate-set check of the project
    (probllms_train/data/mcqa/check.py: the same correct text in many rows, one letter far
    above its share, duplicated options) as the benchmark reports it: degenerate when any
    finding is an error, every finding a flag."""
    from probllms_train.data.mcqa.check import check_mcqs

    result = check_mcqs(list(questions))
    return DatasetCheck(result.degenerate, [f"{f['check']}: {f['message']}" for f in result.findings])
