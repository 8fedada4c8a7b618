"""The choice lists users pick from on the command line, as Enums typer renders in --help and
checks before a command runs (one list each, instead of tuples checked by hand per command)."""

from __future__ import annotations

from enum import Enum


class Method(str, Enum):
    """How a model scores the options (engine/base.py)."""

    letter = "letter"
    cloze = "cloze"


class CalibrationMethod(str, Enum):
    """What `bench calibrate` fits; auto: both, and the better one by held-out accuracy."""

    auto = "auto"
    letter = "letter"
    cloze = "cloze"


METHODS = tuple(m.value for m in Method)


def value(choice: Enum | str | None) -> str | None:
    """The plain string a choice stands for (None stays None)."""
    return choice.value if isinstance(choice, Enum) else choice
