"""Read source rows with their location, and count every row that does not make it.

Every row carries ``where`` ("file:line"), so a malformed row stops the run with
``file:line: what is wrong`` or, with ``skip_bad``, is skipped and counted. Every other row
that is left out (filtered, unusable, deduplicated, leaked) is counted in a ``Tally`` under
a named reason, so the report adds up: rows in = rows out + drops.
"""

from __future__ import annotations

from probllms_tui.core.files import atomic_write_text

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probllms_tui.core.errors import InputError, one_line

MAX_EXAMPLES = 20  # locations kept per reason in reports: enough to find them, not a dump


@dataclass(frozen=True)
class Row:
    data: Any
    where: str  # "file:line" (hub rows: "hub:name/split#index")


@dataclass
class Tally:
    """Counts of dropped rows per reason, with the first few locations of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def drop(self, reason: str, where: str = "") -> None:
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if where and len(ex) < MAX_EXAMPLES:
            ex.append(where)

    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {r: {"count": self.counts[r], "examples": self.examples.get(r, [])}
                for r in sorted(self.counts)}


@dataclass
class BadRowPolicy:
    """Malformed rows: stop (default) or skip and count them under "malformed: ..."."""

    skip_bad: bool
    tally: Tally

    def bad(self, message: str, where: str) -> None:
        if not self.skip_bad:
            raise InputError(message, where=where)
        self.tally.drop(f"malformed: {message}", where)


def _json_list_items(text: str, path: Path) -> Iterator[Row]:
    """Items of a top-level JSON list with the line each starts on (json gives no positions)."""
    dec = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text.startswith("[", i):
        rec, end = _decode(dec, text, i, path)
        yield Row(rec, f"{path}:{text.count(chr(10), 0, i) + 1}")
        return
    i += 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text):
            raise InputError("unterminated JSON list", where=f"{path}:{text.count(chr(10)) + 1}")
        if text[i] == "]":
            return
        line = text.count("\n", 0, i) + 1
        rec, i = _decode(dec, text, i, path)
        yield Row(rec, f"{path}:{line}")


def _decode(dec: json.JSONDecoder, text: str, i: int, path: Path) -> tuple[Any, int]:
    try:
        return dec.raw_decode(text, i)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", where=f"{path}:{exc.lineno}") from None


def read_rows(path: str | Path, policy: BadRowPolicy) -> Iterator[Row]:
    """Rows of a .jsonl, .json (list or object) or .parquet file, each with its location.

    A JSONL line that is not JSON is a bad row (stop or skip+count); a broken .json file
    cannot be split into rows, so it always stops the run.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found" if not p.exists() else "not a file", where=str(p))
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # pyarrow comes with `datasets`; only parquet needs it

        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InputError(f"cannot read parquet ({one_line(exc)})", where=str(p)) from None
        for i, rec in enumerate(table.to_pylist()):
            yield Row(rec, f"{p}#row{i}")
        return
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: a BOM from a Windows editor is not data
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", where=str(p)) from None
    if suffix == ".json":
        yield from _json_list_items(text, p)
        return
    if suffix not in (".jsonl", ".ndjson"):
        raise InputError(f"unknown file type {suffix!r}; use .jsonl, .json or .parquet", where=str(p))
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            policy.bad(f"invalid JSON ({exc.msg})", f"{p}:{lineno}")
            continue
        yield Row(rec, f"{p}:{lineno}")


def hub_rows(name: str, *, config: str | None, split: str, streaming: bool = False,
             data_dir: str | None = None) -> Iterator[Row]:
    """Rows of a hub dataset (cluster only: tests and laptops pass local files with --from)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise InputError("loading hub datasets needs the train extra: pip install -c constraints.txt -e '.[train]'") from None
    try:
        ds = load_dataset(name, config, split=split, streaming=streaming, data_dir=data_dir)
    except Exception as exc:  # network, unknown split/config: one line, no traceback
        raise InputError(f"cannot load hub dataset ({one_line(exc)})",
                         where=f"hub:{name}{'/' + config if config else ''}/{split}") from None
    for i, rec in enumerate(ds):
        yield Row(rec, f"hub:{name}/{split}#{i}")


def dump_line(rec: dict[str, Any]) -> str:
    """One JSONL line; fixed key order and no ASCII escaping, so reruns are byte-identical."""
    return json.dumps(rec, ensure_ascii=False) + "\n"


def write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> None:
    # a crash mid-write never leaves a half file under the real name
    atomic_write_text(path, "".join(dump_line(rec) for rec in records))
