"""`bench calibrate`: fit a model's calibration on labelled questions, report it on others,
and store it with the model so the app, `ask` and `bench mcqa` show calibrated probabilities.

1. Score every question of the fit sets (and the report sets) *uncalibrated*, with each
   scoring method needed (both for ``--method auto``); the raw scores go to ``raw/*.jsonl``
   so a refit (``--from-raw``) needs no model.
2. ``auto``: letter vs cloze by accuracy on a held-out 30% of the fit sets (seeded), overall
   and per option kind (text, numeric), so a model that picks well by letter among text
   options and only by cloze among numbers is served each way (``scoring_method_by_kind``).
3. Fit each method's calibration on the fit sets only (core/calibration.py; the fit in
   bench/calibration.py) and report raw vs calibrated on the report sets: sets it never saw.
   Without ``--report``, a seeded 30% of each fit set is held out for the report instead.
4. Store: ``--save`` writes the record into the models manifest (``calibrations``), which
   every caller reads through the registry; ``--save-builtin`` writes the file shipped with
   the package for a built-in model.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from probllms_tui.core.calibration import BUILTIN_DIR, OPTION_KINDS, option_kind, served_label
from probllms_tui.core.errors import InputError
from probllms_tui.core.files import atomic_write_json, atomic_write_text
from probllms_tui.core.mcq import MCQ
from probllms_train.bench.calibration import (
    Record,
    apply,
    calibration_metrics,
    fit,
    plot_reliability,
)
from probllms_train.bench.report import slug

HOLDOUT = 0.3
SEED = 0
# Held-out questions of one option kind below which its own accuracies say too little to
# choose its method by (the 95% interval of an accuracy on 40 questions is about +-0.15):
# the kind is then served by the overall choice.
MIN_PER_KIND = 40
METHODS_FOR = {"auto": ("cloze", "letter"), "cloze": ("cloze",), "letter": ("letter",)}


def split(records: Sequence[Record], share: float = HOLDOUT, seed: int = SEED) -> tuple[list, list]:
    """(fit, held out): a seeded shuffle per dataset, so each set is represented in both."""
    fit_part, held = [], []
    by_set: dict[str, list[Record]] = {}
    for r in records:
        by_set.setdefault(r.dataset, []).append(r)
    for name in sorted(by_set):
        rows = list(by_set[name])
        random.Random(f"{seed}:{name}").shuffle(rows)
        cut = round(len(rows) * share)
        held += rows[:cut]
        fit_part += rows[cut:]
    return fit_part, held


def score_raw(scorer, questions: Sequence[MCQ], dataset: str, methods: Sequence[str],
              raw_file: Path, progress: Callable[[int, int], None] = lambda i, n: None) -> dict[str, list[Record]]:
    """Uncalibrated scores of every question by every method; also streamed to ``raw_file``."""
    out: dict[str, list[Record]] = {m: [] for m in methods}
    raw_file.parent.mkdir(parents=True, exist_ok=True)
    with raw_file.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions):
            row = {"id": q.id, "dataset": dataset, "stem": q.stem, "options": list(q.options),
                   "letters": list(q.letters), "answer": q.answer, "scores": {}}
            for m in methods:
                try:
                    res = scorer.score(q, (), m)
                except InputError:  # longer than the context: not a calibration sample
                    break
                row["scores"][m] = res.scores
            else:
                fh.write(json.dumps(row) + "\n")
                for m in methods:
                    out[m].append(Record(q.stem, list(q.options), list(q.letters), row["scores"][m],
                                         q.answer, dataset))
            progress(i + 1, len(questions))
    return out


def read_raw(folder: Path, methods: Sequence[str]) -> dict[str, dict[str, list[Record]]]:
    """dataset -> method -> records, from a previous run's ``raw/*.jsonl``."""
    out: dict[str, dict[str, list[Record]]] = {}
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise InputError("no raw score files (*.jsonl) found", where=str(folder))
    for f in files:
        for n, line in enumerate(f.open(encoding="utf-8"), 1):
            try:
                d = json.loads(line)
                for m in methods:
                    out.setdefault(d["dataset"], {}).setdefault(m, []).append(
                        Record(d["stem"], d["options"], d["letters"], d["scores"][m], d["answer"], d["dataset"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"not a raw score row ({exc.__class__.__name__}: {exc})", where=f"{f}:{n}") from None
    return out


def _accuracy(records: Sequence[Record]) -> float:
    return sum(max(r.scores, key=r.scores.get) == r.answer for r in records) / max(1, len(records))


def choose_method(fit_sets: dict[str, dict[str, list[Record]]], methods: Sequence[str],
                  ) -> tuple[str, dict, dict[str, str], dict]:
    """The method with the best held-out accuracy (ties: cloze, the safer for base models),
    overall and per option kind with at least MIN_PER_KIND held-out questions: (overall,
    its accuracies, kind -> method, kind -> {"n", accuracies})."""
    held = {m: split([r for by in fit_sets.values() for r in by[m]])[1] for m in methods}

    def best(records_by_method: dict[str, list[Record]]) -> tuple[str, dict[str, float]]:
        accuracy = {m: _accuracy(recs) for m, recs in records_by_method.items()}
        return max(methods, key=lambda m: (accuracy[m], m == "cloze")), accuracy

    chosen, accuracy = best(held)
    by_kind, kind_choice = {}, {}
    for kind in OPTION_KINDS:
        mine = {m: [r for r in recs if option_kind(r.options) == kind] for m, recs in held.items()}
        n = len(mine[methods[0]])
        if n >= MIN_PER_KIND:
            by_kind[kind], kind_accuracy = best(mine)
            kind_choice[kind] = {"n": n, **kind_accuracy}
    return chosen, accuracy, by_kind, kind_choice


def majority_kind(records: Sequence[Record]) -> str:
    kinds = [option_kind(r.options) for r in records]
    return max(OPTION_KINDS, key=kinds.count)


def set_measurement(name: str, raw: dict, cal: dict, chance: float, label: str = "") -> dict:
    from probllms_train.bench.stats import wilson_interval

    n = cal["n"]
    correct = round(cal["accuracy"] * n)
    return {"label": label or name, "n": n, "accuracy": cal["accuracy"], "chance": chance,
            "ci95": list(wilson_interval(correct, n)), "ece_raw": raw["ece"], "ece": cal["ece"],
            "brier_raw": raw["brier"], "brier": cal["brier"], "auroc": cal["auroc"],
            "mean_confidence_raw": raw["mean_confidence"], "mean_confidence": cal["mean_confidence"],
            "accuracy_at_coverage": cal["accuracy_at_coverage"]}


def calibrate(fit_sets: dict[str, dict[str, list[Record]]], report_sets: dict[str, dict[str, list[Record]]],
              *, method: str, model: str, out: Path, labels: dict[str, str] | None = None) -> dict:
    """Fit, report, plot; return the record to store. ``*_sets``: dataset -> method -> records."""
    if not fit_sets:  # every set was named for reporting: nothing left to learn from
        raise InputError("no set left to fit on: every --data set is a --report-set; "
                         "keep at least one for fitting")
    methods = METHODS_FOR[method]
    chosen, choice, by_kind, kind_choice = (choose_method(fit_sets, methods) if method == "auto"
                                            else (method, {}, {}, {}))
    if len(set(by_kind.values())) > 1:  # kinds served differently: "the" method is the text one
        chosen = by_kind.get("text", chosen)
    else:
        by_kind = {}
    if not report_sets:  # hold out part of each fit set for the report instead
        held_sets: dict[str, dict[str, list[Record]]] = {}
        kept_sets: dict[str, dict[str, list[Record]]] = {}
        for name, by in fit_sets.items():
            for m, recs in by.items():
                kept, held = split(recs)
                kept_sets.setdefault(name, {})[m] = kept
                held_sets.setdefault(f"{name} (held out)", {})[m] = held
        fit_sets, report_sets = kept_sets, held_sets
    out.mkdir(parents=True, exist_ok=True)
    calibrations, plots = {}, []
    for m in methods:
        records = [r for by in fit_sets.values() for r in by[m]]
        cal = fit(records, m)
        cal.fitted_on = {"datasets": {k: len(v[m]) for k, v in fit_sets.items()}, "n": len(records),
                         "nll": cal.fitted_on["nll"], "date": time.strftime("%Y-%m-%d")}
        sets = {}
        for name, by in report_sets.items():
            recs = by[m]
            if not recs:
                continue
            answers = [r.answer for r in recs]
            raw = calibration_metrics(apply(None, recs), answers)
            calibrated = calibration_metrics(apply(cal, recs), answers)
            chance = sum(1 / len(r.letters) for r in recs) / len(recs)
            sets[name] = set_measurement(name, raw, calibrated, chance, (labels or {}).get(name, ""))
            sets[name]["option_kind"] = majority_kind(recs)
            for tag, metrics in (("raw", raw), ("calibrated", calibrated)):
                png = out / f"reliability_{slug(name)}_{m}_{tag}.png"
                plot_reliability(metrics, f"{model} · {name} · {m} · {tag}", png)
                plots.append(png.name)
        cal.measured = {"sets": sets}
        calibrations[m] = cal.to_json()
    record = {"model": model, "scoring_method": chosen, "method_choice": choice,
              **({"scoring_method_by_kind": by_kind, "method_choice_by_kind": kind_choice} if by_kind else {}),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "calibrations": calibrations}
    atomic_write_json(out / "calibration.json", record)
    atomic_write_text(out / "calibration.md", markdown(record))
    record["plots"] = plots
    return record


def _accuracies(choice: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in choice.items() if k != "n")


def markdown(record: dict) -> str:
    lines = [f"# Calibration of {record['model']}", "",
             f"Scoring method served: **{served_label(record['scoring_method'], record.get('scoring_method_by_kind'))}**"
             + (f" (held-out accuracy {_accuracies(record['method_choice'])})" if record.get("method_choice") else "")]
    for kind, choice in (record.get("method_choice_by_kind") or {}).items():
        lines.append(f"- {kind} options: {record['scoring_method_by_kind'][kind]} "
                     f"(held-out accuracy {_accuracies(choice)}, n={choice['n']})")
    lines.append("")
    for m, cal in record["calibrations"].items():
        fitted = ", ".join(f"{k} ({v})" for k, v in cal["fitted_on"]["datasets"].items())
        lines += [f"## {m}", "", f"Fitted on {fitted}; reported on sets it never saw.", "",
                  "| set | n | accuracy [95% CI] | chance | mean conf. raw → cal. | ECE raw → cal. | Brier raw → cal. | AUROC |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, s in cal["measured"]["sets"].items():
            auroc = "-" if s["auroc"] is None else f"{s['auroc']:.3f}"
            lines.append(f"| {s['label']} | {s['n']} | {s['accuracy']:.3f} [{s['ci95'][0]:.3f}-{s['ci95'][1]:.3f}] "
                         f"| {s['chance']:.3f} | {s['mean_confidence_raw']:.3f} → {s['mean_confidence']:.3f} "
                         f"| {s['ece_raw']:.3f} → **{s['ece']:.3f}** | {s['brier_raw']:.3f} → {s['brier']:.3f} | {auroc} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def save_builtin(model: str, record: dict) -> Path:
    return atomic_write_json(BUILTIN_DIR / f"{model}.json", {k: v for k, v in record.items() if k != "plots"})
