"""Fixtures of the data builders' tests: the fixture files and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def cli():
    """Invoke `probllms-train data ...` in-process; returns typer's Result."""
    from probllms_train.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["data", *map(str, args)])

    return invoke
