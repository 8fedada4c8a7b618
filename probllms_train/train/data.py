"""Preference pairs for DPO: read, check, render with THE prompt format, split.

Prompts reach the model exactly as the TUI serves them: a raw question is rendered with
``render_open_prompt`` and answers with ``response_text``; rows already rendered (by
``probllms-train data preference``) pass unchanged, so rendering twice is impossible.
"""

from __future__ import annotations

from probllms_tui.core.files import atomic_write_text

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from probllms_tui.core.errors import InputError
from probllms_tui.core.prompt import render_open_prompt, response_text

from probllms_train.train.config import DataSection

_ANSWER_SLOT = render_open_prompt("x").rsplit("x", 1)[1]  # "\n\nAnswer:" as the one formatter writes it


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    source: str | None = None


def render_pair(prompt: str, chosen: str, rejected: str) -> tuple[str, str, str]:
    if not prompt.rstrip().endswith(_ANSWER_SLOT.strip()):
        prompt = render_open_prompt(prompt)
    # responses follow the prompt after one space, as response_text writes them
    fix = lambda r: r if r.startswith(" ") and not r.startswith("  ") else response_text(r)  # noqa: E731
    return prompt, fix(chosen), fix(rejected)


def read_pairs(path: Path) -> list[PreferencePair]:
    """All rows or an ``InputError`` at file:line: a training set never drops rows silently."""
    pairs: list[PreferencePair] = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON ({exc.msg})", where=where) from None
            if not isinstance(row, dict):
                raise InputError("a preference row must be a JSON object", where=where)
            for key in ("prompt", "chosen", "rejected"):
                if not isinstance(row.get(key), str) or not row[key].strip():
                    raise InputError(f"missing or empty {key!r} (need prompt/chosen/rejected)", where=where)
            if row["chosen"].strip() == row["rejected"].strip():
                raise InputError("chosen and rejected are identical", where=where)
            prompt, chosen, rejected = render_pair(row["prompt"], row["chosen"], row["rejected"])
            pairs.append(PreferencePair(prompt, chosen, rejected, row.get("source")))
    if not pairs:
        raise InputError("no preference pairs", where=str(path))
    return pairs


def _in_test(prompt: str, fraction: float) -> bool:
    """Split by a hash of the prompt: stable across runs, orderings and recipes, and a prompt
    never lands on both sides."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def load_splits(data: DataSection) -> tuple[list[PreferencePair], list[PreferencePair]]:
    train = read_pairs(Path(data.train))
    if data.test:
        test = read_pairs(Path(data.test))
    else:
        test = [p for p in train if _in_test(p.prompt, data.test_fraction)]
        train = [p for p in train if not _in_test(p.prompt, data.test_fraction)]
    test_prompts = {p.prompt for p in test}
    train = [p for p in train if p.prompt not in test_prompts]  # no leakage, whatever the files say
    if data.sources is not None:
        if any(p.source is None for p in train):
            raise InputError("data.sources is set but some train rows have no 'source' field", where=data.train)
        train = [p for p in train if p.source in set(data.sources)]
    if data.max_train_pairs:
        train = train[: data.max_train_pairs]
    if not train:
        raise InputError("no training pairs left after the split and source filter", where=data.train)
    if not test:
        raise InputError("the test split is empty (raise data.test_fraction or give data.test)", where=data.train)
    return train, test


def to_dataset(pairs: list[PreferencePair], cache_dir: Path):
    """A file-backed ``datasets.Dataset``: TRL's tokenization and precomputed reference
    log-probs are then cached on disk beside it and reused by later runs on the same data."""
    from datasets import load_dataset

    cache_dir.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    blob = "\n".join(json.dumps(r, sort_keys=True) for r in rows)
    name = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"pairs-{name}.jsonl"
    if not path.exists():
        atomic_write_text(path, blob + "\n")
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache_dir / "hf"))
