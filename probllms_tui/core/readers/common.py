"""What every bank reader returns: the questions and the items it left out, with where and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from probllms_tui.core.mcq import MCQ

MALFORMED = "malformed"


@dataclass(frozen=True)
class Skip:
    """One item a reader left out.

    ``line`` is the 1-based line the item starts on, or ``"#<id>"`` for formats without lines
    (an Anki note id). ``kind`` groups skips for the summary ("shortanswer question",
    "multi-answer multichoice", "malformed"); ``reason`` says what exactly was wrong.
    """

    line: int | str
    reason: str
    kind: str = MALFORMED

    # Callers written before skips had a kind use them as (line, reason) pairs.
    def __iter__(self):
        return iter((self.line, self.reason))

    def __getitem__(self, index: int):
        return (self.line, self.reason)[index]

    def __len__(self) -> int:
        return 2

    def where(self, path: Path | str) -> str:
        return f"{path}{self.line}" if isinstance(self.line, str) else f"{path}:{self.line}"


@dataclass
class BankLoad:
    questions: list[MCQ] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def skip(self, line: int | str, reason: str, kind: str = MALFORMED) -> None:
        self.skipped.append(Skip(line, reason, kind))

    def skipped_by_kind(self) -> Counter:
        return Counter(s.kind for s in self.skipped)

    def summary(self, path: Path | str) -> str:
        msg = f"{path}: loaded {len(self.questions)} questions"
        malformed = [s for s in self.skipped if s.kind == MALFORMED]
        if malformed:
            lines = ", ".join(str(s.line) for s in malformed[:10])
            more = "…" if len(malformed) > 10 else ""
            msg += f", skipped {len(malformed)} malformed lines ({lines}{more})"
        others = Counter(s.kind for s in self.skipped if s.kind != MALFORMED)
        if others:
            msg += ", left out " + ", ".join(f"{n} {kind}" for kind, n in sorted(others.items()))
        return msg
