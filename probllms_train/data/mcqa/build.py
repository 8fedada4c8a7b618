"""`probllms-train data mcqa`: source rows -> MCQ JSONL (seed or structured) + report."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probllms_tui.core.files import atomic_write_json
from probllms_tui.core.errors import InputError
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import mcq_to_seed_record, mcq_to_structured_record, read_bank

from probllms_train.data.mcqa.check import CheckResult, check_mcqs
from probllms_train.data.mcqa.sources import REPORT_TOTALS, SOURCES, NoAnswer
from probllms_train.data.rows import BadRowPolicy, Row, Tally, hub_rows, read_rows, write_jsonl

FORMATS = {"seed": mcq_to_seed_record, "structured": mcq_to_structured_record}


@dataclass
class McqaBuild:
    questions: list[MCQ]
    where: list[str]
    rows_read: int
    drops: Tally
    check: CheckResult


ALL = "all"


def hub_splits(source: str, split: str | None) -> tuple[str, ...]:
    """The hub splits ``--split`` names: one, or every split of the source for ``all``."""
    spec = SOURCES[source]
    if split is None:
        raise InputError(f"give --split ({', '.join(spec.splits)} or all) to read {source} from the hub, "
                         "or --from FILE")
    if split == ALL:
        return spec.splits
    if split not in spec.splits:
        raise InputError(f"split {split!r} is not one of {', '.join(spec.splits)} (or all) for {source}")
    return (split,)


def _rows(source: str, split: str | None, from_path: Path | None, policy: BadRowPolicy) -> Iterator[Row]:
    spec = SOURCES[source]
    if from_path is not None:
        yield from read_rows(from_path, policy)
        return
    for one in hub_splits(source, split):
        for config in spec.hub_configs:
            for row in hub_rows(spec.hub_name, config=config, split=one):
                if isinstance(row.data, dict) and not row.data.get("subject"):
                    row.data["subject"] = config  # per-subject MMLU configs name the subject
                yield row


def report_total_check(source: str, rows_read: int) -> dict[str, Any]:
    """What ``--split all`` read against the progress report's count for the source."""
    expected = REPORT_TOTALS.get(source)
    return {"rows_read": rows_read, "report_total": expected,
            "difference": None if expected is None else rows_read - expected,
            "matches_report": expected is not None and rows_read == expected}


def row_rng(seed: int, row: Any) -> random.Random:
    """One generator per row, seeded by the row's content: a row gets the same options
    whatever --limit or row order is used (str seeds are hashed stably by `random`)."""
    return random.Random(f"{seed}\x00{row!r}")


def _stem_key(stem: str) -> str:
    return " ".join(stem.casefold().split())


def build_mcqa(source: str, split: str | None, *, from_path: Path | None = None, seed: int = 0,
               limit: int | None = None, skip_bad: bool = False,
               exclude: list[Path] = ()) -> McqaBuild:
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    if from_path is None:
        hub_splits(source, split)  # a bad --split is an error before any download
    drops = Tally()
    policy = BadRowPolicy(skip_bad, drops)
    spec = SOURCES[source]
    # Questions of an evaluation set (any bank format) that must not appear in this one.
    excluded = {_stem_key(q.stem) for path in exclude for q in read_bank(path, keep_duplicates=True).questions}
    questions: list[MCQ] = []
    where: list[str] = []
    n_yielded = 0
    for row in _rows(source, split, from_path, policy):
        n_yielded += 1
        if limit is not None and len(questions) >= limit:
            drops.drop("beyond --limit", row.where)
            continue
        try:
            q = spec.convert(row.data, row_rng(seed, row.data), row.where)
        except NoAnswer as exc:
            drops.drop(str(exc), row.where)
            continue
        except InputError as exc:
            policy.bad(exc.message, row.where)
            continue
        if _stem_key(q.stem) in excluded:
            drops.drop("question is in an --exclude set", row.where)
            continue
        questions.append(q)
        where.append(row.where)
    # Lines that were not JSON never became rows; count them as read so read = written + dropped.
    n_read = n_yielded + sum(c for r, c in drops.counts.items() if r.startswith("malformed: invalid JSON"))
    if not questions:
        raise InputError(f"no usable {source} rows (drops: {dict(drops.counts)})",
                         where=str(from_path) if from_path else f"hub:{spec.hub_name}")
    return McqaBuild(questions, where, n_read, drops, check_mcqs(questions, where=where))


def write_mcqa(build: McqaBuild, out: Path, fmt: str, meta: dict[str, Any]) -> Path:
    """Writes OUT and OUT's report (OUT with suffix .report.json); returns the report path."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use seed or structured")
    write_jsonl(out, [FORMATS[fmt](q) for q in build.questions])
    report_path = out.with_name(out.stem + ".report.json")
    atomic_write_json(report_path, {
        **meta, "rows_read": build.rows_read, "written": len(build.questions),
        "dropped": build.drops.total(), "drops": build.drops.as_dict(),
        "check": {"degenerate": build.check.degenerate, "findings": build.check.findings,
                  "stats": build.check.stats},
    })
    return report_path


def check_file(path: Path, **thresholds: Any) -> tuple[CheckResult, int]:
    """Check an existing MCQ file (any bank format); returns the result and skipped rows."""
    load = read_bank(path, keep_duplicates=True)
    where = [q.source for q in load.questions]
    return check_mcqs(load.questions, where=where, **thresholds), len(load.skipped)
