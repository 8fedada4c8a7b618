"""`probllms-tui bank show` and `probllms-tui export`: banks in, mistakes out.

`bank show` prints what the readers make of a file, so a teacher or student sees which
questions will be practised and why the others were left out. `export` writes questions
from the answer history (all answered, or the latest-answer-wrong ones) as GIFT, CSV or an
Anki package; the history is read from a copy, so nothing stored is changed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from probllms_tui.core.errors import InputError, one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import BankLoad, read_bank

bank_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

EXPORT_FORMATS = ("apkg", "csv", "gift")


def question_json(q: MCQ) -> dict:
    return {"stem": q.stem, "options": list(q.options), "answer": q.answer, "topic": q.subject,
            "explanation": q.explanation or None, "source": q.source, "id": q.id}


def load_summary(path: Path, load: BankLoad) -> str:
    line = f"{path}: read {len(load.questions)} question(s)"
    if load.skipped:
        counts = load.skipped_by_kind()
        line += f"; skipped {len(load.skipped)}: " + ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    return line


def _show_text(q: MCQ) -> str:
    head = f"{q.source}" + (f"  [{q.subject}]" if q.subject else "")
    body = [head, q.stem] + [f"  {letter}. {option}{'   <- answer' if letter == q.answer else ''}"
                             for letter, option in zip(q.letters, q.options)]
    if q.explanation:
        body.append(f"  explanation: {q.explanation}")
    return "\n".join(body) + "\n"


@bank_app.command("show")
def show(
    files: list[Path] = typer.Argument(..., help="Bank files: .xml .gift .aiken .txt .apkg .tsv .jsonl .csv"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object a line."),
    seed: int = typer.Option(0, "--seed", help="Anki decks: seed of the option order."),
) -> None:
    """Print the questions a bank gives; what was left out, and why, goes to stderr."""
    for path in files:
        load = read_bank(path, seed=seed)
        for q in load.questions:
            print(json.dumps(question_json(q), ensure_ascii=False) if as_json else _show_text(q))
        for skip in load.skipped:
            print(f"{skip.where(path)}: skipped ({skip.kind}): {skip.reason}", file=sys.stderr)
        print(load_summary(path, load), file=sys.stderr)


def bank_paths_for_export(store, extra: list[Path]) -> list[Path]:
    from probllms_tui.app.session import builtin_bank

    paths = [p for p in [builtin_bank()] if p is not None]
    paths += [Path(p) for p in store.load_bank_paths()]
    paths += list(extra)
    unique: list[Path] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


def run_export(mistakes: bool, fmt: str, out: Path, banks: list[Path], data_dir: Path | None) -> int:
    """Write the export; returns the exit code (1 when there is nothing to export)."""
    from probllms_tui.app.session import QuestionBank
    from probllms_tui.core.paths import data_dir as resolve_data_dir
    from probllms_tui.store import Store

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if not out.parent.is_dir():
        raise InputError("the folder to write into does not exist", where=str(out))
    for path in banks:
        if not path.exists():
            raise InputError("file not found", where=str(path))
    import sqlite3

    try:
        store = Store.read_only(resolve_data_dir(data_dir))
    except sqlite3.DatabaseError as exc:
        raise InputError(one_line(exc)) from None
    try:
        ids = store.mistake_ids() if mistakes else store.answered_ids()
        bank_paths = bank_paths_for_export(store, banks)
    finally:
        store.close()
    bank = QuestionBank.load(bank_paths)
    for severity, text in bank.messages:
        if severity == "error":
            print(f"warning: {text}", file=sys.stderr)
    index = bank.by_id()
    questions = [index[i] for i in ids if i in index]
    missing = len(ids) - len(questions)
    what = "mistakes" if mistakes else "answered questions"
    if missing:
        print(f"warning: {missing} of {len(ids)} {what} are in no bank read here "
              f"({len(bank_paths)} bank(s)); pass their bank with --bank FILE", file=sys.stderr)
    if not questions:
        print(f"nothing to export: no {what} found", file=sys.stderr)
        return 1
    left_out: list[tuple[MCQ, str]] = []
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "gift":
            from probllms_tui.core.writers.gift import write_gift

            text, left_out = write_gift(questions)
            tmp.write_text(text, encoding="utf-8")
        elif fmt == "csv":
            from probllms_tui.core.writers.csv_bank import write_csv

            tmp.write_text(write_csv(questions), encoding="utf-8")
        else:
            from probllms_tui.core.writers.apkg import write_apkg

            _, left_out = write_apkg(questions, tmp, "mistakes" if mistakes else "answered")
        os.replace(tmp, out)  # a half-written export never replaces the previous one
    except OSError as exc:
        raise InputError(f"cannot write ({one_line(exc.strerror or exc)})", where=str(out)) from None
    finally:
        tmp.unlink(missing_ok=True)
    for q, why in left_out:
        print(f"{q.source or q.id}: not exported: {why}", file=sys.stderr)
    print(f"{out}: wrote {len(questions) - len(left_out)} {what} as {fmt}", file=sys.stderr)
    return 0


def export(
    mistakes: Optional[bool] = typer.Option(None, "--mistakes/--all",
                                            help="Only questions whose latest answer was wrong, or every answered one."),
    fmt: Optional[str] = typer.Option(None, "--format", help="apkg, csv or gift (default: from --out's extension)."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    bank: Optional[list[Path]] = typer.Option(None, "--bank", help="Bank holding answered questions; repeatable."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where answers live ($PROBLLMS_HOME)."),
) -> None:
    """Export answered questions (or only the mistakes) to Anki, CSV or GIFT."""
    if mistakes is None:
        raise InputError("choose what to export: --mistakes or --all")
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    code = run_export(mistakes, fmt, out, list(bank or []), data_dir)
    if code:
        raise typer.Exit(code)
