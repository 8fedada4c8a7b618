"""User settings: what the models screen edits and the store persists (one JSON row each).

A dataclass with a table of allowed ranges rather than a pydantic model: building the first
pydantic model costs ~0.3 s of imports, and settings load before the app's first frame.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# key -> (type, lowest, highest); bools and strings have no range
RANGES: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "max_tokens": (int, 16, 2048),
    "context_length": (int, 512, 32768),
    "k": (int, 1, 10),
}

SETTING_LABELS = {
    "temperature": "Temperature",
    "max_tokens": "Max tokens",
    "context_length": "Context length",
    "rag": "Use notes (RAG)",
    "k": "Passages (k)",
}


class SettingError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(f"{SETTING_LABELS.get(key, key)}: {message}")
        self.key = key


def check_value(key: str, value: Any) -> Any:
    """The value converted to the setting's type, or SettingError saying what is allowed."""
    if key == "rag":
        if isinstance(value, bool):
            return value
        raise SettingError(key, "must be true or false")
    if key == "model":
        if isinstance(value, str):
            return value
        raise SettingError(key, "must be a model name or path")
    kind, low, high = RANGES[key]
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value) if kind is float else int(str(value).strip())
    except (TypeError, ValueError):
        raise SettingError(key, f"must be {'a number' if kind is float else 'a whole number'}") from None
    if not low <= number <= high:
        raise SettingError(key, f"must be between {low:g} and {high:g}")
    return number


# The least room worth keeping for notes: one passage of the chunker's size (rag/chunking.py).
MIN_NOTES_TOKENS = 160


@dataclass(frozen=True)
class Settings:
    model: str = ""  # registry name or path; "" = the default model
    temperature: float = 0.2
    max_tokens: int = 192
    context_length: int = 2048
    rag: bool = True
    k: int = 3

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updated(self, values: dict[str, Any]) -> "Settings":
        """A copy with ``values`` applied; SettingError on the first bad one."""
        return replace(self, **{k: check_value(k, v) for k, v in values.items() if k in self.keys()})

    def checked_together(self) -> "Settings":
        """Self, or SettingError when two values fit apart but not together: the notes get half
        the context minus the explanation's tokens (rag/question_notes.py), so Max tokens 2048
        with Context length 512 left them no room, and every answer said "No relevant notes"."""
        room = self.context_length // 2 - self.max_tokens
        if self.rag and room < MIN_NOTES_TOKENS:
            most = self.context_length // 2 - MIN_NOTES_TOKENS
            raise SettingError("max_tokens", f"leaves no room for notes with Context length {self.context_length}: "
                               f"at most {most}, or a longer context, or notes off")
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_rows(cls, rows: dict[str, object]) -> tuple["Settings", list[str]]:
        """Build from stored values; a bad stored value falls back to its default (reported)."""
        settings, problems = cls(), []
        for key, value in rows.items():
            if key not in cls.keys():
                continue
            try:
                settings = settings.updated({key: value})
            except SettingError as exc:
                problems.append(f"setting {key}={value!r} ignored: {exc}")
        return settings, problems


# The banks opened in the app, remembered for the next start. A row of their own in the
# settings table rather than a Settings field: the models screen saves Settings wholesale,
# and a list of paths has no range to check.
BANKS_KEY = "banks"


def bank_paths_from_json(value: str) -> list[str]:
    """The stored list of bank paths; anything else stored there reads as no banks."""
    try:
        paths = json.loads(value)
    except ValueError:
        return []
    return [p for p in paths if isinstance(p, str) and p] if isinstance(paths, list) else []
