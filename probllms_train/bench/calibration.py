"""Calibration: measure it (ECE, Brier, AUROC, selective accuracy, reliability diagram) and
fit it (per-question temperature, core/calibration.py) by negative log-likelihood.

Definitions, so every table means one thing:
- ECE: 15 equal-width bins on the top option's probability; sum over bins of
  |accuracy - mean confidence| weighted by the bin's share of questions (Guo et al., 2017).
- Brier: multi-class, mean over questions of sum_k (p_k - [k is the answer])^2; 0 is perfect,
  uniform guessing over 4 options scores 0.75.
- AUROC: does a higher top probability mean "more likely right"? 0.5 is no signal.
- Accuracy at coverage c: answer only the c most confident questions; their accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probllms_tui.core.calibration import Calibration, question_features

ECE_BINS = 15
# Features the fit uses (core/calibration.py computes them), chosen on the default model
# (docs/measurements.md, "Calibration"): the score spread sets the scale within a set, numeric
# options mark arithmetic, where small models guess. Question length, option length, the
# model's per-token option likelihood, letter/cloze agreement and the stem's perplexity were
# tried and did not tell the hard sets from the easy ones on held-out sets.
DEFAULT_FEATURES = ("spread", "numeric_options")
L2 = 1e-3  # a light pull of the feature weights towards 0 (one temperature)
# The fit minimises a smooth maximum over the fit sets of each set's mean NLL (group-robust,
# as in group DRO, Sagawa et al. 2020), not the pooled NLL. Why: no feature above tells a
# university-science question from a grade-school one for a small model, so a pooled fit
# learns the average difficulty and is overconfident wherever the model is weakest, which is
# exactly where a student most needs to hear "not sure". The price is underconfidence on the
# easy sets (measured and reported). KAPPA sets how hard the maximum is; 0 would be the mean
# over sets.
KAPPA = 20.0


@dataclass
class Record:
    """One scored question: what the fit and the metrics need, nothing else."""

    stem: str
    options: list[str]
    letters: list[str]
    scores: dict[str, float]
    answer: str
    dataset: str = ""


# --- metrics ----------------------------------------------------------------------------
def ece(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> float:
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return float("nan")
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / conf.size * abs(ok[mask].mean() - conf[mask].mean())
    return float(total)


def brier(probabilities: Sequence[dict[str, float]], answers: Sequence[str]) -> float:
    if not probabilities:
        return float("nan")
    return float(np.mean([sum((p - (1.0 if l == a else 0.0)) ** 2 for l, p in probs.items())
                          for probs, a in zip(probabilities, answers)]))


def auroc(confidence: Sequence[float], correct: Sequence[bool]) -> float | None:
    """Mann-Whitney form: P(conf of a right answer > conf of a wrong one), ties count half."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n_pos, n_neg = int(ok.sum()), int((~ok).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(conf)
    return float((ranks[ok].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy_at_coverage(confidence: Sequence[float], correct: Sequence[bool], coverage: float) -> float | None:
    if not confidence:
        return None
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    keep = max(1, math.ceil(coverage * len(order)))
    return float(np.asarray(correct, dtype=np.float64)[order[:keep]].mean())


def reliability_bins(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> list[dict]:
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append({"low": b / bins, "high": (b + 1) / bins, "n": int(mask.sum()),
                        "confidence": float(conf[mask].mean()), "accuracy": float(ok[mask].mean())})
    return out


def calibration_metrics(probabilities: Sequence[dict[str, float]], answers: Sequence[str]) -> dict:
    """Everything `bench mcqa` and `bench calibrate` report for one set of answers."""
    picks = [max(p, key=p.get) for p in probabilities]
    conf = [p[k] for p, k in zip(probabilities, picks)]
    correct = [k == a for k, a in zip(picks, answers)]
    n = len(conf)
    return {
        "n": n,
        "accuracy": float(np.mean(correct)) if n else None,
        "mean_confidence": float(np.mean(conf)) if n else None,
        "ece": ece(conf, correct) if n else None,
        "brier": brier(probabilities, answers) if n else None,
        "auroc": auroc(conf, correct),
        "accuracy_at_coverage": {"0.5": accuracy_at_coverage(conf, correct, 0.5),
                                 "0.8": accuracy_at_coverage(conf, correct, 0.8)},
        "reliability": reliability_bins(conf, correct) if n else [],
    }


def plot_reliability(metrics: dict, title: str, path) -> None:
    """A reliability diagram: accuracy per confidence bin against the diagonal, with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = metrics["reliability"]
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(5, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    width = 1.0 / ECE_BINS
    ax.bar([b["low"] for b in bins], [b["accuracy"] for b in bins], width=width, align="edge",
           edgecolor="black", alpha=0.7, label="accuracy in bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="C3",
            ms=4, label="mean confidence in bin")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}\nECE {metrics['ece']:.3f} · acc {metrics['accuracy']:.3f} · n={metrics['n']}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    axn.bar([b["low"] for b in bins], [b["n"] for b in bins], width=width, align="edge", color="grey")
    axn.set_xlabel("top-option probability shown")
    axn.set_ylabel("questions")
    axn.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- fitting ----------------------------------------------------------------------------
def _design(records: Sequence[Record], features: Sequence[str]):
    n_max = max(len(r.letters) for r in records)
    letters = sorted({l for r in records for l in r.letters})
    scores = np.full((len(records), n_max), -np.inf)
    letter_idx = np.zeros((len(records), n_max), dtype=int)
    target = np.zeros(len(records), dtype=int)
    x = np.zeros((len(records), len(features) + 1))
    for i, r in enumerate(records):
        raw = [r.scores[l] for l in r.letters]
        scores[i, : len(raw)] = raw
        letter_idx[i, : len(raw)] = [letters.index(l) for l in r.letters]
        target[i] = r.letters.index(r.answer)
        f = question_features(r.stem, r.options, raw)
        x[i] = [1.0] + [f[name] for name in features]
    return scores, letter_idx, target, x, letters


def fit(records: Sequence[Record], method: str, *, features: Sequence[str] = DEFAULT_FEATURES,
        letter_prior: bool | None = None, l2: float = L2, kappa: float = KAPPA) -> Calibration:
    """Per-question temperature (and, for letter scoring, a per-letter prior) by NLL, robust
    across the records' datasets (see KAPPA)."""
    from scipy.optimize import minimize

    if not records:
        raise ValueError("no questions to fit a calibration on")
    features = list(features)
    use_prior = (method == "letter") if letter_prior is None else letter_prior
    scores, letter_idx, target, x, letters = _design(records, features)
    valid = np.isfinite(scores)
    n_w = x.shape[1]
    n_b = len(letters) - 1 if use_prior else 0  # the first letter's prior is fixed at 0
    # Scale features so one step size suits every weight; undone when stored.
    mu = x[:, 1:].mean(axis=0)
    sd = x[:, 1:].std(axis=0)
    sd[sd == 0] = 1.0
    xs = np.concatenate([x[:, :1], (x[:, 1:] - mu) / sd], axis=1)
    rows = np.arange(len(records))
    names = sorted({r.dataset for r in records})
    groups = [np.array([i for i, r in enumerate(records) if r.dataset == name]) for name in names]

    def nll(theta: np.ndarray) -> float:
        w, b = theta[:n_w], theta[n_w:]
        prior = np.concatenate([[0.0], b])[letter_idx] if n_b else 0.0
        log_t = np.clip(xs @ w, -6, 6)
        z = np.where(valid, (np.where(valid, scores, 0.0) + prior) / np.exp(log_t)[:, None], -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        per_row = -logp[rows, target]
        per_set = np.array([per_row[g].mean() for g in groups])
        top = per_set.max()
        robust = top + np.log(np.exp(kappa * (per_set - top)).sum()) / kappa if kappa > 0 else per_set.mean()
        return float(robust + l2 * (w[1:] ** 2).sum())

    start = np.zeros(n_w + n_b)
    start[0] = math.log(max(1e-3, float(np.nanstd(np.where(valid, scores, np.nan)))) + 1e-9)
    best = minimize(nll, start, method="L-BFGS-B")
    w = best.x[:n_w]
    # Back to raw feature units: w_s . (x - mu) / sd = (w_s / sd) . x - w_s . mu / sd
    raw_w = w[1:] / sd
    bias = w[0] - float((w[1:] * mu / sd).sum())
    prior = {l: (0.0 if i == 0 else float(best.x[n_w + i - 1])) for i, l in enumerate(letters)} if n_b else {}
    return Calibration(method=method, features=features, weights=[float(bias), *map(float, raw_w)],
                       prior=prior, fitted_on={"n": len(records), "nll": float(best.fun)})


def apply(cal: Calibration | None, records: Sequence[Record]) -> list[dict[str, float]]:
    """Probabilities for stored records: calibrated, or the plain softmax when ``cal`` is None."""
    from probllms_tui.engine.base import softmax

    if cal is None:
        return [softmax(r.scores) for r in records]
    return [cal.probabilities(r.stem, r.options, r.letters, r.scores) for r in records]
