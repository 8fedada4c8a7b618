"""Notice a degenerate MCQ set instead of scoring it.

The published MATH-test_mcqa.jsonl has the same correct option in all 5000 rows; a model
that learnt that string would "solve" the set. Checks (each a named finding):

- answer-text: one correct-answer text is the answer of more than ``max_answer_share`` rows;
- letter-imbalance: the correct letters are far from uniform (chi-square against the
  uniform share of each question's option count, p < ``letter_p``) and the commonest letter
  is at least ``letter_margin`` above its uniform share (a tiny p on 100k rows alone is not a defect);
- duplicate-questions: the same stem and options more than once;
- duplicate-options: a row whose options repeat (a distractor equal to the answer).

Too few rows to judge shares (< ``min_rows``) is said, not silently passed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from probllms_tui.core.mcq import MCQ


@dataclass
class CheckResult:
    n_rows: int
    findings: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def degenerate(self) -> bool:
        return any(f["severity"] == "error" for f in self.findings)

    def lines(self) -> list[str]:
        if not self.findings:
            return [f"ok: {self.n_rows} questions, no degenerate pattern found"]
        return [f"{f['severity']}: {f['check']}: {f['message']}" for f in self.findings]


def check_mcqs(questions: list[MCQ], *, where: list[str] | None = None, max_answer_share: float = 0.25,
               letter_p: float = 1e-3, letter_margin: float = 0.10, min_rows: int = 20) -> CheckResult:
    where = where or [q.source or str(i + 1) for i, q in enumerate(questions)]
    n = len(questions)
    res = CheckResult(n)
    answered = [(q, w) for q, w in zip(questions, where) if q.answer is not None]
    if n < min_rows:
        res.findings.append({"check": "size", "severity": "warning",
                             "message": f"only {n} questions: too few to judge answer shares"})

    texts = Counter(" ".join(q.option(q.answer).split()) for q, _ in answered)
    if texts:
        top, count = texts.most_common(1)[0]
        share = count / len(answered)
        res.stats["top_answer_text"] = {"text": top[:200], "count": count, "share": round(share, 4)}
        if n >= min_rows and share > max_answer_share:
            res.findings.append({"check": "answer-text", "severity": "error",
                                 "message": f"{count}/{len(answered)} rows ({share:.0%}) have the same "
                                            f"correct answer {top[:60]!r}"})

    letters = Counter(q.answer for q, _ in answered)
    expected: dict[str, float] = defaultdict(float)
    for q, _ in answered:
        for letter in q.letters:
            expected[letter] += 1 / len(q.letters)
    res.stats["answer_letters"] = {k: letters.get(k, 0) for k in sorted(expected)}
    if n >= min_rows and len(expected) > 1:
        from scipy.stats import chisquare  # scipy: exact p-value, no hand-rolled distribution

        keys = sorted(expected)
        p = float(chisquare([letters.get(k, 0) for k in keys], [expected[k] for k in keys]).pvalue)
        worst = max(keys, key=lambda k: letters.get(k, 0) / expected[k])
        share, fair = letters.get(worst, 0) / len(answered), expected[worst] / len(answered)
        res.stats["letter_chi2_p"] = p
        if p < letter_p and share - fair >= letter_margin:
            res.findings.append({"check": "letter-imbalance", "severity": "error",
                                 "message": f"answer {worst} is correct in {share:.0%} of rows "
                                            f"(uniform would be {fair:.0%}; chi-square p={p:.1e})"})

    seen: dict[str, str] = {}
    dups = []
    for q, w in zip(questions, where):
        key = q.content_id()
        if key in seen:
            dups.append(f"{w} repeats {seen[key]}")
        else:
            seen[key] = w
    if dups:
        res.findings.append({"check": "duplicate-questions", "severity": "warning",
                             "message": f"{len(dups)} repeated questions (e.g. {'; '.join(dups[:3])})",
                             "examples": dups[:20]})
    bad_opts = [w for q, w in zip(questions, where)
                if len({" ".join(o.split()) for o in q.options}) < len(q.options)]
    if bad_opts:
        res.findings.append({"check": "duplicate-options", "severity": "error",
                             "message": f"{len(bad_opts)} rows repeat an option (e.g. {', '.join(bad_opts[:3])})",
                             "examples": bad_opts[:20]})
    return res
