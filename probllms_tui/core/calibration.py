"""Calibrated probabilities and the "not sure" bands.

A probability shown to a student is a claim: "right 7 times in 10" must mean that. Raw
scores do not: the default model shows its guesses on university science at 76-89% and is
right 29% of the time. Calibration maps a model's per-option scores to probabilities that
were measured to mean what they say, on labelled questions it was not reported on.

The form: per-question temperature scaling,

    p = softmax((scores + prior) / T(x)),   log T(x) = w . [1, x]

where ``x`` are features of the question and of the scores that tell the model's easy ground
from its hard ground (one temperature fitted where a model is strong is overconfident where
it is weak). It keeps the argmax and the order of the options (a calibrated pick is the same
pick), and it is fitted by negative log-likelihood (``probllms-train bench calibrate``).
``prior`` is a per-letter bias for letter scoring (a base model says "D" whatever the
question); zero for cloze.

Bands, from the calibrated top probability ``p`` of ``n`` options:
- guessing: ``p < 1/n + guess_margin``: no better than picking at random, within noise;
- confident: ``p >= confident_at`` (measured: at least that share of such picks was right);
- unsure: in between.

Pure math, no numpy: this module is on the app's first-frame import path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

BANDS = ("confident", "unsure", "guessing")
GUESS_MARGIN = 0.10  # within 10 points of chance: indistinguishable from guessing at n ~ 100
CONFIDENT_AT = 0.70  # "right 7 times in 10" is the least we call confident

_NUMBER = re.compile(r"^\s*[-+]?\$?\s*[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?\s*%?\s*[A-Za-z/^°]{0,8}\s*$")


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text.replace("\\", "")))


OPTION_KINDS = ("text", "numeric")


def option_kind(options: Sequence[str]) -> str:
    """"numeric" when every option is a number (GSM8K, TheoremQA, a physics calculation),
    else "text". Models differ by kind: a 1.5B instruct model picks well by letter among text
    options and is at chance by letter among numbers, where cloze serves it (docs/measurements.md),
    so a model may be served by a different scoring method per kind."""
    return "numeric" if options and all(_is_number(o) for o in options) else "text"


def served_label(default_method: str, by_kind: Mapping[str, str] | None = None) -> str:
    """How a model's questions are scored, as screens and reports name it: "cloze", or
    "letter (text), cloze (numeric)" where its kinds of options are served differently."""
    served = {kind: (by_kind or {}).get(kind, default_method) for kind in OPTION_KINDS}
    if len(set(served.values())) == 1:
        return served["text"]
    return ", ".join(f"{m} ({kind})" for kind, m in served.items())


def _stdev(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def question_features(stem: str, options: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """What the temperature may depend on. Everything here is available for any model and
    any scoring method: the question's own text and the spread of the option scores."""
    sorted_scores = sorted(scores, reverse=True)
    return {
        # How far apart the options are: large gaps in easy questions, flat in hard ones.
        "spread": _stdev(scores),
        "margin": sorted_scores[0] - sorted_scores[1] if len(scores) > 1 else 0.0,
        # Arithmetic with numeric options (GSM8K, TheoremQA): small models guess there.
        "numeric_options": 1.0 if option_kind(options) == "numeric" else 0.0,
        # Long, technical questions are the hard ground of small models.
        "log_stem_chars": math.log1p(len(stem)),
        "log_option_chars": math.log1p(sum(len(o) for o in options) / max(1, len(options))),
    }


@dataclass
class Calibration:
    """One model x scoring method's fitted calibration, as stored with the model."""

    method: str
    features: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=lambda: [0.0])  # [bias, w_feature...]
    prior: dict[str, float] = field(default_factory=dict)  # letter -> bias (letter scoring)
    guess_margin: float = GUESS_MARGIN
    confident_at: float = CONFIDENT_AT
    fitted_on: dict = field(default_factory=dict)  # datasets, n, date: where it was fitted
    measured: dict = field(default_factory=dict)  # held-out ECE etc. and per-set accuracy

    # --- applying -------------------------------------------------------------------------
    def temperature(self, features: Mapping[str, float]) -> float:
        z = self.weights[0] + sum(w * features.get(name, 0.0)
                                  for name, w in zip(self.features, self.weights[1:]))
        return math.exp(max(-6.0, min(6.0, z)))

    def probabilities(self, stem: str, options: Sequence[str], letters: Sequence[str],
                      scores: Mapping[str, float]) -> dict[str, float]:
        # Features read the raw scores: the fit computes them once, before it knows the prior.
        t = self.temperature(question_features(stem, options, [scores[l] for l in letters]))
        shifted = [scores[l] + self.prior.get(l, 0.0) for l in letters]
        top = max(shifted)
        exps = [math.exp((s - top) / t) for s in shifted]
        total = sum(exps)
        return {l: e / total for l, e in zip(letters, exps)}

    def band(self, p_top: float, n_options: int) -> str:
        return band(p_top, n_options, guess_margin=self.guess_margin, confident_at=self.confident_at)

    def near_chance(self) -> list[dict]:
        """The measured sets on which this model is no better than chance (CI includes it, or
        within the guessing margin): the app warns once with the number."""
        out = []
        for name, m in (self.measured.get("sets") or {}).items():
            lo = (m.get("ci95") or [m["accuracy"], m["accuracy"]])[0]
            if lo <= m["chance"] or m["accuracy"] < m["chance"] + self.guess_margin:
                out.append({"set": name, **m})
        return out

    # --- storing --------------------------------------------------------------------------
    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> "Calibration":
        known = set(cls.__dataclass_fields__)
        cal = cls(**{k: v for k, v in data.items() if k in known})
        if len(cal.weights) != len(cal.features) + 1:
            raise ValueError(f"calibration for {cal.method}: {len(cal.weights)} weights "
                             f"for {len(cal.features)} features")
        unknown = set(cal.features) - set(question_features("", ["a", "b"], [0.0, 1.0]))
        if unknown:
            raise ValueError(f"calibration for {cal.method}: unknown features {sorted(unknown)}")
        return cal


def band(p_top: float, n_options: int, *, guess_margin: float = GUESS_MARGIN,
         confident_at: float = CONFIDENT_AT) -> str:
    if p_top < 1.0 / max(1, n_options) + guess_margin:
        return "guessing"
    if p_top >= confident_at:
        return "confident"
    return "unsure"


def explanation_heading(band: str | None, with_notes: bool = True) -> str:
    """What the model's explanation is called: a guess argued fluently reads like knowledge,
    so the heading says how much the pick it argues for is worth (and sends the student to
    their notes only when some were found)."""
    if band == "guessing":
        check = "check it against your notes" if with_notes else "check it in your course material"
        return f"Explanation of a guess (the model is near chance here: {check})"
    if band == "unsure":
        return "Explanation (the model is unsure of its pick)"
    return "Explanation"


def load_calibrations(data: Mapping | None) -> dict[str, Calibration]:
    """``{"cloze": {...}, "letter": {...}}`` -> Calibration per method (bad entries raise)."""
    return {method: Calibration.from_json({**cal, "method": method}) for method, cal in (data or {}).items()}


BUILTIN_DIR = Path(__file__).parent / "calibrations"


def builtin_record(model_name: str) -> dict | None:
    """The calibration record shipped with the package for a built-in model (None if none)."""
    path = BUILTIN_DIR / f"{model_name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
