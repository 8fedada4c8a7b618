"""Run a CLI in this process, as its console script would, and capture what a user sees.

In-process rather than a subprocess per row: each interpreter start costs a second or more on
a busy 2-core machine, and the bad-input table has dozens of rows. The code path is the same
one `probllms-tui` / `probllms-train` take: the typer app inside ``run_cli``.
"""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def run(program: str, argv: list[str], stdin: bytes | None = None) -> Outcome:
    from probllms_tui.cli.errors import run_cli

    if program == "probllms-tui":
        from probllms_tui.cli.main import app
    else:
        from probllms_train.cli import app
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run_cli(app, args=argv, prog_name=program)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = old_stdin
    return Outcome(code, out.getvalue(), err.getvalue())
