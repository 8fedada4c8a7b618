"""`bench mcqa`: every model x dataset x RAG setting, scored question by question.

Each run streams its ``samples.jsonl`` line by line (a killed run keeps what it scored) and
the summary is rebuilt from the samples, so Ctrl-C writes the partial results gathered so
far: ``results.json`` says ``"partial": true`` and every table and plot is still drawn.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import read_bank
from probllms_tui.engine.base import score_each
from probllms_tui.rag.question_notes import notes_for_question
from probllms_train.bench.calibration import calibration_metrics
from probllms_train.bench.models import ModelSpec, open_scorer
from probllms_train.bench.report import slug
from probllms_train.bench.stats import check_dataset, mcnemar, percentile, wilson_interval


@dataclass
class Dataset:
    name: str
    path: Path
    questions: list[MCQ]
    skipped: int
    check: dict
    chance: float  # expected accuracy of uniform guessing


@dataclass
class Run:
    spec: ModelSpec
    dataset: Dataset
    rag: bool
    method: str  # how its questions were scored, as reports name it (engine method_label)
    samples_path: Path
    samples: list[dict] = field(default_factory=list)
    threads: list[int] | None = None
    threads_how: str = ""

    @property
    def label(self) -> str:
        return f"{self.spec.name} {'+RAG' if self.rag else ''}".strip()

    def summary(self) -> dict:
        n = len(self.samples)
        correct = sum(s["correct"] for s in self.samples)
        lo, hi = wilson_interval(correct, n)
        subjects: dict[str, list[bool]] = {}
        for s in self.samples:
            subjects.setdefault(s["subject"] or "(none)", []).append(s["correct"])
        lat = [s["latency_ms"] for s in self.samples]
        scored = [s for s in self.samples if s["probabilities"]]
        calibration = calibration_metrics([s["probabilities"] for s in scored], [s["answer"] for s in scored])
        calibration["calibrated"] = bool(scored) and all(s.get("calibrated") for s in scored)
        return {
            "model": self.spec.name, "model_arg": self.spec.arg, "model_kind": self.spec.kind,
            "quantization": self.spec.quantization, "size_bytes": self.spec.size_bytes,
            "dataset": self.dataset.name, "rag": self.rag, "method": self.method,
            "n": n, "n_planned": len(self.dataset.questions), "correct": correct,
            # questions the model could not score (e.g. longer than its context): counted wrong
            "errors": sum(1 for s in self.samples if s.get("error")),
            "accuracy": correct / n if n else None, "ci95": [lo, hi],
            "chance": self.dataset.chance,
            "per_subject": {k: {"n": len(v), "correct": sum(v), "accuracy": sum(v) / len(v)}
                            for k, v in sorted(subjects.items())},
            "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95)},
            "degenerate": self.dataset.check["degenerate"], "flags": self.dataset.check["flags"],
            "threads": self.threads, "threads_how": self.threads_how,
            # ECE (15 bins), Brier, AUROC, accuracy at 50%/80% coverage, reliability bins, on the
            # probabilities the samples show (calibrated when the model has a calibration)
            "calibration": calibration,
            "samples": str(self.samples_path),
        }


def load_datasets(paths: list[Path], limit: int | None, warn=print) -> list[Dataset]:
    out: list[Dataset] = []
    names: set[str] = set()
    for path in paths:
        bank = read_bank(path, keep_duplicates=True)  # missing / unreadable -> InputError naming the file
        if bank.skipped:
            warn(bank.summary(path))
        questions = [q for q in bank.questions if q.answer]
        if not questions:
            raise InputError("no questions with a known answer to score", where=str(path))
        questions = questions[:limit] if limit else questions
        check = check_dataset(questions)
        name = path.stem
        while name in names:
            name += "_"
        names.add(name)
        chance = sum(1 / len(q.options) for q in questions) / len(questions)
        out.append(Dataset(name, path, questions, len(bank.skipped), check.to_json(), chance))
        if check.degenerate:
            warn(f"warning: {path.name} looks degenerate ({'; '.join(check.flags)}); "
                 "its accuracy is flagged, not a measure of skill")
    return out


def _retrieve(retriever, scorer, q: MCQ, k: int):
    # The app's own rule (query, budget, relevance floor), so "+RAG" measures what students get.
    return notes_for_question(retriever, q, k=k, n_ctx=scorer.n_ctx, count_tokens=scorer.count_tokens)


# Questions handed at once to a scorer that packs several into one decode (``packs_questions``:
# the GGUF engine, cloze). Others get one at a time, since a chunk would only delay the samples
# that Ctrl-C keeps. 128 leaves one partly filled decode per ~8 full ones: on the 1.5B model,
# the same 192 ARC-Easy questions scored 1.98x the sequential path in chunks of 32 and 2.27x in
# chunks of 96 (the default model: 2.64x and 2.62x, no change). Ctrl-C then loses at most ~40 s
# of a 1.5B model's work.
SCORE_CHUNK = 128


def _score_chunk(scorer, chunk: list[MCQ], passages: list[list], method: str | None) -> list:
    """ScoreResult or InputError per question. A scorer with ``score_many`` (engine/scoring.py)
    scores the chunk in one backend call; each latency is then the question's share of it."""
    if hasattr(scorer, "score_many"):
        return scorer.score_many(chunk, passages, method)
    return score_each(scorer, chunk, passages, method)


