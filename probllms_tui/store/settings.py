"""User settings: what the models screen edits and the store persists (one JSON row each)."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError


class Settings(BaseModel):
    model: str = ""  # registry name or path; "" = the default model
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(192, ge=16, le=2048)
    context_length: int = Field(2048, ge=512, le=32768)
    rag: bool = True
    k: int = Field(3, ge=1, le=10)

    @classmethod
    def from_rows(cls, rows: dict[str, object]) -> tuple["Settings", list[str]]:
        """Build from stored values; a bad stored value falls back to its default (reported)."""
        good: dict[str, object] = {}
        problems: list[str] = []
        for key, value in rows.items():
            if key not in cls.model_fields:
                continue
            try:
                cls.model_validate({key: value})
                good[key] = value
            except ValidationError as exc:
                problems.append(f"setting {key}={value!r} ignored: {exc.errors()[0]['msg']}")
        return cls.model_validate(good), problems


SETTING_LABELS = {
    "temperature": "Temperature",
    "max_tokens": "Max tokens",
    "context_length": "Context length",
    "rag": "Use notes (RAG)",
    "k": "Passages (k)",
}
