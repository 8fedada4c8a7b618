"""The practice session: which question comes next, from the banks and the FSRS schedule.

No Textual here, so the order of questions is plain logic a test can pin down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from probllms_tui.core.errors import ProbLLMsError, one_line
from probllms_tui.core.mcq import MCQ
from probllms_tui.core.readers import EMBEDDER_FORMATS, BankLoad, detect_format, read_bank
from probllms_tui.store import Store

DUE, MISTAKES = "due", "mistakes"


def builtin_bank() -> Path | None:
    try:
        from probllms_tui.bank import builtin_bank_path
    except ImportError:  # the built-in bank is not part of this build
        return None
    path = builtin_bank_path()
    return path if path.exists() else None


@dataclass
class BankFile:
    """One bank file as loaded: its questions' ids (after dropping duplicates of earlier
    banks) and how many items it left out, for the per-bank statistics."""

    path: Path
    ids: list[str]
    skipped: int


@dataclass
class QuestionBank:
    questions: list[MCQ] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (severity, text) for the UI
    files: list[BankFile] = field(default_factory=list)

    # Banks whose reading loads the sentence embedder (Anki decks: seconds of torch import),
    # held back by ``load(defer_slow=True)`` so the app's first frame does not wait for them.
    deferred: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, paths: list[Path], *, defer_slow: bool = False) -> "QuestionBank":
        bank = cls()
        for path in paths:
            try:
                if defer_slow and detect_format(Path(path)) in EMBEDDER_FORMATS:
                    bank.deferred.append(Path(path))
                    continue
                bank.add_file(path, read_bank(path))
            except ProbLLMsError as exc:
                bank.messages.append(("error", f"bank not loaded: {exc}"))
            except Exception as exc:  # e.g. csv.Error on a mangled file: report it, keep going
                bank.messages.append(("error", f"bank not loaded: {path}: {one_line(exc)}"))
        return bank

    def add_file(self, path: Path, loaded: BankLoad) -> BankFile:
        """Add a read bank; questions already present (same id) are not added twice."""
        seen = {q.id for q in self.questions}
        fresh = [q for q in loaded.questions if q.id not in seen]
        self.questions.extend(fresh)
        entry = BankFile(Path(path), [q.id for q in loaded.questions], len(loaded.skipped))
        self.files.append(entry)
        if loaded.skipped:
            self.messages.append(("warning", loaded.summary(Path(path).name)))
        return entry

    def remove_file(self, path: Path) -> BankFile | None:
        """Close a bank: its entry goes, and its questions unless another open bank has them."""
        entry = next((f for f in self.files if Path(f.path) == Path(path)), None)
        if entry is None:
            return None
        self.files.remove(entry)
        still = {i for f in self.files for i in f.ids}
        gone = set(entry.ids) - still
        self.questions = [q for q in self.questions if q.id not in gone]
        return entry

    def by_id(self) -> dict[str, MCQ]:
        return {q.id: q for q in self.questions}


class PracticeSession:
    """Picks questions: due reviews first, then new ones in bank order, then the next due."""

    def __init__(self, bank: QuestionBank, store: Store):
        self.bank = bank
        self.store = store
        self.mode = DUE
        self.current: MCQ | None = None

    def next_question(self) -> MCQ | None:
        index = self.bank.by_id()
        skip = self.current.id if self.current else None
        if self.mode == MISTAKES:
            ids = [i for i in self.store.mistake_ids() if i in index]
        else:
            seen = self.store.seen_ids()
            due = [i for i in self.store.due_ids() if i in index]
            new = [q.id for q in self.bank.questions if q.id not in seen]
            ahead = self._by_due([i for i in seen if i in index])
            ids = due + new + ahead
        ids = [i for i in ids if i != skip] or ids
        self.current = index[ids[0]] if ids else None
        return self.current

    def _by_due(self, ids: list[str]) -> list[str]:
        cards = {i: self.store.card(i) for i in ids}
        return sorted(ids, key=lambda i: (cards[i].due, i))

    def answer(self, letter: str) -> bool:
        """Record the student's answer to the current question; True if right."""
        q = self.current
        assert q is not None and q.answer is not None
        correct = letter == q.answer
        self.store.record_answer(q.id, q.subject, letter, correct, source=q.source)
        return correct