def _score_run(run: Run, scorer, retriever, k: int, progress: bool, method: str | None) -> None:
    from tqdm import tqdm

    run.samples_path.parent.mkdir(parents=True, exist_ok=True)
    questions = run.dataset.questions
    with run.samples_path.open("w", encoding="utf-8") as fh, tqdm(
        total=len(questions), desc=f"{run.label} / {run.dataset.name}", unit="q",
        file=sys.stderr, disable=not progress, leave=False,
    ) as bar:
        step = SCORE_CHUNK if getattr(scorer, "packs_questions", False) else 1
        for start in range(0, len(questions), step):
            chunk = questions[start:start + step]
            notes = [_retrieve(retriever, scorer, q, k) if run.rag else None for q in chunk]
            passages = [n.passages if n is not None else [] for n in notes]
            for q, ps, res in zip(chunk, passages, _score_chunk(scorer, chunk, passages, method)):
                if isinstance(res, InputError):  # e.g. a question longer than the context: count it wrong, say why
                    sample = {"id": q.id, "prediction": None, "answer": q.answer, "correct": False,
                              "probabilities": {}, "subject": q.subject, "latency_ms": 0.0,
                              "error": res.message, "source": q.source}
                else:
                    sample = {"id": q.id, "prediction": res.answer, "answer": q.answer,
                              "correct": res.answer == q.answer, "method": res.method,
                              "probabilities": res.probabilities,
                              "calibrated": res.calibrated, "confidence_band": res.confidence_band,
                              "scores": res.scores, "subject": q.subject,
                              "latency_ms": res.latency_ms, "prompt_tokens": res.prompt_tokens,
                              "source": q.source}
                if run.rag:
                    # exactly as `ask --json` prints its sources
                    from probllms_tui.cli.ask import source_json

                    sample["sources"] = [source_json(p) for p in ps]
                fh.write(json.dumps(sample) + "\n")
                run.samples.append(sample)
            fh.flush()
            bar.update(len(chunk))


def comparisons(runs: list[Run]) -> list[dict]:
    """McNemar for every pair of runs on the same dataset and method: RAG vs no RAG for one
    model, and model vs model under one RAG setting (Q4 vs F16 is one of those)."""
    out = []
    for a, b in combinations(runs, 2):
        if a.dataset.name != b.dataset.name or a.method != b.method:
            continue
        if a.spec.name == b.spec.name and a.rag != b.rag:
            kind = "rag"
        elif a.spec.name != b.spec.name and a.rag == b.rag:
            kind = "models"
        else:
            continue
        by_id = {s["id"]: s["correct"] for s in b.samples}
        paired = [(s["correct"], by_id[s["id"]]) for s in a.samples if s["id"] in by_id]
        if not paired:
            continue
        test = mcnemar([p[0] for p in paired], [p[1] for p in paired])
        n = len(paired)
        out.append({"dataset": a.dataset.name, "kind": kind, "method": a.method,
                    "a": a.label, "b": b.label, "n_paired": n,
                    "accuracy_a": sum(p[0] for p in paired) / n,
                    "accuracy_b": sum(p[1] for p in paired) / n,
                    "mcnemar": test.to_json(), "degenerate": a.dataset.check["degenerate"]})
    return out


def run_mcqa(specs: list[ModelSpec], datasets: list[Dataset], *, out: Path, rag_settings: list[bool],
             method: str | None, retriever=None, k: int = 3, n_ctx: int = 2048,
             models_dir: Path | None = None, progress: bool = True,
             threads: tuple[int, int] | None = None, open_scorer_fn=open_scorer) -> dict:
    """Score everything and write results; on KeyboardInterrupt write partial results and re-raise."""
    from probllms_train.bench.report import write_reports

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: a file is there; the results go in a folder")
    out.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    started = time.time()
    interrupted = False
    try:
        for spec in specs:
            scorer = open_scorer_fn(spec, n_ctx=n_ctx, method=method, models_dir=models_dir,
                                    **({"threads": threads} if threads else {}))
            try:
                used = method or scorer.method_label
                used_threads = list(getattr(scorer, "threads", ()) or []) or None
                for ds in datasets:
                    for rag in rag_settings:
                        folder = out / "runs" / "__".join(slug(x) for x in (spec.name, ds.name, "rag" if rag else "norag"))
                        run = Run(spec, ds, rag, used, folder / "samples.jsonl", threads=used_threads,
                                  threads_how=getattr(scorer, "threads_how", ""))
                        runs.append(run)
                        _score_run(run, scorer, retriever, k, progress, method)
            finally:
                scorer.close()
    except KeyboardInterrupt:
        interrupted = True
    results = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_s": round(time.time() - started, 2), "partial": interrupted,
        "datasets": {d.name: {"path": str(d.path), "n": len(d.questions), "skipped_lines": d.skipped,
                              "chance": d.chance, **d.check} for d in datasets},
        "runs": [r.summary() for r in runs if r.samples],
        "comparisons": comparisons([r for r in runs if r.samples]),
    }
    for r in results["runs"]:
        r["partial"] = r["n"] < r["n_planned"]
    write_reports(results, out)
    if interrupted:
        raise KeyboardInterrupt
    return results
