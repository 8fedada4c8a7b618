"""User-facing errors: one line, naming what went wrong and where (file:line)."""

from __future__ import annotations


class ProbLLMsError(Exception):
    """An error caused by the user's input or environment, shown as one line without a traceback.

    CLIs catch it, print ``error: <message>`` to stderr and exit with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InputError(ProbLLMsError):
    """Malformed question, bank row, recipe or other user-provided data."""


class ModelLoadError(ProbLLMsError):
    """A model file that is missing, not GGUF, truncated or too large to load."""


def one_line(text: str, limit: int = 200) -> str:
    """Squash text to a single short line for error messages (never echo 1 MB back)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
